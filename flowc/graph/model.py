"""A flow's graph, built from its lowered IR.

``flow_graph`` walks a ``FlowIR``'s blocks and makes one ``GraphNode`` per
statement, plus a ``start`` and an ``end``.  Statements that hold blocks
(``if``, loops, ``parallel``, ``try``, ``retry`` and ``timeout`` blocks) become
*region* nodes; the nodes inside them name the region as their ``parent``.

Edges come from the schedule the lowering already computed, so the picture
shows what the runtime will do rather than a second guess at it:

* inside a *segment* (``Block.segments``: a run of pure and safe nodes that
  the runtime overlaps), a node's edges are its data dependencies
  (``Block.deps``), of kind ``data``; a segment node with no dependency in
  its segment hangs off what came before the segment with an ``order`` edge,
  so two nodes with no path between them are the ones that overlap;
* a barrier (an unsafe step, control flow) follows everything still open
  before it with an ``order`` edge: program order;
* a region's arms, branches and handlers start with ``branch`` edges.

Node ids are assigned in walk order (``n1``, ``n2``, ...), so the same
program always gives the same graph; ``to_json`` is the shape the web UI and
``--format json`` share.
"""

from __future__ import annotations

from typing import Any, Final

import attrs

from flowc.compiler import ir

REGION_KINDS: Final = frozenset(
    {
        "call",
        "if",
        "match",
        "for",
        "while",
        "parallel",
        "try",
        "catch",
        "finally",
        "retry",
        "timeout",
    }
)
"""Node kinds that may hold others (``parent``): the renderers draw them as regions."""


@attrs.frozen
class GraphNode:
    id: str
    kind: str
    label: str
    parent: str | None = None
    step: str | None = None
    method: str | None = None
    service: str | None = None
    path: str | None = None
    callee: str | None = None
    span: tuple[int, int, int, int] | None = None
    clauses: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> dict[str, Any]:
        span = None
        if self.span is not None:
            line, col, end_line, end_col = self.span
            span = {"line": line, "col": col, "end_line": end_line, "end_col": end_col}
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "parent": self.parent,
            "step": self.step,
            "method": self.method,
            "service": self.service,
            "path": self.path,
            "callee": self.callee,
            "span": span,
            "clauses": dict(self.clauses),
        }


@attrs.frozen
class GraphEdge:
    source: str
    target: str
    kind: str  # order | data | branch
    label: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "kind": self.kind,
            "label": self.label,
        }


@attrs.frozen
class FlowGraph:
    flow: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "nodes": [node.to_json() for node in self.nodes],
            "edges": [edge.to_json() for edge in self.edges],
        }

    def children(self) -> dict[str | None, list[GraphNode]]:
        """The nodes by their parent's id (``None``: the top level)."""
        found: dict[str | None, list[GraphNode]] = {}
        for node in self.nodes:
            found.setdefault(node.parent, []).append(node)
        return found


class UnknownFlow(LookupError):
    """No flow of that name in the program's root module."""


def find_flow(program: ir.ProgramIR, flow: str | None) -> ir.FlowIR:
    """The root module's flow called ``flow``, or its only (or first) flow."""
    flows = program.flows_of(program.root)
    if flow is None:
        if not flows:
            raise UnknownFlow("")
        return flows[0]
    for candidate in flows:
        if candidate.name == flow:
            return candidate
    raise UnknownFlow(flow)


def flow_graph(program: ir.ProgramIR, flow: str, *, expand: bool = False) -> FlowGraph:
    """The graph of the root module's flow ``flow`` (``UnknownFlow`` if none).

    With ``expand``, a sub-flow call is a region holding the callee's graph
    (its steps' ``step`` is their run key, ``call/inner``); a flow already
    being expanded further up is left collapsed.
    """
    target = find_flow(program, flow)
    builder = _Builder(expand, target.key)
    start = builder.add("start", f"flow {target.name}", None, span=target.span)
    exits = builder.block(target.body, [start], None)
    end = builder.add("end", "end", None)
    builder.join(exits + builder.returns, end)
    return FlowGraph(target.name, tuple(builder.nodes), tuple(builder.edges))


Open = list[str]  # the nodes whose successor is whatever comes next


class _Builder:
    def __init__(self, expand: bool = False, root: str = "") -> None:
        self.expand = expand
        self.prefix = ""  # the step-key prefix of the sub-flow being expanded
        self.expanding = [root]
        self.nodes: list[GraphNode] = []
        self.edges: list[GraphEdge] = []
        self.returns: Open = []  # `return` nodes: they lead to the end

    def add(
        self, kind: str, label: str, parent: str | None, *, span: Any = None, **fields: Any
    ) -> str:
        node_id = f"n{len(self.nodes)}"
        where = None if span is None else (span.line, span.col, span.end_line, span.end_col)
        self.nodes.append(GraphNode(node_id, kind, label, parent, span=where, **fields))
        return node_id

    def join(
        self, sources: Open, target: str, kind: str = "order", label: str | None = None
    ) -> None:
        for source in dict.fromkeys(sources):
            self.edges.append(GraphEdge(source, target, kind, label))

    def block(self, block: ir.Block, before: Open, parent: str | None) -> Open:
        """Add ``block``'s nodes after ``before``; the nodes left open after it."""
        segment_of = {i: (s, e) for s, e in block.segments for i in range(s, e) if e - s > 1}
        open_: Open = list(before)
        entry: Open = list(before)  # what the current segment hangs off
        tails: list[Open] = []
        for index, node in enumerate(block.nodes):
            segment = segment_of.get(index)
            if segment is None or index == segment[0]:
                entry = open_
            if segment is None:
                head, tail = self.node(node, parent)
                self.join(entry, head)
                open_ = tail
            else:
                head, tail = self.node(node, parent)
                inner = [d for d in _deps(block, index) if d >= segment[0]]
                if inner:
                    for dep in inner:
                        self.join(tails[dep], head, "data")
                else:
                    self.join(entry, head)
            tails.append(tail)
            if segment is not None and index == segment[1] - 1:
                open_ = self._segment_open(block, segment, tails)
        return open_

    def _segment_open(self, block: ir.Block, segment: tuple[int, int], tails: list[Open]) -> Open:
        """The segment's nodes that no later one of them waits for."""
        start, end = segment
        waited = {d for i in range(start, end) for d in _deps(block, i) if d >= start}
        found: Open = []
        for i in range(start, end):
            if i not in waited:
                found += tails[i]
        return found

    def node(self, node: ir.Node, parent: str | None) -> tuple[str, Open]:
        """Add ``node`` (and what is inside it): its head and the nodes left open."""
        if isinstance(node, ir.StepNode):
            return self.step(node, parent)
        if isinstance(node, ir.LoopValueNode):
            return self.node(node.loop, parent)
        if isinstance(node, ir.ReturnNode) and node.loop is not None:
            head, tail = self.node(node.loop, parent)
            ret = self.add("return", "return (loop value)", parent, span=node.span)
            self.join(tail, ret)
            self.returns.append(ret)
            return head, []
        region = _REGION_BUILDERS.get(type(node))
        if region is not None:
            built: tuple[str, Open] = getattr(self, region)(node, parent)
            return built
        kind, label = _simple(node)
        head = self.add(kind, label, parent, span=node.span)
        if kind == "return":
            self.returns.append(head)
        return head, ([] if kind in ("return", "fail") else [head])

    def step(self, node: ir.StepNode, parent: str | None) -> tuple[str, Open]:
        clauses = tuple(_step_clauses(node))
        if node.method == "CALL":
            callee = node.flow.name if node.flow is not None else node.flow_key
            label = f"{node.name}: call {callee}"
            head = self.add(
                "call",
                label,
                parent,
                span=node.span,
                step=self.prefix + node.name,
                callee=callee,
                clauses=clauses,
                method="CALL",
            )
            if self.expand and node.flow is not None and node.flow.key not in self.expanding:
                return head, self._callee(node, node.flow, head)
        else:
            service = node.service.name if node.service is not None else None
            path = node.grpc.path if node.grpc is not None else _source(node.target)
            label = f"{node.name}: {node.method} {(service + ' ') if service else ''}{path or ''}"
            head = self.add(
                "step",
                label.rstrip(),
                parent,
                span=node.span,
                step=self.prefix + node.name,
                method=node.method,
                service=service,
                path=path,
                clauses=clauses,
            )
        return head, [head]

    def _callee(self, node: ir.StepNode, flow: ir.FlowIR, head: str) -> Open:
        """The callee's body inside the call node; its returns end the call."""
        saved = (self.prefix, self.returns)
        self.prefix, self.returns = f"{self.prefix}{node.name}/", []
        self.expanding.append(flow.key)
        tail = self.block(flow.body, [head], head) + self.returns
        self.expanding.pop()
        self.prefix, self.returns = saved
        return tail or [head]

    def _if(self, node: Any, parent: str | None) -> tuple[str, Open]:
        head = self.add("if", "if", parent, span=node.span)
        open_: Open = []
        for cond, arm in node.arms:
            open_ += self._arm(arm, head, str(cond.source))
        if node.orelse is not None:
            open_ += self._arm(node.orelse, head, "else")
        else:
            open_.append(head)
        return head, open_

    def _arm(self, block: ir.Block, head: str, label: str) -> Open:
        mark = len(self.edges)
        tail = self.block(block, [head], head)
        if len(self.edges) > mark and self.edges[mark].source == head:
            first = self.edges[mark]
            self.edges[mark] = GraphEdge(head, first.target, "branch", label)
        return tail if block.nodes else [head]

    def _for(self, node: Any, parent: str | None) -> tuple[str, Open]:
        mode = (
            " parallel" + (f" {node.limit.source}" if node.limit else "") if node.parallel else ""
        )
        label = f"for {_slot_name(node)} in {node.iterable.source}{mode}"
        kind = "for"
        clauses = (
            (("parallel", node.limit.source if node.limit else "unbounded"),)
            if node.parallel
            else ()
        )
        head = self.add(kind, label, parent, span=node.span, clauses=clauses)
        return head, self.block(node.body, [head], head) or [head]

    def _while(self, node: Any, parent: str | None) -> tuple[str, Open]:
        clauses = (("max", node.max.source),) if node.max is not None else ()
        head = self.add(
            "while", f"while {node.cond.source}", parent, span=node.span, clauses=clauses
        )
        return head, self.block(node.body, [head], head) or [head]

    def _parallel(self, node: Any, parent: str | None) -> tuple[str, Open]:
        head = self.add("parallel", "parallel", parent, span=node.span)
        open_: Open = []
        for index, branch in enumerate(node.branches):
            open_ += self._arm(branch, head, f"branch {index + 1}")
        return head, open_ or [head]

    def _try(self, node: Any, parent: str | None) -> tuple[str, Open]:
        head = self.add("try", "try", parent, span=node.span)
        open_ = self.block(node.body, [head], head) or [head]
        for clause in node.catches:  # (a `when` filter labels its branch)
            catch = self.add("catch", "catch", head, span=None)
            label = "error" if clause.when is None else f"error when {clause.when.source}"
            self.join([head], catch, "branch", label)
            open_ = open_ + (self.block(clause.body, [catch], catch) or [catch])
        if node.finally_ is not None:
            final = self.add("finally", "finally", head)
            self.join(open_, final)
            open_ = self.block(node.finally_, [final], final) or [final]
        return head, open_

    def _retry(self, node: Any, parent: str | None) -> tuple[str, Open]:
        text = _retry_text(node.retry)
        head = self.add("retry", "retry", parent, span=node.span, clauses=(("retry", text),))
        return head, self.block(node.body, [head], head) or [head]

    def _timeout(self, node: Any, parent: str | None) -> tuple[str, Open]:
        text = node.duration.source
        head = self.add("timeout", "timeout", parent, span=node.span, clauses=(("timeout", text),))
        return head, self.block(node.body, [head], head) or [head]


_REGION_BUILDERS: dict[type, str] = {
    ir.IfNode: "_if",
    ir.ForNode: "_for",
    ir.WhileNode: "_while",
    ir.ParallelNode: "_parallel",
    ir.TryNode: "_try",
    ir.RetryNode: "_retry",
    ir.TimeoutNode: "_timeout",
}


def _deps(block: ir.Block, index: int) -> list[int]:
    return list(block.deps[index]) if index < len(block.deps) else []


def _source(expr: ir.Expr | None) -> str | None:
    return None if expr is None else expr.source


def _slot_name(node: ir.ForNode) -> str:
    return f"@{node.var_slot}"


def _simple(node: ir.Node) -> tuple[str, str]:
    """The kind and label of a node without blocks."""
    if isinstance(node, ir.Compute):
        return "compute", f"{node.name} = {node.value.source}"
    table: dict[type, tuple[str, str]] = {
        ir.SleepNode: ("sleep", "sleep"),
        ir.LogNode: ("log", "log"),
        ir.AssertNode: ("assert", "assert"),
        ir.FailNode: ("fail", "fail"),
        ir.ReturnNode: ("return", "return"),
        ir.BreakNode: ("compute", "break"),
        ir.ContinueNode: ("compute", "continue"),
        ir.YieldNode: ("compute", "yield"),
    }
    kind, word = table.get(type(node), ("compute", type(node).__name__))
    for name in ("duration", "cond", "value"):
        value = getattr(node, name, None)
        if isinstance(value, ir.Expr):
            return kind, f"{word} {value.source}"
    return kind, word


def _retry_text(spec: ir.RetrySpec) -> str:
    text = spec.count.source
    if spec.backoff is not None:
        text += f" backoff {spec.backoff.kind} {spec.backoff.delay.source}"
    if spec.jitter:
        text += " jitter"
    if spec.when is not None:
        text += f" when {spec.when.source}"
    return text


def _step_clauses(node: ir.StepNode) -> list[tuple[str, str]]:
    service = node.service
    found: list[tuple[str, str]] = []
    if node.retry is not None:
        found.append(("retry", _retry_text(node.retry)))
    elif service is not None and service.retry is not None:
        found.append(("retry", _retry_text(service.retry) + " (service)"))
    if node.timeout is not None:
        found.append(("timeout", node.timeout.source))
    elif service is not None and service.timeout is not None:
        found.append(("timeout", service.timeout.source + " (service)"))
    if node.fallback is not None:
        found.append(("fallback", node.fallback.source))
    if node.skip_on_error:
        found.append(("on_error", "skip"))
    if node.compensate is not None:
        found.append(("compensate", f"{len(node.compensate.nodes)} statements"))
    if node.idempotency_key is not None:
        found.append(("idempotency_key", node.idempotency_key.source))
    return found
