"""Shared pytest configuration.

httpbin (behind the ``pytest-httpbin`` plugin) logs a warning at import when
the optional flasgger package is missing; it is irrelevant to these tests, so
its app logger is quietened before the plugin imports it.
"""

import logging

logging.getLogger("httpbin.core").setLevel(logging.ERROR)

pytest_plugins = ["tests.http_fixtures", "pytest_httpbin.plugin"]
