"""Serverless Workflow 1.0 documents: load + check throughput, and run cost per task.

    python bench/serverless.py            # prints a table

Targets (issue #13, part 2), side by side in one run:

* loading a 2,000-task YAML or JSON document and checking it (``compile_file``, as
  ``flowc check`` does: read with positions, the specification's schema, the static
  checks, every jq expression compiled once): >= 5,000 tasks/s;
* 200 sequential ``call: http`` tasks against the local demo API: ms per task within
  1.5 x of the same chain written in `.flow` (``bench/runtime.py``'s chain); each
  task of the workflow also evaluates one jq ``output.as``, the expected difference.

The documents mix the task kinds flowc runs: ``call: http`` with ``output.as``,
``set`` with ``${...}`` values, ``switch`` with a ``then``, ``for`` with a nested
``set``, ``try``/``catch`` with a ``retry`` and ``raise``: ten top-level tasks per
unit (nested tasks on top of the 2,000).  Wall and CPU time are shown: the machine
is shared.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

import flowc
from flowc.demo import start_demo_server
from flowc.runtime.resolve import HostMap
from flowc.runtime.serverless import run_workflow

TASKS = 2_000
ROUNDS = 5
HEADER = {"dsl": "1.0.3", "namespace": "bench", "name": "bench", "version": "1.0.0"}


def _unit(n: int) -> list[dict[str, Any]]:
    return [
        {f"get{n}": {
            "call": "http",
            "with": {"method": "get", "endpoint": {"uri": f"https://api.example/pets/{{id}}/{n}"}},
            "output": {"as": "{id: .id, name: .name}"},
        }},
        {f"shape{n}": {"set": {"id": "${ .id }", "label": f'${{ "pet \\(.name) {n}" }}'}}},
        {f"route{n}": {"switch": [
            {"big": {"when": f".id > {n}", "then": f"mark{n}"}},
            {"other": {"then": "continue"}},
        ]}},
        {f"mark{n}": {"set": {"id": "${ .id }", "big": True}, "export": {"as": "$context + {n: .id}"}}},
        {f"each{n}": {
            "for": {"each": "tag", "in": ".tags // []"},
            "do": [{f"tag{n}": {"set": {"tag": "${ $tag }", "at": "${ $index }"}}}],
        }},
        {f"guard{n}": {
            "try": [{f"risky{n}": {"set": {"ok": True}}}],
            "catch": {"errors": {"with": {"status": 503}}, "retry": {"delay": {"seconds": 1},
                      "limit": {"attempt": {"count": 3}}}},
        }},
        {f"check{n}": {"if": ".ok == false", "raise": {"error": {
            "type": "https://example.com/errors/bad", "status": 400, "title": f"bad {n}"}}}},
        {f"wait{n}": {"wait": {"milliseconds": 1}, "if": "false"}},
        {f"sum{n}": {"set": {"total": f"${{ ($context.n // 0) + {n} }}"}}},
        {f"end{n}": {"set": {"done": True}, "output": {"as": f". + {{unit: {n}}}"}}},
    ]  # fmt: skip


def document(tasks: int) -> dict[str, Any]:
    return {"document": HEADER, "do": [t for n in range(tasks // 10) for t in _unit(n)]}


def _yaml(data: dict[str, Any]) -> str:
    import io

    from ruamel.yaml import YAML

    out = io.StringIO()
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()


def measure_check(path: Path) -> tuple[float, float]:
    """(wall, cpu) seconds of the best of ROUNDS compile_file runs."""
    flowc.compile_file(str(path))  # warm-up: schema, jq, tables loaded
    walls, cpus = [], []
    for _ in range(ROUNDS):
        wall, cpu = time.perf_counter(), time.process_time()
        compilation = flowc.compile_file(str(path))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        assert compilation is not None
    return min(walls), min(cpus)


def chain_flow(count: int) -> str:
    steps = ['    step s0 = GET BASE + "/echo"']
    steps += [
        f'    step s{i} = GET BASE + "/echo?after=${{s{i - 1}.status}}"' for i in range(1, count)
    ]
    body = "\n".join(steps)
    return f'const BASE = env("FLOWC_DEMO_URL")\n\nflow chain() -> int {{\n{body}\n    return s{count - 1}.status\n}}\n'  # fmt: skip


def chain_workflow(count: int) -> dict[str, Any]:
    tasks = [
        {f"s{i}": {
            "call": "http",
            "with": {"method": "get", "endpoint": {"uri": "http://demo/echo?after={status}"}},
            "output": {"as": "{status: 200}"},
        }}
        for i in range(count)
    ]  # fmt: skip
    return {"document": HEADER, "do": tasks}


def timed(run: Any) -> float:
    async def main() -> float:
        start = time.perf_counter()
        await run()
        return time.perf_counter() - start

    return trio.run(main)


def measure_run(base: str, count: int = 200) -> tuple[float, float]:
    import os

    os.environ["FLOWC_DEMO_URL"] = base
    directory = Path(tempfile.mkdtemp(prefix="flowc-bench-"))
    (directory / "chain.flow").write_text(chain_flow(count), encoding="utf-8")
    program = flowc.compile_file(str(directory / "chain.flow"))
    definition = chain_workflow(count)
    hosts = HostMap.parse([f"demo={base}"])

    def flow_side() -> float:
        return timed(lambda: program.run("chain"))

    def workflow_side() -> float:
        return timed(lambda: run_workflow(definition, {"status": 0}, resolve=hosts))

    flow_side(), workflow_side()  # warm-up
    sides: list[list[float]] = [[], []]
    for _ in range(ROUNDS):
        sides[0].append(flow_side())
        sides[1].append(workflow_side())
    flow_ms, workflow_ms = (statistics.median(side) * 1000 / count for side in sides)
    return flow_ms, workflow_ms


def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="flowc-bench-"))
    data = document(TASKS)
    (directory / "wf.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    (directory / "wf.yaml").write_text(_yaml(data), encoding="utf-8")
    print(f"{'measure':<46} {'value':>12} {'target':>14}")
    for name in ("wf.yaml", "wf.json"):
        wall, cpu = measure_check(directory / name)
        label = f"load + check {TASKS} tasks ({name[3:]}), tasks/s"
        print(f"{label:<46} {TASKS / wall:>12,.0f} {'>= 5,000':>14}   (cpu {TASKS / cpu:,.0f}/s)")
    with start_demo_server() as base:
        flow_ms, workflow_ms = measure_run(base)
    print(f"{'200 sequential GETs, .flow, ms/task':<46} {flow_ms:>12.3f}")
    print(f"{'200 sequential call: http, workflow, ms/task':<46} {workflow_ms:>12.3f}")
    print(f"{'ratio workflow / .flow':<46} {workflow_ms / flow_ms:>12.2f} {'<= 1.5':>14}")


if __name__ == "__main__":
    main()
