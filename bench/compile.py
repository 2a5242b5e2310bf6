"""Front-end performance: cold `flowc check` start-up and parse + check throughput.

    python bench/compile.py            # prints a table

Targets (issue #2): `flowc check` on a small file in a cold process <= 250 ms wall;
(measure with a regular, non-editable install: an editable one adds its import hook,
and with PYTHONDONTWRITEBYTECODE set it recompiles flowc's modules on every start);
parse + check of a generated 10,000-line file >= 5,000 lines/s.  The generated
file is realistic flow code (services, types, steps with clauses, lets,
conditionals, loops, interpolations), not a repetition of one line.
"""

from __future__ import annotations

import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    parts = [HEADER]
    n = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(FLOW_TEMPLATE.format(n=n))
        n += 1
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


def main() -> None:
    cold = cold_check_ms()
    unseen = cold_check_ms(new_file=True)
    count, totals, parses = throughput()
    rows = [
        (
            "flowc check small file, cold process",
            f"{statistics.median(cold):.0f} ms",
            "<= 250 ms",
        ),
        (
            "  same, a file not yet in the parse store",
            f"{statistics.median(unseen):.0f} ms",
            "",
        ),
        (f"parse only, {count} lines", f"{count / statistics.median(parses):,.0f} lines/s", ""),
        (
            f"parse + check, {count} lines",
            f"{count / statistics.median(totals):,.0f} lines/s",
            ">= 5,000 lines/s",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'median':>18}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>18}  {target}")


if __name__ == "__main__":
    main()
