"""`start_demo_server()`: run the demo API in a child process for the length of a `with`.

The server runs in its own interpreter (`python -m flowc.demo --port 0`) so that it does
not compete with the client under test for the GIL: a benchmark then measures the
client, not the two sharing one core. The child binds its socket before it prints the
`listening on URL` line; the parent reads that line (with a deadline), then waits for
`GET /_health` to answer, and yields the base URL. On exit it sends SIGTERM (uvicorn
shuts down gracefully), waits, and kills the child if it lingers. The child also stops
by itself when its stdin pipe closes, so even a parent killed with SIGKILL leaves no
server behind.

The child's log (stderr) goes to a temporary file that is quoted in the error message
when the server fails to start.
"""

from __future__ import annotations

import http.client
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

READY_PREFIX = "flowc demo server listening on "
STOP_GRACE_SECONDS = 5.0


class DemoServerError(RuntimeError):
    """The demo server could not be started."""


@contextmanager
def start_demo_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    startup_timeout: float = 20.0,
    log_level: str = "warning",
) -> Iterator[str]:
    """Run the demo API in a subprocess; yield its base URL, e.g. `http://127.0.0.1:41234`."""
    command = [
        sys.executable, "-m", "flowc.demo", "--host", host, "--port", str(port),
        "--log-level", log_level, "--exit-on-stdin-eof",
    ]  # fmt: skip
    with tempfile.TemporaryFile(mode="w+b") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=child_environment(),
        )
        try:
            deadline = time.monotonic() + startup_timeout
            url = read_ready_url(process, deadline, log)
            wait_until_healthy(url, process, deadline, log)
            yield url
        finally:
            stop(process)


def child_environment() -> dict[str, str]:
    """Our environment, with the directory holding `flowc` first on PYTHONPATH."""
    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def read_ready_url(process: subprocess.Popen[bytes], deadline: float, log: IO[bytes]) -> str:
    """The URL from the child's first stdout line, waiting at most until `deadline`."""
    assert process.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=max(0.0, deadline - time.monotonic())).decode().strip()
    except queue.Empty:
        raise DemoServerError(failure("did not report its address in time", log)) from None
    if not line.startswith(READY_PREFIX):
        raise DemoServerError(failure(f"exited with status {process.wait()}", log))
    return line.removeprefix(READY_PREFIX)


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], deadline: float, log: IO[bytes]
) -> None:
    """Poll `GET /_health` (without any proxy) until it answers 200 or `deadline` passes."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    while True:
        remaining = deadline - time.monotonic()
        if process.poll() is not None:
            raise DemoServerError(failure(f"exited with status {process.returncode}", log))
        if remaining <= 0:
            raise DemoServerError(failure("did not answer /_health in time", log))
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=remaining)
        try:
            connection.request("GET", "/_health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)


def failure(what: str, log: IO[bytes]) -> str:
    log.seek(0)
    output = log.read().decode(errors="replace").strip()[-4000:]
    return f"flowc demo server {what}" + (f":\n{output}" if output else "")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the child gracefully (SIGTERM, stdin EOF), killing it if it does not exit."""
    if process.poll() is None:
        process.terminate()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
