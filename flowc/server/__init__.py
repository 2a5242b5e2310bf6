"""The server: ``flowc serve`` (runs over HTTP) and ``flowc worker`` (the queue).

This package sits on the top floor, beside the commands: it may use the
runtime, the compiler and the Python API, and nothing below imports it.

- ``catalog`` loads the flows a server offers (files and directories).
- ``schemas`` turns flowc types into JSON Schema 2020-12 and writes the
  server's OpenAPI 3.1 document.
- ``auth`` reads bearer tokens and checks a request's.
- ``events`` is the hook sink that fans a run's events out to its
  Server-Sent Events subscribers, each with a bounded buffer.
- ``worker`` claims queued runs from the store and executes them, renewing
  their leases (in ``flowc serve`` on SQLite, and in ``flowc worker``).
- ``wakeup`` waits for PostgreSQL's ``NOTIFY`` so that idle workers start a
  queued run at once.
- ``app`` is the ASGI application (Starlette, on hypercorn's trio worker).
- ``messages`` holds every text the server says to its users.
"""
