"""Deeply nested input: how long the front end takes to refuse it.

    python bench/nesting.py                      # this checkout
    python bench/nesting.py --tree OTHER_CHECKOUT  # side by side with another

For each kind of nesting, a program nested 300,000 levels deep (about a million
characters, the size limit of a source file) is compiled (`compile_source`:
parse, and check if it parses) in a fresh process per source tree, and the time
and the first diagnostic are printed.  The nesting limit must make every one of
them an E0007 in milliseconds, positioned where it became too deep.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEVELS = 300_000

KINDS: dict[str, tuple[str, str, str]] = {
    "parentheses": ("flow f() { log ", "(" * LEVELS + "1" + ")" * LEVELS, " }"),
    "lists": ("flow f() { log ", "[" * LEVELS + "1" + "]" * LEVELS, " }"),
    "records": ("flow f() { log ", "{a: " * LEVELS + "1" + "}" * LEVELS, " }"),
    "unary operators": ("flow f() { log ", "!" * LEVELS + "true", " }"),
    "member chain": ("flow f() { log a", ".b" * LEVELS, " }"),
    "operator chain": ("flow f() { log 1", "+1" * LEVELS, " }"),
    "blocks": ("flow f() { ", "if a { " * LEVELS + "}" * LEVELS, " }"),
    "record types": ("type T = ", "{a: " * LEVELS + "int" + "}" * LEVELS, "\nflow f() { }"),
}

PROBE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from flowc.compiler import compile_source
compile_source("flow warm() { }", "warm.flow")
source = sys.stdin.read()
started = time.perf_counter()
compilation = compile_source(source, "deep.flow")
elapsed = time.perf_counter() - started
first = compilation.diagnostics[0] if compilation.diagnostics else None
shown = f"{first.code} at {first.span.line}:{first.span.col}" if first else "accepted"
print(json.dumps({"seconds": elapsed, "outcome": shown}))
"""


def measure(tree: Path, source: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tree)],
        input=source,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return {"seconds": float("nan"), "outcome": f"crashed: {last[:60]}"}
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, action="append", default=[])
    parser.add_argument("--kind", action="append", choices=sorted(KINDS))
    args = parser.parse_args()
    trees = [ROOT, *args.tree]
    kinds = args.kind or list(KINDS)
    print(f"{LEVELS:,} levels of nesting, compile_source, one process per cell")
    header = "| kind | " + " | ".join(str(t) for t in trees) + " |"
    print(header)
    print("|" + " --- |" * (len(trees) + 1))
    for kind in kinds:
        source = "".join(KINDS[kind])
        cells = []
        for tree in trees:
            result = measure(tree, source)
            cells.append(f"{result['seconds']:.3f} s, {result['outcome']}")
        print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
