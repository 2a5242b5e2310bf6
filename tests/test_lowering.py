"""Lowering: the schedules of blocks, against the quadratic algorithm they replaced.

``lowering._schedule`` finds each node's dependency edges with per-slot indexes
and decides which runs become segments from each node's latest ancestor step,
so that its cost follows the number of edges instead of the square of the
block's length.  What it computes must not change: ``reference_schedule``
below is the algorithm it replaced (kept verbatim apart from names), and every
test compares the two — on hypothesis-generated blocks of bare nodes (any
reads, writes and effects, logs among them), on every block of every example,
and on the blocks of generated, well-typed programs lowered from source.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler import compile_file, compile_source, ir
from flowc.compiler.ast import Span
from flowc.compiler.ir import format_ir
from flowc.compiler.lowering import _schedule, lower_program

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("**/*.flow"))
SPAN = Span("<test>", 1, 1, 1, 2)

# --------------------------------------------------------------------------- the reference


def reference_schedule(
    nodes: list[ir.Node],
) -> tuple[list[tuple[int, ...]], list[tuple[int, int]]]:
    """The schedule as lowering computed it before (compares every pair of nodes)."""
    deps = [_reference_dependencies(nodes, i) for i in range(len(nodes))]
    segments = []
    start = 0
    while start < len(nodes):
        end = start
        while end < len(nodes) and nodes[end].effect in ("pure", "safe"):
            end += 1
        if _reference_independent_steps(nodes, deps, start, end):
            segments.append((start, end))
        start = max(end, start + 1)
    return deps, segments


def _reference_independent_steps(
    nodes: list[ir.Node], deps: list[tuple[int, ...]], start: int, end: int
) -> bool:
    ancestors: list[int] = []
    previous_step: int | None = None
    for index in range(start, end):
        mask = 0
        for dep in deps[index]:
            if dep >= start:
                mask |= ancestors[dep - start] | (1 << (dep - start))
        ancestors.append(mask)
        if nodes[index].effect != "safe":
            continue
        if previous_step is not None and not mask & (1 << (previous_step - start)):
            return True
        previous_step = index
    return False


def _reference_dependencies(nodes: list[ir.Node], index: int) -> tuple[int, ...]:
    node = nodes[index]
    found = []
    for earlier in range(index - 1, -1, -1):
        other = nodes[earlier]
        if other.effect not in ("pure", "safe"):
            break
        if isinstance(node, ir.LogNode) or _reference_conflict(node, other):
            found.append(earlier)
    return tuple(sorted(found))


def _reference_conflict(later: ir.Node, earlier: ir.Node) -> bool:
    return bool(later.reads & earlier.writes or later.writes & (earlier.reads | earlier.writes))


def assert_same_schedule(block: ir.Block) -> None:
    deps, segments = reference_schedule(block.nodes)
    assert [tuple(d) for d in block.deps] == deps
    assert all(list(d) == sorted(set(d)) for d in block.deps)
    assert block.segments == segments


def all_blocks(program: ir.ProgramIR) -> Iterator[ir.Block]:
    for flow in program.flows.values():
        yield from _blocks_of(flow.body)


def _blocks_of(block: ir.Block) -> Iterator[ir.Block]:
    yield block
    for node in block.nodes:
        for child in ir.child_blocks(node):
            yield from _blocks_of(child)


# --------------------------------------------------------------------------- bare blocks

EFFECTS = ("pure", "safe", "unsafe", "control")
SLOTS = st.frozensets(st.integers(0, 5), max_size=3)


@st.composite
def bare_nodes(draw: st.DrawFn) -> ir.Node:
    reads, writes = draw(SLOTS), draw(SLOTS)
    effect = draw(st.sampled_from(EFFECTS))
    if draw(st.integers(0, 4)) == 0:
        value = ir.Expr("x", lambda frame: None, SPAN)
        return ir.LogNode(SPAN, value, reads=reads, writes=writes, effect=effect)
    return ir.Node(SPAN, reads=reads, writes=writes, effect=effect)


@settings(max_examples=600, deadline=None)
@given(st.lists(bare_nodes(), max_size=40))
def test_schedules_of_generated_blocks_match_the_reference(nodes: list[ir.Node]) -> None:
    assert_same_schedule(_schedule(nodes))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["pure", "safe"]), min_size=2, max_size=60), st.data())
def test_long_runs_match_the_reference(effects: list[str], data: st.DataObject) -> None:
    """Runs without barriers, where segments are decided (few slots: many edges)."""
    nodes: list[ir.Node] = []
    for effect in effects:
        reads = data.draw(st.frozensets(st.integers(0, 3), max_size=2))
        writes = data.draw(st.frozensets(st.integers(0, 3), max_size=1))
        if data.draw(st.booleans()) and effect == "pure" and not writes:
            nodes.append(ir.LogNode(SPAN, ir.Expr("x", lambda f: None, SPAN), reads=reads))
        else:
            nodes.append(ir.Node(SPAN, reads=reads, writes=writes, effect=effect))
    assert_same_schedule(_schedule(nodes))


def test_a_log_waits_for_its_whole_run_and_is_kept_as_a_range() -> None:
    log = ir.LogNode(SPAN, ir.Expr("x", lambda f: None, SPAN), effect="pure")
    nodes = [
        ir.Node(SPAN, writes=frozenset({0}), effect="safe"),
        ir.Node(SPAN, effect="unsafe"),
        ir.Node(SPAN, writes=frozenset({1}), effect="safe"),
        ir.Node(SPAN, writes=frozenset({2}), effect="safe"),
        log,
    ]
    block = _schedule(nodes)
    assert block.deps[4] == range(2, 4)
    assert block.segments == [(2, 5)]
    assert_same_schedule(block)


# --------------------------------------------------------------------------- programs


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_schedules_of_the_examples_match_the_reference(path: Path) -> None:
    compilation = compile_file(str(path))
    assert compilation.ok, compilation.diagnostics
    program = lower_program(compilation.result)
    blocks = list(all_blocks(program))
    assert blocks
    for block in blocks:
        assert_same_schedule(block)


class _Program:
    """Source text of one flow being generated, with the names in scope."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw
        self.lines: list[str] = []
        self.count = 0

    def fresh(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def int_expr(self, ints: Sequence[str]) -> str:
        if not ints or self.draw(st.integers(0, 4)) == 0:
            return str(self.draw(st.integers(0, 9)))
        picked = self.draw(st.lists(st.sampled_from(list(ints)), min_size=1, max_size=3))
        return " + ".join(picked)

    def block(self, depth: int, ints: list[str], variables: list[str], indent: int) -> None:
        ints, variables = list(ints), list(variables)  # names declared here stay here
        for _ in range(self.draw(st.integers(1 if depth else 2, 7))):
            self.statement(depth, ints, variables, indent)

    def statement(self, depth: int, ints: list[str], variables: list[str], indent: int) -> None:
        pad = "    " * indent
        # weighted towards lets, GETs and logs, the nodes that segments are made of
        kinds = ["let", "let", "get", "get", "get", "log", "var", "assign", "post", "sleep"]
        kinds += ["parallel", "if", "for"] if depth < 2 else []
        kind = self.draw(st.sampled_from(kinds))
        value = self.int_expr(ints)
        if kind == "let" or (kind == "assign" and not variables):
            name = self.fresh("v")
            self.lines.append(f"{pad}let {name} = {value}")
            ints.append(name)
        elif kind == "var":
            name = self.fresh("w")
            self.lines.append(f"{pad}var {name} = {value}")
            ints.append(name)
            variables.append(name)
        elif kind == "assign":
            name = self.draw(st.sampled_from(variables))
            self.lines.append(f"{pad}{name} = {name} + {value}")
        elif kind in ("get", "post"):
            name = self.fresh("s")
            if kind == "get":
                self.lines.append(f'{pad}step {name} = GET api "/n/${{{value}}}" -> {{n: int}}')
            else:
                self.lines.append(
                    f'{pad}step {name} = POST api "/n" -> {{n: int}} {{ json {{v: {value}}} }}'
                )
            ints.append(f"{name}.body.n")
        elif kind == "log":
            self.lines.append(f'{pad}log "value ${{{value}}}"')
        elif kind == "sleep":
            self.lines.append(f"{pad}sleep 1ms")
        elif kind == "parallel":
            self.parallel(ints, pad)
        else:
            self.compound(kind, depth, ints, variables, indent, value)

    def parallel(self, ints: list[str], pad: str) -> None:
        names = [self.fresh("p") for _ in range(self.draw(st.integers(2, 3)))]
        self.lines.append(f"{pad}parallel {{")
        for name in names:
            path = self.int_expr(ints)
            self.lines.append(f'{pad}    step {name} = GET api "/p/${{{path}}}" -> {{n: int}}')
        self.lines.append(f"{pad}}}")
        ints += [f"{name}.body.n" for name in names]

    def compound(
        self, kind: str, depth: int, ints: list[str], variables: list[str], indent: int, value: str
    ) -> None:
        pad = "    " * indent
        if kind == "if":
            self.lines.append(f"{pad}if {value} > 3 {{")
        else:
            self.lines.append(f"{pad}for i{self.fresh('')} in range({value} % 4) {{")
        self.block(depth + 1, ints, variables, indent + 1)
        self.lines.append(f"{pad}}}")


@st.composite
def programs(draw: st.DrawFn) -> str:
    program = _Program(draw)
    program.block(0, ["seed"], [], 1)
    body = "\n".join(program.lines)
    return f'service api "http://127.0.0.1:9"\n\nflow generated(seed: int) {{\n{body}\n}}\n'


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_schedules_of_generated_programs_match_the_reference(source: str) -> None:
    compilation = compile_source(source)
    assert compilation.ok, (source, [str(d.message) for d in compilation.diagnostics])
    for block in all_blocks(lower_program(compilation.result)):
        assert_same_schedule(block)


# --------------------------------------------------------------------------- expression text


def test_expression_text_is_printed_when_asked_for() -> None:
    source = 'flow f(n: int) {\n    let m = (n + 1) * 2\n    assert m > 3 && n != 10, "small"\n}\n'
    program = lower_program(compile_source(source).result)
    (flow,) = program.flows.values()
    compute, check = flow.body.nodes
    assert isinstance(compute, ir.Compute) and isinstance(check, ir.AssertNode)
    assert compute.value.source == "(n + 1) * 2"
    assert check.source == "m > 3 && n != 10"
    assert "0 @2 m = (n + 1) * 2    # reads [0] writes [2] pure" in format_ir(program)


def test_lowering_prints_no_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    """Source text is printed only when asked for, not to link calls or label blocks."""
    from flowc.compiler import lowering

    def refuse(*_: object, **__: object) -> str:
        raise AssertionError("an expression was printed while lowering")

    monkeypatch.setattr(lowering, "print_expr", refuse)
    for path in EXAMPLES:
        compilation = compile_file(str(path))
        assert compilation.ok, compilation.diagnostics
        lower_program(compilation.result)


def test_lowering_pauses_the_collector_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowc.compiler import lowering

    seen: list[bool] = []

    def recording_schedule(nodes: list[ir.Node]) -> ir.Block:
        seen.append(gc.isenabled())
        return _schedule(nodes)

    monkeypatch.setattr(lowering, "_schedule", recording_schedule)
    result = compile_source("flow f(n: int) -> int {\n    return n\n}\n").result
    assert gc.isenabled()
    lower_program(result)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        lower_program(result)
        assert not gc.isenabled()
    finally:
        gc.enable()
