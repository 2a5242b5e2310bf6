"""Checking flows against OpenAPI documents: the cost of a first check and a cached one.

    python bench/openapi.py            # GitHub's description: first check, cached check
    python bench/openapi.py --corpus   # also load every document of the APIs.guru corpus

The documents come from ``npm ci --prefix tests/openapi-corpus``.  Each measurement
runs ``flowc check`` in a fresh process (``-X importtime`` is not used; wall time of
the whole command), with its own cache directory: *first* starts from an empty cache
(the document is parsed, validated, indexed and stored), *cached* reuses it (the
store's header and the pieces the flow's steps reach).  The goals of issue 14:
first <= 1 s, cached <= 50 ms for the contract part; the table also shows a plain
``flowc check`` of a flow without a document, for the start-up it shares.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "openapi-corpus" / "node_modules"
GITHUB = CORPUS / "@octokit" / "openapi" / "generated" / "api.github.com.json"

FLOW = """
service github openapi "{doc}" {{ auth bearer secret("GITHUB_TOKEN") }}

flow issue_titles(owner: string, repo: string) -> list[string] {{
    step repository = GET github "/repos/${{owner}}/${{repo}}"
    step issues = GET github "/repos/${{owner}}/${{repo}}/issues" {{ query {{ state: "open" }} }}
    step issue = GET github "/repos/${{owner}}/${{repo}}/issues/${{1}}"
    return [repository.body.full_name, issue.body.title] + issues.body.map(i, i.title)
}}
"""

PLAIN = """
service github "https://api.github.com" { auth bearer secret("GITHUB_TOKEN") }

flow issue_titles(owner: string, repo: string) -> list[string] {
    step repository = GET github "/repos/${owner}/${repo}"
    return [string(repository.body)]
}
"""


def check_seconds(flow: Path, cache: str) -> float:
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "check", str(flow)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"flowc check failed:\n{result.stderr}")
    return elapsed


def in_process_seconds(document: Path, cache: str) -> tuple[float, float]:
    """The contract part alone (load + check of the flow's steps), first and cached."""
    from flowc.compiler import compile_file
    from flowc.compiler.parse_store import PersistentParseCache

    flow = Path(cache) / "inproc.flow"
    flow.write_text(FLOW.format(doc=document), encoding="utf-8")
    times = []
    for _ in range(2):
        parse_cache = PersistentParseCache(cache)
        started = time.perf_counter()
        compilation = compile_file(str(flow), cache=parse_cache)
        times.append(time.perf_counter() - started)
        assert compilation.ok, compilation.diagnostics
    return times[0], times[1]


def github(runs: int) -> None:
    if not GITHUB.exists():
        raise SystemExit("run `npm ci --prefix tests/openapi-corpus` first")
    rows: dict[str, list[float]] = {"first": [], "cached": [], "plain (no document)": []}
    inproc: dict[str, list[float]] = {"first": [], "cached": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            flow = Path(cache) / "github.flow"
            flow.write_text(FLOW.format(doc=GITHUB), encoding="utf-8")
            plain = Path(cache) / "plain.flow"
            plain.write_text(PLAIN, encoding="utf-8")
            check_seconds(plain, cache)  # warm the parser snapshot and parse store
            rows["plain (no document)"].append(check_seconds(plain, cache))
            rows["first"].append(check_seconds(flow, cache))
            rows["cached"].append(check_seconds(flow, cache))
        with tempfile.TemporaryDirectory() as cache:
            first, cached = in_process_seconds(GITHUB, cache)
            inproc["first"].append(first)
            inproc["cached"].append(cached)
    print(f"GitHub's description ({GITHUB.stat().st_size / 1e6:.1f} MB), {runs} runs, median:")
    print("| measurement | `flowc check` (process) | compile_file (in process) |")
    print("| --- | ---: | ---: |")
    for name, values in rows.items():
        extra = inproc.get(name)
        shown = f"{statistics.median(extra) * 1000:.0f} ms" if extra else "-"
        print(f"| {name} | {statistics.median(values) * 1000:.0f} ms | {shown} |")


def corpus() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.test_openapi_corpus import corpus_documents, survey

    documents = corpus_documents()
    started = time.perf_counter()
    counts: Counter[str] = survey(documents)
    elapsed = time.perf_counter() - started
    print(f"\nAPIs.guru corpus: {len(documents)} documents in {elapsed:.0f} s")
    print("| outcome | documents |")
    print("| --- | ---: |")
    for outcome, count in sorted(counts.items()):
        print(f"| {outcome} | {count} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", action="store_true")
    args = parser.parse_args()
    github(args.runs)
    if args.corpus:
        corpus()


if __name__ == "__main__":
    main()
