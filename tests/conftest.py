"""Shared pytest configuration.

httpbin (behind the ``pytest-httpbin`` plugin) logs a warning at import when
the optional flasgger package is missing; it is irrelevant to these tests, so
its app logger is quietened before the plugin imports it.

Durable runs are journaled under ``$XDG_STATE_HOME`` by default, so the whole
session gets a state directory of its own.
"""

import atexit
import logging
import os
import shutil
import tempfile

logging.getLogger("httpbin.core").setLevel(logging.ERROR)

# Durable runs go to $XDG_STATE_HOME/flowc/runs.db by default: the tests (and the
# processes they start, which inherit the environment) must never write to the
# state directory of whoever runs them.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="flowc-test-state-")
atexit.register(shutil.rmtree, os.environ["XDG_STATE_HOME"], True)
os.environ.pop("FLOWC_STORE", None)

pytest_plugins = ["tests.http_fixtures", "tests.pg_fixture", "pytest_httpbin.plugin"]
