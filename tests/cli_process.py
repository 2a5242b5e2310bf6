"""Running the real `flowc` console script in a child process, and what it cost.

`run_flowc(args, env=..., timeout=...)` starts `python -m flowc.cli ARGS` (the console
script's code path: `flowc.launch` first) with the repository on `PYTHONPATH` and no
proxy variables, watches its `VmHWM` until it ends so that the child's own peak RSS is known
(`getrusage(RUSAGE_CHILDREN)` would give the largest child of the whole session, and
`wait4`'s `ru_maxrss` includes the RSS the forked child had before its exec), and
returns a `Finished`: exit code, stdout, stderr, wall time and peak RSS in MiB. A child
still running at `timeout` is killed (and the result says so), so a hang fails a test
instead of stalling the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str
    wall: float
    peak_rss_mib: float
    killed: bool

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("flowc: error:")]


def child_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Our environment without proxy variables, with this checkout first on PYTHONPATH."""
    environment = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), environment.get("PYTHONPATH", "")])
    )
    environment.update(extra or {})
    return environment


def start_flowc(
    args: Sequence[str], env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> tuple[subprocess.Popen[bytes], object, object]:
    """Start `flowc ARGS`; its stdout and stderr go to temporary files (see `finish`)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
    err = tempfile.TemporaryFile()  # noqa: SIM115 - closed by finish()
    process = subprocess.Popen(
        [sys.executable, "-m", "flowc.cli", *args],
        stdout=out,
        stderr=err,
        stdin=subprocess.DEVNULL,
        env=child_environment(env),
        cwd=cwd,
    )
    return process, out, err


def finish(
    started: tuple[subprocess.Popen[bytes], object, object], timeout: float, began: float
) -> Finished:
    """Wait for a child from `start_flowc` (killing it at `timeout`) and collect it."""
    process, out, err = started
    killed = threading.Event()

    def kill() -> None:
        killed.set()
        process.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    peak_kib = 0
    try:
        while True:
            peak_kib = max(peak_kib, _high_water_kib(process.pid))
            pid, status, _ = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.005)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - began
    texts = []
    for stream in (out, err):
        stream.seek(0)  # type: ignore[attr-defined]
        texts.append(stream.read().decode("utf-8", "replace"))  # type: ignore[attr-defined]
        stream.close()  # type: ignore[attr-defined]
    return Finished(process.returncode, texts[0], texts[1], wall, peak_kib / 1024, killed.is_set())


def _high_water_kib(pid: int) -> int:
    """The peak RSS of the process's memory since its `exec` (`VmHWM`), in KiB.

    Not `ru_maxrss` from `wait4`: Linux carries the RSS a child had *before* its exec
    into it, so every child of a big pytest process would report pytest's size.
    VmHWM belongs to the memory of the running program only, and never decreases,
    so reading it while the child runs gives its peak.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def run_flowc(
    args: Sequence[str],
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
) -> Finished:
    """Run `flowc ARGS` to the end (at most `timeout` seconds)."""
    began = time.monotonic()
    return finish(start_flowc(args, env, cwd), timeout, began)
