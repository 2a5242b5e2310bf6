"""Front-end performance: start-up, throughput, and how compile time scales.

    python bench/compile.py                       # every section but `size`
    python bench/compile.py --sections scaling    # one section
    python bench/compile.py --before none         # this tree only
    python bench/compile.py --sections size --size-mib 32

Sections:

* ``startup``: ``flowc check`` on a small file in a cold process, and parse + check
  throughput on a generated 10,000-line file (issue #2: <= 250 ms wall, measured
  with a regular, non-editable install: an editable one adds its import hook, and
  with PYTHONDONTWRITEBYTECODE set it recompiles flowc's modules on every start;
  >= 5,000 lines/s).  The generated file is realistic flow code (services, types,
  steps with clauses, lets, conditionals, loops, interpolations).
* ``scaling``: a chain of N dependent steps (N up to 10,000), phase by phase --
  parse, check (resolve + type check + budget, on the parsed tree), lower -- and
  lowering's ``--emit ir`` listing, for the code *before* (a git revision,
  ``--before``, default ``main``, extracted with ``git archive`` and imported
  through ``PYTHONPATH``) and *after* (this tree), side by side in one run, each
  measurement in a fresh process, the two sides alternating.  Issue #15's target:
  a 4,000-step chain compiles in <= 0.5 s.
* ``shapes``: the same phases on the other shapes of ``compile_shapes.py`` (many
  flows, deep nesting, wide ``parallel``, long ``if`` chains, many services, huge
  records and lists, logs, ``var`` updates), before and after.
* ``size``: the largest source file the loader accepts (``--size-mib``, default
  the limit): wall time and peak RSS of reading, parsing, checking and lowering
  it, and the parse store's entry for it (written or not, its size, its load time).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from compile_shapes import SHAPES

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "hello.flow"

FLOW_TEMPLATE = """
# Flow {n}: look a customer up, enrich it and store the result.
flow process_{n}(customer_id: string, limit: int = 10, verbose: bool = false) -> {{id: string, score: int, tags: list[string]}} {{
    step customer_{n} = GET api "/customers/${{customer_id}}" -> Customer {{
        headers {{ "X-Request-Id": uuid(), "X-Flow": "process_{n}" }}
        timeout 2s
        retry 2 backoff exponential 100ms max 1s jitter
    }}
    let name = customer_{n}.body.name
    let score = size(customer_{n}.body.tags) * 10 + (customer_{n}.body.vip ? 50 : 0)
    if score > 100 && customer_{n}.body.email != "" {{
        log "high score for ${{name}}: ${{score}}"
    }} else if verbose {{
        log "score ${{score}} for ${{customer_id}}"
    }}
    var tags: list[string] = []
    for tag in customer_{n}.body.tags {{
        if tag.startsWith("x-") {{
            continue
        }}
        tags = tags + [lower(tag)]
    }}
    let orders = for page in range(limit) parallel 4 {{
        step order_{n} = GET api "/customers/${{customer_id}}/orders" -> {{total: int, items: list[string]}} {{
            query {{ page: page, size: 50 }}
            accept 200, 404
        }}
        yield order_{n}.body.total
    }}
    step save_{n} = POST api "/scores" {{
        json {{ id: customer_id, score: score + sum(orders), tags: tags }}
        idempotency_key "${{run.id}}-${{customer_id}}-{n}"
    }}
    assert save_{n}.status == 201, "could not save the score of ${{customer_id}}"
    return {{id: customer_id, score: score, tags: tags}}
}}
"""

HEADER = """
type Customer = {id: string, name: string, email: string, vip: bool, tags: list[string]}

service api "http://127.0.0.1:9" {
    headers { "Accept": "application/json" }
    timeout 5s
    retry 2 backoff exponential 100ms max 1s
}
"""


def generated_source(lines: int) -> str:
    """At least ``lines`` lines of flows (HEADER, then FLOW_TEMPLATE for n = 0, 1, ...)."""
    parts = [HEADER]
    count = HEADER.count("\n")
    while count < lines:
        parts.append(FLOW_TEMPLATE.format(n=len(parts) - 1))
        count += parts[-1].count("\n")
    return "".join(parts)


def cold_check_ms(runs: int = 9, *, new_file: bool = False) -> list[float]:
    """Wall time of ``flowc check`` on a small file in a new process.

    The parser snapshot and, unless ``new_file``, the file's parsed tree are in the
    cache (as for any file checked before); ``new_file`` checks a file with a
    never-seen text each time, so it is parsed (and Lark imported) every run.
    """
    exe = Path(sys.executable).with_name("flowc")
    text = SMALL.read_text(encoding="utf-8")
    subprocess.run([str(exe), "check", str(SMALL)], check=True)  # warm the caches
    timings = []
    with tempfile.TemporaryDirectory() as directory:
        for run in range(runs):
            path = SMALL
            if new_file:
                path = Path(directory) / f"new_{run}.flow"
                path.write_text(f"# run {run} {time.time_ns()}\n{text}", encoding="utf-8")
            start = time.perf_counter()
            subprocess.run([str(exe), "check", str(path)], check=True)
            timings.append((time.perf_counter() - start) * 1000)
    return timings


def throughput(lines: int = 10_000, runs: int = 3) -> tuple[int, list[float], list[float]]:
    from flowc.compiler import compile_file

    source = generated_source(lines)
    count = source.count("\n")
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "big.flow")
        Path(path).write_text(source, encoding="utf-8")
        compile_file(path)  # warm the parser tables and regexes
        totals, parses = [], []
        for _ in range(runs):
            gc.collect()
            start = time.perf_counter()
            compilation = compile_file(path)
            totals.append(time.perf_counter() - start)
            errors = [d for d in compilation.diagnostics if d.is_error]
            assert not errors, errors[:3]
            from flowc.compiler.parser import parse_module

            start = time.perf_counter()
            parse_module(source, path)
            parses.append(time.perf_counter() - start)
    return count, totals, parses


def startup_rows() -> list[tuple[str, str, str]]:
    cold = cold_check_ms()
    unseen = cold_check_ms(new_file=True)
    count, totals, parses = throughput()
    return [
        (
            "flowc check small file, cold process",
            f"{statistics.median(cold):.0f} ms",
            "<= 250 ms",
        ),
        ("  same, a file not yet in the parse store", f"{statistics.median(unseen):.0f} ms", ""),
        (f"parse only, {count} lines", f"{count / statistics.median(parses):,.0f} lines/s", ""),
        (
            f"parse + check, {count} lines",
            f"{count / statistics.median(totals):,.0f} lines/s",
            ">= 5,000 lines/s",
        ),
    ]


# --------------------------------------------------------------------------- phases, in a worker

PHASES = ("parse", "store", "check", "lower", "emit")
SLOW_RUN = 10.0  # seconds: a run this slow is not repeated


def measure_phases(shape: str, size: int, runs: int) -> dict[str, Any]:
    """Median CPU seconds of each phase on one generated program (in a worker process).

    CPU time of the process, not wall time: the phases are single-threaded, so on a
    quiet machine the two agree, and on a shared one CPU time is what the phase cost.

    Only the API of the code measured is used, as it was before this bench grew
    this section: ``ParseCache.parse`` (parse), ``compile_file`` on the cached
    tree (resolve, check, budget), ``lower_program``, ``format_ir``.
    """
    from flowc.compiler import compile_file
    from flowc.compiler.ir import format_ir
    from flowc.compiler.loader import ParseCache, display_path, normalise
    from flowc.compiler.lowering import lower_program
    from flowc.compiler.parse_store import PersistentParseCache

    text = SHAPES[shape](size)
    format_ir(lower_program(compile_file("warm-up.flow", source=SHAPES["chain"](3)).result))
    path = normalise(f"{shape}-{size}.flow")
    samples: dict[str, list[float]] = {phase: [] for phase in PHASES}
    store = tempfile.TemporaryDirectory()
    PersistentParseCache(store.name).parse(display_path(path), text)
    for _ in range(runs):
        cache = ParseCache()
        timings = []
        gc.collect()
        started = time.process_time()
        cache.parse(display_path(path), text)
        timings.append(time.process_time() - started)
        gc.collect()
        started = time.process_time()
        PersistentParseCache(store.name).parse(display_path(path), text)
        timings.append(time.process_time() - started)
        gc.collect()
        started = time.process_time()
        compilation = compile_file(path, source=text, cache=cache)
        timings.append(time.process_time() - started)
        errors = [d for d in compilation.diagnostics if d.is_error]
        assert not errors, [str(d.message) for d in errors[:3]]
        gc.collect()
        started = time.process_time()
        program = lower_program(compilation.result)
        timings.append(time.process_time() - started)
        started = time.process_time()
        format_ir(program)
        timings.append(time.process_time() - started)
        for phase, seconds in zip(PHASES, timings, strict=True):
            samples[phase].append(seconds)
        if sum(timings) > SLOW_RUN:
            break
    store.cleanup()
    result: dict[str, Any] = {p: statistics.median(v) for p, v in samples.items()}
    result["lines"] = text.count("\n")
    result["runs"] = len(samples["parse"])
    return result


class Side:
    """One version of flowc to measure: a source tree imported through PYTHONPATH."""

    def __init__(self, label: str, tree: Path) -> None:
        self.label = label
        self.tree = tree

    def phases(self, shape: str, size: int, runs: int) -> dict[str, Any]:
        request = json.dumps({"shape": shape, "size": size, "runs": runs})
        env = {**os.environ, "PYTHONPATH": str(self.tree)}
        done = subprocess.run(
            [sys.executable, __file__, "--worker", request],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{self.label}: {shape} {size} failed:\n{done.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return result


def sides(before: str, directory: Path) -> list[Side]:
    found = []
    if before != "none":
        tree = directory / "before"
        tree.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", before, "flowc"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        found.append(Side(f"before ({before})", tree))
    found.append(Side("after", ROOT))
    return found


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f}"


COLUMNS = ("parse", "store", "check", "lower", "total", "stored", "emit")
LEGEND = """\
  parse: parsing the text; store: loading the tree from a warm parse store instead;
  check: resolve, type check, budget; lower: lowering to IR; total: parse + check + lower
  (compile_file on a new file); stored: store + check + lower (on a file seen before, as
  `flowc run` does); emit: printing the IR (`flowc check --emit ir`)."""


def table_rows(label: str, rows: list[tuple[str, str, dict[str, dict[str, Any]]]]) -> None:
    width = max(len(side) for _, _, found in rows for side in found)
    print(f"{label:>15} {'lines':>6}  {'':<{width}}" + "".join(f" {c:>7}" for c in COLUMNS))
    for name, lines, found in rows:
        for number, (side, phases) in enumerate(found.items()):
            phases["total"] = phases["parse"] + phases["check"] + phases["lower"]
            phases["stored"] = phases["store"] + phases["check"] + phases["lower"]
            head = f"{name:>15} {lines:>6}" if number == 0 else " " * 22
            cells = "".join(f" {ms(phases[c]):>7}" for c in COLUMNS)
            print(f"{head}  {side:<{width}}{cells}")


def scaling(all_sides: list[Side], steps: list[int], runs: int) -> None:
    print(f"\nA chain of N dependent steps, CPU ms per phase (median of up to {runs} runs)")
    rows = []
    for n in steps:  # the sides alternate, so both see the machine in the same state
        found = {side.label: side.phases("chain", n, runs) for side in all_sides}
        rows.append((str(n), str(found["after"]["lines"]), found))
    table_rows("steps", rows)
    print(LEGEND)


def shapes(all_sides: list[Side], size: int, runs: int) -> None:
    print(f"\nOther shapes of size {size}, CPU ms per phase (median of up to {runs} runs)")
    rows = []
    for name in SHAPES:
        if name != "chain":
            found = {side.label: side.phases(name, size, runs) for side in all_sides}
            rows.append((name, str(found["after"]["lines"]), found))
    table_rows("shape", rows)


# --------------------------------------------------------------------------- the largest file


def largest_file(size_mib: float | None) -> None:
    """Read, parse, check and lower the largest accepted file in a worker; print its figures."""
    request = json.dumps({"size_mib": size_mib})
    done = subprocess.run(
        [sys.executable, __file__, "--size-worker", request],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"size: failed:\n{done.stderr[-2000:]}")
    found = json.loads(done.stdout.splitlines()[-1])
    print(
        f"\nA generated file of {found['bytes'] / 2**20:.1f} MiB, {found['lines']:,} lines "
        f"(limit {found['limit'] / 2**20:.0f} MiB)"
    )
    for name, seconds, cpu, rss in found["rows"]:
        print(f"  {name:<38} {seconds:>7.1f} s wall {cpu:>7.1f} s CPU   peak RSS {rss:>6,.0f} MiB")
    print(f"  parse store: {found['store']}")


def measure_largest_file(size_mib: float | None) -> dict[str, Any]:
    from flowc.compiler import compile_file, loader
    from flowc.compiler.lowering import lower_program
    from flowc.compiler.parse_store import MAX_STORED_SOURCE, PersistentParseCache

    limit = loader.source_limit()
    target = int(size_mib * 2**20) if size_mib is not None else limit
    sample = generated_source(200)
    source = generated_source(int(sample.count("\n") * target / len(sample.encode())))
    while len(source.encode()) > target:  # the generator overshoots by up to one flow
        source = source[: source.rindex("\n# Flow ")]
    rows = []

    def row(name: str, started: tuple[float, float]) -> None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
        rows.append((name, wall, cpu, peak))

    def clock() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "largest.flow")
        Path(path).write_text(source, encoding="utf-8")
        started = clock()
        loader.read_source_file(path)
        row("read and decode", started)
        store = PersistentParseCache(os.path.join(directory, "cache"))
        started = clock()
        compilation = compile_file(path, cache=store)
        row("parse + check (+ parse store write)", started)
        assert compilation.ok, compilation.diagnostics[:3]
        started = clock()
        lower_program(compilation.result)
        row("lower", started)
        entries = list(Path(directory, "cache").glob("ast-*/*.pickle"))
        if entries:
            started = time.perf_counter()
            PersistentParseCache(os.path.join(directory, "cache")).parse_uncached(path, source)
            load = time.perf_counter() - started
            stored = f"entry of {entries[0].stat().st_size / 2**20:.0f} MiB, loaded in {load:.1f} s"
        else:
            stored = (
                f"no entry written (the store keeps files up to {MAX_STORED_SOURCE // 2**20} MiB)"
            )
    return {
        "bytes": len(source.encode()),
        "lines": source.count("\n"),
        "limit": limit,
        "rows": rows,
        "store": stored,
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default="startup,scaling,shapes")
    parser.add_argument("--before", default="main", help="git revision to compare, or 'none'")
    parser.add_argument("--steps", default="200,1000,2000,4000,10000")
    parser.add_argument("--shape-size", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=float, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size-worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        request = json.loads(args.worker)
        print(json.dumps(measure_phases(request["shape"], request["size"], request["runs"])))
        return
    if args.size_worker:
        print(json.dumps(measure_largest_file(json.loads(args.size_worker)["size_mib"])))
        return
    sections = args.sections.split(",")
    if "startup" in sections:
        rows = startup_rows()
        width = max(len(r[0]) for r in rows)
        print(f"{'measure':<{width}}  {'median':>18}  target")
        for name, value, target in rows:
            print(f"{name:<{width}}  {value:>18}  {target}")
    with tempfile.TemporaryDirectory() as directory:
        measured = sides(args.before, Path(directory))
        if "scaling" in sections:
            scaling(measured, [int(n) for n in args.steps.split(",")], args.runs)
        if "shapes" in sections:
            shapes(measured, args.shape_size, args.runs)
    if "size" in sections:
        largest_file(args.size_mib)


if __name__ == "__main__":
    main()
