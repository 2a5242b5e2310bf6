"""The graph of a flow as the web UI draws it: ``GET /v1/flows/{flow}/graph``.

The UI draws the JSON form of ``flowc.graph.model.FlowGraph`` (nodes with a
kind, label, parent, step name, method, service, path, callee, source span and
clauses; edges of kind ``order``, ``data`` or ``branch``), as ``flowc graph
--format json`` writes it.  A flow that is not in its program's root module
(which ``flow_graph`` looks in) gets ``outline``, the same shape built from
the IR more simply: one node per statement that matters to a run
(steps, and the branches, loops, parallel regions and try blocks that contain
them, as parent nodes), ``order`` edges between consecutive statements of a
block and ``data`` edges from a step to the steps whose values it reads.

``graph_document`` adds the flow's source file's lines, so that a click on a
node shows its source without another request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowc.compiler import ir
from flowc.graph.model import UnknownFlow, flow_graph
from flowc.server.catalog import Offered

MAX_SOURCE = 1 << 20
"""Source files larger than this (bytes) are not sent with the graph."""


def graph_document(offered: Offered) -> dict[str, Any]:
    document = _model_graph(offered) or outline(offered.flow)
    try:
        text = Path(offered.path).read_text(errors="replace")
    except OSError:
        text = ""
    document["source"] = text.splitlines() if len(text) <= MAX_SOURCE else []
    return document


def _model_graph(offered: Offered) -> dict[str, Any] | None:
    try:
        graph = flow_graph(offered.program.ir, offered.flow.name)
    except UnknownFlow:  # a flow offered from outside the program's root module
        return None
    return graph.to_json()


class _Outline:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.writers: dict[int, str] = {}

    def add(self, node: ir.Node, kind: str, label: str, parent: str | None) -> str:
        ident = f"n{len(self.nodes)}"
        span = node.span
        entry: dict[str, Any] = {
            "id": ident, "kind": kind, "label": label, "parent": parent,
            "span": {"line": span.line, "col": span.col,
                     "end_line": span.end_line, "end_col": span.end_col},
            "clauses": {},
        }  # fmt: skip
        self.nodes.append(entry)
        return ident

    def block(self, block: ir.Block, parent: str | None) -> list[str]:
        previous: str | None = None
        made: list[str] = []
        for node in block.nodes:
            ident = self.statement(node, parent)
            if ident is None:
                continue
            if previous is not None:
                self.edges.append({"source": previous, "target": ident, "kind": "order"})
            previous = ident
            made.append(ident)
        return made

    def statement(self, node: ir.Node, parent: str | None) -> str | None:
        if isinstance(node, ir.StepNode):
            return self.step(node, parent)
        children = _children(node)
        if children is None:
            return None
        kind, blocks = children
        ident = self.add(node, kind, kind, parent)
        for block in blocks:
            self.block(block, ident)
        return ident

    def step(self, node: ir.StepNode, parent: str | None) -> str:
        ident = self.add(node, "step", node.name, parent)
        entry = self.nodes[-1]
        entry["step"] = node.name
        entry["method"] = node.method
        entry["service"] = node.service.name if node.service else None
        entry["path"] = node.target.source if node.target is not None else None
        entry["callee"] = node.flow.name if node.flow is not None else None
        entry["clauses"] = _clauses(node)
        for slot in sorted(node.reads):
            source = self.writers.get(slot)
            if source is not None:
                self.edges.append({"source": source, "target": ident, "kind": "data"})
        self.writers[node.slot] = ident
        return ident


def _children(node: ir.Node) -> tuple[str, list[ir.Block]] | None:
    if isinstance(node, ir.IfNode):
        arms = [block for _, block in node.arms]
        return "if", arms + ([node.orelse] if node.orelse else [])
    if isinstance(node, ir.ForNode):
        return ("parallel for" if node.parallel else "for"), [node.body]
    if isinstance(node, ir.WhileNode):
        return "while", [node.body]
    if isinstance(node, ir.ParallelNode):
        return "parallel", list(node.branches)
    if isinstance(node, ir.TryNode):
        catches = [clause.body for clause in node.catches]
        blocks = [node.body, *catches] + ([node.finally_] if node.finally_ is not None else [])
        return "try", blocks
    if isinstance(node, ir.RetryNode):
        return "retry", [node.body]
    if isinstance(node, ir.TimeoutNode):
        return "timeout", [node.body]
    if isinstance(node, ir.LoopValueNode):
        return _children(node.loop)
    return None


def _clauses(node: ir.StepNode) -> dict[str, str]:
    clauses: dict[str, str] = {}
    if node.retry is not None:
        clauses["retry"] = node.retry.count.source
    if node.timeout is not None:
        clauses["timeout"] = node.timeout.source
    if node.fallback is not None:
        clauses["fallback"] = node.fallback.source
    if node.skip_on_error:
        clauses["on_error"] = "skip"
    if node.compensate is not None:
        clauses["compensate"] = "yes"
    return clauses


def outline(flow: ir.FlowIR) -> dict[str, Any]:
    """The flow's graph, built from the IR (the shape of ``FlowGraph.to_json``)."""
    built = _Outline()
    built.block(flow.body, None)
    return {"flow": flow.name, "nodes": built.nodes, "edges": built.edges}
