"""What the live progress display and the JSON log cost a run, side by side.

    python bench/progress.py           # prints a table (best of ROUNDS rounds)

Each row runs the same flow against the same local demo API through
``running.drive`` (the code path of ``flowc run``), alternating the outputs
in one process: plain text (``--progress never``, no hook), the live display
(``--progress always``, drawn into a terminal-like buffer, redrawn ten times
a second) and ``--log-format json`` (written to a buffer).  The target (issue
11): the display makes a 10,000-item parallel loop cost little, because the
events only update counters and the redraws are batched.

The display's pieces are also timed alone, which a loaded machine disturbs
less than whole runs: folding one event into the tally (a step that takes
one attempt is three events the display folds), and one redraw with 1,000
steps in flight (it draws eight of them), at ten redraws a second.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

from flowc.commands.output import OutputOptions, RunOutput, make_output
from flowc.commands.running import drive
from flowc.demo import start_demo_server
from flowc.runtime import hooks as events

ROUNDS = 3
SEQUENTIAL = 200
ITEMS = int(os.environ.get("BENCH_PROGRESS_ITEMS", "10000"))

FLOWS = """const BASE = env("FLOWC_DEMO_URL")
service api BASE { }

flow chain(n: int) -> int {
    var total = 0
    for i in range(n) {
        step s = GET api "/echo"
        total = total + s.status
    }
    return total
}

flow fan(n: int) -> int {
    for i in range(n) parallel 100 {
        step each = GET api "/echo"
    }
    return n
}
"""


class TerminalBuffer(io.StringIO):
    """A buffer that says it is a terminal, as a user's stderr does."""

    def isatty(self) -> bool:
        return True


def make(kind: str) -> tuple[RunOutput, io.StringIO]:
    if kind == "display":
        stream: io.StringIO = TerminalBuffer()
        return make_output(OutputOptions(progress="always"), stream), stream
    stream = io.StringIO()
    if kind == "json":
        return make_output(OutputOptions(log_format="json"), stream), stream
    return make_output(OutputOptions(progress="never"), stream), stream


def run_once(program: Any, flow: str, count: int, kind: str) -> tuple[float, int]:
    """Seconds for one run with the output ``kind``, and the display's redraws."""
    output, _ = make(kind)

    async def start(engine: Any, hooks: Any, redactor: Any) -> Any:
        return await engine.run(
            program, flow, {"n": count}, hooks=hooks, log=output.log, warn=output.warn,
            redactor=redactor,
        )  # fmt: skip

    began = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        status = drive(start, None, None, output=output)
    took = time.perf_counter() - began
    assert status == 0, f"the {kind} run failed"
    display = getattr(output, "display", None)
    return took, display.redraws if display is not None else 0


def side_by_side(program: Any, flow: str, count: int) -> dict[str, tuple[float, int]]:
    best: dict[str, tuple[float, int]] = {}
    for _ in range(ROUNDS):
        for kind in ("plain", "display", "json"):
            took, redraws = run_once(program, flow, count, kind)
            if kind not in best or took < best[kind][0]:
                best[kind] = (took, redraws)
    return best


def fold_cost(count: int = 200_000) -> float:
    """Microseconds to fold one event (a step's start, attempt and end) into a tally."""
    from flowc.commands.runtally import RunTally

    tally = RunTally()
    batch = []
    for i in range(1000):
        key = f"each[{i}]"
        batch.append(events.StepStarted(run_id="r", flow="f", invocation=1, step=key, method="GET"))
        batch.append(events.AttemptFinished(
            run_id="r", flow="f", invocation=1, step=key, attempt=1, method="GET",
            url="http://x/echo", status=200, error=None, elapsed_ms=1.0,
        ))  # fmt: skip
        batch.append(events.StepFinished(
            run_id="r", flow="f", invocation=1, step=key, outcome="completed", attempts=1,
        ))  # fmt: skip
    began = time.perf_counter()
    for _ in range(count // len(batch)):
        for event in batch:
            tally(event)
    return (time.perf_counter() - began) / (count // len(batch) * len(batch)) * 1e6


def redraw_cost(in_flight: int = 1000, rounds: int = 200) -> float:
    """Milliseconds for one redraw with ``in_flight`` steps running."""
    output, _ = make("display")
    display = output.display  # type: ignore[attr-defined]
    for i in range(in_flight):
        display.tally(
            events.StepStarted(run_id="r", flow="f", invocation=1, step=f"s[{i}]", method="GET")
        )
    display.start()
    began = time.perf_counter()
    for _ in range(rounds):
        display.redraw()
    took = (time.perf_counter() - began) / rounds * 1000
    display.stop()
    return took


def main() -> None:
    from flowc.api import compile_source

    rows: list[tuple[str, str]] = []
    with start_demo_server() as url:
        os.environ["FLOWC_DEMO_URL"] = url
        program = compile_source(FLOWS, "bench.flow")
        for flow, count, unit in (("chain", SEQUENTIAL, "step"), ("fan", ITEMS, "item")):
            best = side_by_side(program, flow, count)
            plain = best["plain"][0] / count * 1000
            for kind in ("plain", "display", "json"):
                took, redraws = best[kind]
                per = took / count * 1000
                extra = f", {per - plain:+.3f} ms/{unit}" if kind != "plain" else ""
                drawn = f", {redraws} redraws in {took:.2f} s" if kind == "display" else ""
                rows.append((f"{flow} x{count}: {kind}", f"{per:.3f} ms/{unit}{extra}{drawn}"))
    fold, redraw = fold_cost(), redraw_cost()
    rows.append(("fold one event into the tally", f"{fold:.2f} µs"))
    rows.append(("display cost per step (3 events)", f"{fold * 3 / 1000:.4f} ms"))
    rows.append(("one redraw, 1,000 steps in flight", f"{redraw:.2f} ms"))
    rows.append(("redrawing, share of one core (10/s)", f"{redraw * 10 / 10:.1f} %"))
    width = max(len(name) for name, _ in rows)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}")
    print(f"| {'row'.ljust(width)} | measured |")
    print(f"| {'-' * width} | --- |")
    for name, measured in rows:
        print(f"| {name.ljust(width)} | {measured} |")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
