"""Fuzz the whole front end (parse, check, budget, lower; never run) for a long time.

    python bench/fuzz.py                        # 100,000 inputs, seed 1
    python bench/fuzz.py --count 20000 --seed 7 --out fuzz-out

Inputs come from ``tests/fuzzing.py``: generated programs, mutations of them,
mutations of the examples and of the checker's expectation files, and those
files with one word changed.  Every input must compile to diagnostics; an
exception is a crash.  Each distinct crash (exception type and the place it was
raised) is saved once to ``OUT/crash-N.flow`` with its traceback beside it.
The report gives the inputs tried by kind (how many parsed, and how many
checked cleanly and were lowered), the crashes, the throughput, and the
slowest input: the slowest few are timed again (best of three) so that a
pause of the machine is not mistaken for a slow input, and the slowest is
saved to ``OUT/slowest.flow``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import random
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fuzzing import compile_everything, corpus, inputs  # noqa: E402

KEEP_SLOWEST = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("fuzz-out"))
    parser.add_argument("--progress", type=int, default=10_000, help="report every N inputs")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    next_input = inputs(random.Random(args.seed), corpus())
    tried: collections.Counter[str] = collections.Counter()
    parsed: collections.Counter[str] = collections.Counter()
    lowered: collections.Counter[str] = collections.Counter()
    crashes: dict[tuple[str, str, int], tuple[int, str]] = {}
    crash_count = 0
    slowest: list[tuple[float, str, str]] = []
    started = time.perf_counter()
    for number in range(1, args.count + 1):
        kind, text = next_input()
        tried[kind] += 1
        before = time.perf_counter()
        try:
            compilation = compile_everything(text)
        except Exception as error:  # every exception here is a bug in flowc
            crash_count += 1
            place = traceback.extract_tb(error.__traceback__)[-1]
            key = (type(error).__name__, place.filename, place.lineno or 0)
            if key not in crashes:
                path = args.out / f"crash-{len(crashes) + 1}.flow"
                path.write_text(text, encoding="utf-8")
                path.with_suffix(".txt").write_text(traceback.format_exc(), encoding="utf-8")
                crashes[key] = (0, str(path))
            seen, path_text = crashes[key]
            crashes[key] = (seen + 1, path_text)
        else:
            if not any(d.code.startswith("E00") for d in compilation.diagnostics):
                parsed[kind] += 1
            if compilation.ok:
                lowered[kind] += 1
        elapsed = time.perf_counter() - before
        if len(slowest) < KEEP_SLOWEST or elapsed > slowest[-1][0]:
            slowest = sorted([*slowest, (elapsed, kind, text)], reverse=True)[:KEEP_SLOWEST]
        if args.progress and number % args.progress == 0:
            rate = number / (time.perf_counter() - started)
            print(f"  {number:,} inputs, {crash_count} crashes, {rate:.0f}/s", flush=True)
    total = time.perf_counter() - started
    report(args, tried, parsed, lowered, crashes, crash_count, slowest, total)


def report(
    args: argparse.Namespace,
    tried: collections.Counter[str],
    parsed: collections.Counter[str],
    lowered: collections.Counter[str],
    crashes: dict[tuple[str, str, int], tuple[int, str]],
    crash_count: int,
    slowest: list[tuple[float, str, str]],
    total: float,
) -> None:
    count = sum(tried.values())
    print(f"\nfuzz: {count:,} inputs (seed {args.seed}) in {total:.0f} s, {count / total:.0f}/s")
    print("| kind | inputs | parsed | checked clean and lowered |")
    print("| --- | ---: | ---: | ---: |")
    for kind in tried:
        print(f"| {kind} | {tried[kind]:,} | {parsed[kind]:,} | {lowered[kind]:,} |")
    print(f"crashes: {crash_count} ({len(crashes)} distinct)")
    for (name, filename, line), (seen, path) in crashes.items():
        print(f"  {name} at {filename}:{line}, {seen} times, first input: {path}")
    retimed = [(_best_of_three(text), first, kind, text) for first, kind, text in slowest]
    best, first, kind, text = max(retimed)
    slowest_path = args.out / "slowest.flow"
    slowest_path.write_text(text, encoding="utf-8")
    print(
        f"slowest input: {best * 1000:.1f} ms (best of 3; {first * 1000:.1f} ms when met), "
        f"{kind}, {len(text):,} characters, saved to {slowest_path}"
    )


def _best_of_three(text: str) -> float:
    times = []
    for _ in range(3):
        before = time.perf_counter()
        with contextlib.suppress(Exception):  # a crash was reported already
            compile_everything(text)
        times.append(time.perf_counter() - before)
    return min(times)


if __name__ == "__main__":
    main()
