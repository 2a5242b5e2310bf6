"""Flow definitions (JSON/YAML, the step-list form): load + check throughput.

    python bench/definitions.py            # prints a table

Target (issue #13): loading a 2,000-step YAML or JSON definition and checking it,
>= 5,000 steps/s.  "Loading and checking" is ``flowc.compiler.compile_file`` on the
file, in one process after a warm-up (the parser tables and regexes loaded):
reading the document, translating it into the AST (``${...}`` expressions parsed)
and type-checking it, as ``flowc check`` does.  The same program as `.flow`
source (``flowc convert``) is measured beside it, in the same run.

Two generated definitions, each of 2,000 top-level steps whose names and numbers
differ:

* *issue-like*: the issue's example, check then conditional create, repeated (an
  http GET with query parameters, an http POST with a condition and a JSON body);
* *mixed*: a repeating pattern of ten steps using most of the form — http steps with
  parameters, headers, response types, retries, conditions and idempotency keys,
  ``set``, ``log``, ``switch``, ``foreach`` with a nested step, ``parallel``,
  ``sleep`` and ``assert`` (the nested steps come on top of the 2,000).

Both wall time and CPU time of the process are shown: the machine is shared, and
CPU time is what the code costs when other processes take turns on the cores.  The
collector is paused while a file is loaded and checked, as ``flowc check`` and
``flowc run`` pause it during start-up (``cli.entry``); the last row of the table
is ``flowc check`` itself on the mixed YAML file, start-up included.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

STEPS = 2_000


def _unit(n: int) -> list[dict[str, Any]]:
    """Ten steps; ``n`` makes their names unique."""
    return [
        {
            "id": f"check_{n}",
            "type": "http",
            "request": {
                "service": "users",
                "path": f"/users/check/${{input.user_id}}/{n}",
                "params": {"user_id": "${input.user_id}", "page": n},
                "headers": {"X-Request-Id": "${uuid()}"},
                "timeout": "2s",
            },
            "response_type": "Check",
            "retry": {
                "count": 2,
                "backoff": {"kind": "exponential", "delay": "100ms", "max": "1s"},
            },
        },
        {
            "id": f"create_{n}",
            "type": "http",
            "condition": f"${{check_{n}.response.exists == false}}",
            "request": {
                "method": "POST",
                "service": "users",
                "path": "/users",
                "json": {"user_id": "${input.user_id}", "n": n, "name": "${input.name}"},
                "idempotency_key": f"${{run.id}}-{n}",
            },
            "accept": [201, 409],
        },
        {"id": f"total_{n}", "type": "set", "value": f"${{check_{n}.response.count * 2 + {n}}}"},
        {"type": "log", "message": f"checked ${{input.user_id}}: ${{total_{n}}}"},
        {
            "type": "switch",
            "cases": [
                {
                    "condition": f"${{total_{n} > 10}}",
                    "steps": [{"type": "log", "message": "many"}],
                }
            ],
            "default": [{"type": "log", "message": "few"}],
        },
        {
            "id": f"names_{n}",
            "type": "foreach",
            "items": "${input.tags}",
            "as": "tag",
            "parallel": 2,
            "steps": [
                {
                    "id": f"tag_{n}",
                    "type": "http",
                    "request": {"service": "users", "path": "/tags/${tag}"},
                    "on_error": "skip",
                }
            ],
            "output": f"${{tag_{n}.status}}",
        },
        {"type": "sleep", "duration": "1ms", "condition": f"${{size(names_{n}) > 100}}"},
        {"type": "assert", "that": f"${{check_{n}.ok}}", "message": "check {n} failed"},
        {
            "type": "parallel",
            "branches": [
                {
                    "id": f"left_{n}",
                    "type": "http",
                    "request": {"service": "users", "path": f"/left/{n}"},
                },
                {
                    "id": f"right_{n}",
                    "type": "http",
                    "request": {"url": f"http://127.0.0.1:9/right/{n}"},
                    "fallback": {"ok": False},
                },
            ],
        },
        {
            "type": "log",
            "message": f"${{left_{n}.status}} ${{right_{n}.status}}",
        },
    ]


def _issue_pair(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"check_user_{n}",
            "type": "http",
            "request": {
                "method": "GET",
                "url": "http://user-service/check",
                "params": {"user_id": "${input.user_id}", "n": n},
            },
        },
        {
            "id": f"create_user_{n}",
            "type": "http",
            "condition": f"${{check_user_{n}.response.exists == false}}",
            "request": {
                "method": "POST",
                "url": "http://user-service/create",
                "body": {"user_id": "${input.user_id}", "n": n},
            },
        },
    ]


def issue_like(steps: int = STEPS) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    for n in range(steps // 2):
        body += _issue_pair(n)
    return {"name": "big", "steps": body}


def definition(steps: int = STEPS) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    n = 0
    while len(body) < steps:
        body += _unit(n)
        n += 1
    return {
        "name": "big",
        "types": {"Check": "{exists: bool, count: int}"},
        "services": {"users": {"url": "http://127.0.0.1:9", "timeout": "5s", "retry": 1}},
        "input": {"user_id": "string", "name": "string", "tags": "list[string]"},
        "steps": body[:steps],
    }


def _timed(path: str, runs: int) -> tuple[float, float]:
    """Median wall and CPU seconds of loading and checking ``path``."""
    from flowc.compiler import compile_file

    compile_file(path)  # warm up: parser tables, compiled regexes
    walls, cpus = [], []
    for _ in range(runs):
        gc.collect()
        gc.disable()
        wall, cpu = time.perf_counter(), time.process_time()
        compilation = compile_file(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        gc.enable()
        problems = [d for d in compilation.diagnostics if d.is_error]
        assert not problems, problems[:3]
    return statistics.median(walls), statistics.median(cpus)


def measure(data: dict[str, Any], runs: int = 5) -> list[tuple[str, float, float]]:
    from flowc.compiler.definitions.convert import convert
    from flowc.compiler.definitions.emit import to_yaml

    rows = []
    with tempfile.TemporaryDirectory() as directory:
        files = {
            "YAML": os.path.join(directory, "big.flow.yaml"),
            "JSON": os.path.join(directory, "big.flow.json"),
            ".flow (same program)": os.path.join(directory, "big.flow"),
        }
        Path(files["JSON"]).write_text(json.dumps(data, indent=2), encoding="utf-8")
        Path(files["YAML"]).write_text(to_yaml(data), encoding="utf-8")
        source, problems = convert(files["JSON"], Path(files["JSON"]).read_text(), "flow")
        assert source is not None, problems
        Path(files[".flow (same program)"]).write_text(source, encoding="utf-8")
        for name, path in files.items():
            rows.append((name, *_timed(path, runs)))
    return rows


def cli_check(data: dict[str, Any], runs: int = 3) -> float:
    """Median wall seconds of ``flowc check FILE.flow.yaml`` in a new process."""
    import subprocess
    import sys

    from flowc.compiler.definitions.emit import to_yaml

    exe = Path(sys.executable).with_name("flowc")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "big.flow.yaml"
        path.write_text(to_yaml(data), encoding="utf-8")
        timings = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([str(exe), "check", str(path)], check=True)
            timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    print(f"load + check of a {STEPS:,}-step definition (median of 5 runs, one process)")
    print(f"{'workload':<12} {'file':<22} {'wall':>8} {'steps/s':>9} {'cpu':>8} {'steps/s':>9}")
    for workload, data in (("issue-like", issue_like()), ("mixed", definition())):
        for name, wall, cpu in measure(data):
            print(
                f"{workload:<12} {name:<22} {wall * 1000:>5.0f} ms {STEPS / wall:>9,.0f}"
                f" {cpu * 1000:>5.0f} ms {STEPS / cpu:>9,.0f}"
            )
    wall = cli_check(definition())
    print(f"{'mixed':<12} {'flowc check (YAML)':<22} {wall * 1000:>5.0f} ms {STEPS / wall:>9,.0f}")
    print("target: >= 5,000 steps/s (YAML and JSON)")


if __name__ == "__main__":
    main()
