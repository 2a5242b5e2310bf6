"""The flowc demo API: a local, deterministic HTTP server to run flows against.

`start_demo_server()` runs it in a subprocess for the length of a `with` block and
yields its base URL; `python -m flowc.demo --port 8081` runs it by hand. The endpoints
are listed in `flowc.demo.server`.
"""

from flowc.demo.launcher import DemoServerError, start_demo_server

__all__ = ["DemoServerError", "start_demo_server"]
