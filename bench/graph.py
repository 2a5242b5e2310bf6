"""``flowc graph`` on large flows: model, Mermaid, DOT and JSON time per size.

    python bench/graph.py                  # 1,000 and 5,000 nodes
    python bench/graph.py --sizes 500 5000 20000

The generated flow mixes what real flows have: independent GETs (a segment,
so data and order edges), dependent GETs, POSTs (barriers), ``if`` arms,
parallel loops and ``try``/``catch`` regions.  The program is compiled once
per size (not timed); each phase is timed as the best of ``--repeat`` runs.
Target (issue 11): a 5,000-node flow renders in well under a second.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from flowc.api import compile_source
from flowc.graph.dot import to_dot
from flowc.graph.mermaid import to_mermaid
from flowc.graph.model import flow_graph


def source(groups: int) -> str:
    """About ten graph nodes per group."""
    lines = ['service api "http://127.0.0.1:1"', "", "flow big(xs: list[int]) -> int {"]
    for i in range(groups):
        lines += [
            f'    step a{i} = GET api "/a/{i}"',
            f'    step b{i} = GET api "/b/{i}"',
            f'    step c{i} = GET api "/c/${{a{i}.status}}"',
            f'    step p{i} = POST api "/p" {{ json {{x: b{i}.status + c{i}.status}} }}',
            f"    if p{i}.status > 200 {{",
            f'        log "big {i}"',
            "    }",
            f"    for x{i} in xs parallel 4 {{",
            f'        step e{i} = GET api "/e/${{x{i}}}"',
            "    }",
            "    try {",
            f'        step t{i} = POST api "/t/{i}"',
            f"    }} catch err{i} {{",
            f'        log "caught {i}"',
            "    }",
        ]
    lines += ["    return 1", "}", ""]
    return "\n".join(lines)


def best(function: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    print(
        f"{'nodes':>7} {'edges':>7} {'model ms':>9} {'mermaid ms':>11} {'dot ms':>7} {'json ms':>8}"
    )
    for size in options.sizes:
        measure(size, options.repeat)


def measure(size: int, repeat: int) -> None:
    program = compile_source(source(max(1, size // 11)))
    graph = flow_graph(program.ir, "big")
    model = best(lambda: flow_graph(program.ir, "big"), repeat)
    mermaid = best(lambda: to_mermaid(graph), repeat)
    dot = best(lambda: to_dot(graph), repeat)
    as_json = best(lambda: json.dumps(graph.to_json()), repeat)
    print(
        f"{len(graph.nodes):>7} {len(graph.edges):>7} {model * 1e3:>9.1f}"
        f" {mermaid * 1e3:>11.1f} {dot * 1e3:>7.1f} {as_json * 1e3:>8.1f}"
    )


if __name__ == "__main__":
    main()
