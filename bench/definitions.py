"""Flow definitions (JSON/YAML, the step-list form): load + check throughput.

    python bench/definitions.py            # prints a table

Target (issue #13): loading a 2,000-step YAML or JSON definition and checking it,
>= 5,000 steps/s.  "Loading and checking" is ``flowc.compiler.compile_file`` on the
file, in one process after a warm-up (the parser tables and regexes loaded):
reading the document, translating it into the AST (``${...}`` expressions parsed)
and type-checking it, as ``flowc check`` does.  The same program as `.flow`
source (``flowc convert``) is measured beside it, in the same run.

The generated definition is realistic: services and types, http steps with
parameters, headers, response types, retries, conditions and idempotency keys,
``set``, ``log``, ``switch``, ``foreach`` with a nested step, ``parallel``,
``sleep`` and ``assert``, in a repeating pattern of ten steps whose names and
numbers differ.  The 2,000 steps counted are the top-level ones (the nested
steps of loops and branches come on top).
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


def _timed(path: str, runs: int) -> list[float]:
    from flowc.compiler import compile_file

    compile_file(path)  # warm up: parser tables, compiled regexes
    timings = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        compilation = compile_file(path)
        timings.append(time.perf_counter() - start)
        problems = [d for d in compilation.diagnostics if d.is_error]
        assert not problems, problems[:3]
    return timings


def measure(runs: int = 5) -> list[tuple[str, float]]:
    from flowc.compiler.definitions.convert import convert
    from flowc.compiler.definitions.emit import to_yaml

    data = definition()
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        files = {
            "YAML": os.path.join(directory, "big.flow.yaml"),
            "JSON": os.path.join(directory, "big.flow.json"),
            ".flow (the same program)": os.path.join(directory, "big.flow"),
        }
        Path(files["JSON"]).write_text(json.dumps(data, indent=2), encoding="utf-8")
        Path(files["YAML"]).write_text(to_yaml(data), encoding="utf-8")
        source, problems = convert(files["JSON"], Path(files["JSON"]).read_text(), "flow")
        assert source is not None, problems
        Path(files[".flow (the same program)"]).write_text(source, encoding="utf-8")
        for name, path in files.items():
            rows.append((name, statistics.median(_timed(path, runs))))
    return rows


def main() -> None:
    rows = measure()
    print(f"load + check of a {STEPS:,}-step definition (median of 5, one process)")
    print(f"{'file':<26} {'time':>9} {'steps/s':>10}  target")
    for name, seconds in rows:
        target = ">= 5,000 steps/s" if name in ("YAML", "JSON") else ""
        print(f"{name:<26} {seconds * 1000:>7.0f} ms {STEPS / seconds:>10,.0f}  {target}")


if __name__ == "__main__":
    main()
