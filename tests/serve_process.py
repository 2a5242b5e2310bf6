"""`flowc serve` as a child process, for the tests that talk to it over HTTP.

`start_serve` writes the flows and the token file into a directory, starts the
console command on a free port with a SQLite store there (or the one given), and
returns once `/healthz` answers; `stop_serve` ends it. The modules that test the
server, its signals, its metrics and traces, and its web UI all start it this way.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.cli_process import ROOT, child_environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Served:
    """A running `flowc serve`: its URL, process and log, and a client with the token."""

    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path, token: str) -> None:
        self.url = url
        self.process = process
        self.log = log
        self.store = ""
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30, trust_env=False
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_serve(
    root: Path,
    flows: str,
    token: str,
    env: dict[str, str],
    *extra: str,
    store: str | None = None,
    tokens_file: str | None = None,
    served_type: type[Served] = Served,
) -> Served:
    """Serve ``flows`` from ``root`` (``tokens_file``: the token file's text, default
    the token on a line; ``served_type``: a subclass with a module's own helpers);
    fails with the server's output if it does not come up."""
    (root / "flows.flow").write_text(flows)
    (root / "tokens").write_text(tokens_file if tokens_file is not None else f"{token}\n")
    port = free_port()
    log = root / "serve.log"
    store = store or f"sqlite:///{root / 'runs.db'}"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowc.cli", "serve", str(root / "flows.flow"),
             "--store", store, "--port", str(port),
             "--token-file", str(root / "tokens"), "--grace", "1", *extra],
            stdout=sink, stderr=subprocess.STDOUT, env=child_environment(env), cwd=ROOT,
        )  # fmt: skip
    served = served_type(f"http://127.0.0.1:{port}", process, log, token)
    served.store = store
    deadline = time.monotonic() + 60
    while True:
        try:
            if served.client.get("/healthz").status_code == 200:
                return served
        except httpx.TransportError:
            pass
        assert process.poll() is None, served.output()
        assert time.monotonic() < deadline, served.output()
        time.sleep(0.1)


def stop_serve(served: Served) -> None:
    served.process.terminate()
    served.process.wait(timeout=30)
    served.client.close()
