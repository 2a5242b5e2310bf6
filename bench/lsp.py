"""Language-server latency: diagnostics after an edit, and completion.

    python bench/lsp.py            # prints a table
    python bench/lsp.py --runs 40  # more samples
    python bench/lsp.py --lines 800000 --runs 3   # a file near the 32 MiB source limit

The server is driven the way an editor drives it: ``flowc lsp`` in a child
process, JSON-RPC over its stdin/stdout, with pytest-lsp's client (the test
driver in ``tests/lsp_session.py``).  The document is a generated 1,000-line
file of realistic flows (``bench/compile.py``'s generator) that imports a
second file holding its types and service.

Measured, from the client's side (so pipes and JSON encoding are included):

* didChange -> publishDiagnostics: an incremental edit is sent and the clock
  stops at the ``publishDiagnostics`` carrying that version.  Edits are spread
  over the file; half change a line (typing a character), half insert a line
  (which moves every declaration below it).  The server's debounce (100 ms)
  is part of the figure.  Target <= 300 ms.
* completion: round trip of a ``textDocument/completion`` request, at a
  statement start, after ``step.`` and inside an expression; and once more
  right after an edit, while the check it triggered is running.
  Target <= 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compile import HEADER, generated_source  # noqa: E402  (bench/ is on sys.path)
from lsprotocol import types  # noqa: E402

from tests.lsp_session import LspSession  # noqa: E402

LINES = 1_000
WAIT = 20.0  # seconds to wait for diagnostics; main() raises it for large files


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def write_project(directory: Path, lines: int = LINES) -> Path:
    (directory / "lib.flow").write_text(HEADER, encoding="utf-8")
    source = generated_source(lines).replace(HEADER, 'import "lib.flow"\n')
    main = directory / "big.flow"
    main.write_text(source, encoding="utf-8")
    return main


def edit_lines(text: str, runs: int) -> list[int]:
    """Lines spread over the file that start with indentation (safe to edit)."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.startswith("    ") and i > 5]
    step = max(1, len(candidates) // runs)
    return candidates[::step][:runs]


def time_diagnostics(session: LspSession, uri: str, runs: int) -> tuple[list[float], list[float]]:
    within, inserted = [], []
    for number, line in enumerate(edit_lines(session.texts[uri], runs)):
        insert_line = number % 2 == 1
        here = types.Position(line=line, character=0)
        since = session.mark()
        started = time.perf_counter()
        version = session.edit(uri, here, here, "\n" if insert_line else " ")
        session.wait_for_diagnostics(
            uri, lambda p, v=version: p.version == v, since=since, timeout=WAIT
        )
        elapsed = (time.perf_counter() - started) * 1000
        (inserted if insert_line else within).append(elapsed)
        time.sleep(0.05)
    return within, inserted


def server_peak_rss_mib(session: LspSession) -> float | None:
    """The server process's peak resident memory (Linux: VmHWM), if it can be read."""
    server = session.client._server  # pygls keeps the child process here
    if server is None:
        return None
    try:
        status = Path(f"/proc/{server.pid}/status").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def time_completion(
    session: LspSession, uri: str, runs: int, where: Callable[[list[str], int], types.Position]
) -> tuple[list[float], int]:
    lines = session.texts[uri].split("\n")
    timings, count = [], 0
    for number in range(runs):
        position = where(lines, number)
        started = time.perf_counter()
        items = session.completion(uri, position)
        timings.append((time.perf_counter() - started) * 1000)
        count = len(items)
    return timings, count


def statement_start(lines: list[str], number: int) -> types.Position:
    rows = [i for i, line in enumerate(lines) if line.strip().startswith("let score")]
    return types.Position(line=rows[number % len(rows)], character=4)


def after_dot(lines: list[str], number: int) -> types.Position:
    rows = [i for i, line in enumerate(lines) if line.strip().startswith("let name = customer_")]
    row = rows[number % len(rows)]
    return types.Position(line=row, character=lines[row].index(".body") + 1)


def in_expression(lines: list[str], number: int) -> types.Position:
    rows = [i for i, line in enumerate(lines) if line.strip().startswith("assert save_")]
    row = rows[number % len(rows)]
    return types.Position(line=row, character=lines[row].index("save_"))


def completion_while_checking(session: LspSession, uri: str, runs: int) -> list[float]:
    timings = []
    lines = session.texts[uri].split("\n")
    for number in range(runs):
        row = statement_start(lines, number + 3).line
        here = types.Position(line=row, character=0)
        since = session.mark()
        version = session.edit(uri, here, here, " ")
        time.sleep(0.12)  # past the debounce: the check is running now
        started = time.perf_counter()
        session.completion(uri, types.Position(line=row, character=5))
        timings.append((time.perf_counter() - started) * 1000)
        session.wait_for_diagnostics(
            uri, lambda p, v=version: p.version == v, since=since, timeout=WAIT
        )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--lines", type=int, default=LINES, help="length of the document")
    args = parser.parse_args()
    runs = args.runs
    global WAIT
    WAIT = max(WAIT, args.lines / 500)  # about 1 ms per line for a first check, and margin

    with tempfile.TemporaryDirectory() as directory:
        path = write_project(Path(directory), args.lines)
        started = time.perf_counter()
        session = LspSession()
        start_up = (time.perf_counter() - started) * 1000
        try:
            since = session.mark()
            started = time.perf_counter()
            uri = session.open(path)
            first = session.wait_for_diagnostics(uri, since=since, timeout=WAIT)
            cold = (time.perf_counter() - started) * 1000
            assert not first.diagnostics, first.diagnostics[:3]
            line_count = session.texts[uri].count("\n")

            within, inserted = time_diagnostics(session, uri, runs)
            keywords, n_keywords = time_completion(session, uri, runs, statement_start)
            fields, n_fields = time_completion(session, uri, runs, after_dot)
            names, n_names = time_completion(session, uri, runs, in_expression)
            busy = completion_while_checking(session, uri, max(5, runs // 2))
            peak = server_peak_rss_mib(session)
        finally:
            session.close()

    rows = [
        ("server start-up (initialize answered)", [start_up], ""),
        (f"first check on open ({line_count} lines + import)", [cold], ""),
        ("didChange -> publishDiagnostics, edit in a line", within, "<= 300 ms"),
        ("didChange -> publishDiagnostics, line inserted", inserted, "<= 300 ms"),
        ("didChange -> publishDiagnostics, all edits", within + inserted, "<= 300 ms"),
        (f"completion, statement start ({n_keywords} items)", keywords, "<= 100 ms"),
        (f"completion, after `step.` ({n_fields} items)", fields, "<= 100 ms"),
        (f"completion, in an expression ({n_names} items)", names, "<= 100 ms"),
        ("completion while a check is running", busy, "<= 100 ms"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'n':>3}  {'median':>9}  {'p95':>9}  target")
    for name, samples, target in rows:
        median = f"{statistics.median(samples):.0f} ms"
        p95 = f"{percentile(samples, 0.95):.0f} ms" if len(samples) > 1 else ""
        print(f"{name:<{width}}  {len(samples):>3}  {median:>9}  {p95:>9}  {target}")
    if peak is not None:
        print(f"server peak RSS: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
