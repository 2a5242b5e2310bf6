"""The intermediate representation the runtime executes.

A checked flow is lowered (``lowering.py``) to a ``FlowIR``: a tree of
``Block``s of nodes, one node per statement, in which

* every name has become a *slot*, an index into the flow invocation's frame
  (a Python list), so the runtime never looks a name up;
* every expression has become an ``Expr``: its source (for messages and
  ``--emit ir``) and a compiled closure ``Frame -> value``;
* every node knows the slots it ``reads`` and ``writes`` and its ``effect``
  (``pure``: a computation or a log; ``safe``: a GET/HEAD/OPTIONS step or a
  gRPC method marked ``NO_SIDE_EFFECTS``;
  ``unsafe``: any other step or sub-flow call; ``control``: everything else);
* every block carries its *schedule*: the data-dependency and effect-order
  edges between its nodes (``Block.deps``) and its *segments*, the maximal
  runs of pure and safe nodes between two barriers.  Inside a segment a node
  may start as soon as the nodes it depends on have finished — that is the
  auto-parallelism of LANGUAGE.md §7; barriers (unsafe steps, control flow)
  keep program order.  ``--sequential`` ignores the segments.

``format_ir`` prints the IR readably for ``flowc check --emit ir``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs

from flowc.common.types import Type
from flowc.compiler.ast import Span

Frame = list[Any]
Compiled = Callable[[Frame], Any]

# Every IR class is ``attrs.define(eq=False, repr=False, getstate_setstate=False,
# match_args=False)``: ``format_ir`` is how IR is shown, and generating attrs'
# ``__repr__``, pickling and pattern-matching support for 27 classes cost about
# 10 ms of every ``flowc run``.  (Spelled out on each class: mypy's attrs plugin
# does not follow an alias of the decorator.)


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class Expr:
    """A compiled expression.  Its source text is printed the first time it is
    asked for (``--emit ir``, a failed assertion): printing every expression of a
    program while lowering it cost more than compiling them."""

    _source: str | Callable[[], str]  # the text, or what prints it
    run: Compiled
    span: Span
    reads: frozenset[int] = frozenset()

    @property
    def source(self) -> str:
        if not isinstance(self._source, str):
            self._source = self._source()
        return self._source

    def __str__(self) -> str:
        return self.source


# --------------------------------------------------------------------------- nodes


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class Node:
    span: Span
    reads: frozenset[int] = attrs.field(default=frozenset(), kw_only=True)
    writes: frozenset[int] = attrs.field(default=frozenset(), kw_only=True)
    effect: str = attrs.field(default="control", kw_only=True)


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class Block:
    nodes: list[Node]
    # per node: the earlier nodes it waits for, in ascending order (a log's is a range)
    deps: list[Sequence[int]] = attrs.field(factory=list)
    segments: list[tuple[int, int]] = attrs.field(factory=list)  # [start, end) runs to overlap

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class Compute(Node):
    """``let``/``var``/assignment of an expression to a slot."""

    slot: int
    name: str
    value: Expr
    check_type: Type | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class Backoff:
    kind: str  # fixed linear exponential
    delay: Expr
    max: Expr | None = None
    factor: Expr | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class RetrySpec:
    count: Expr
    backoff: Backoff | None = None
    jitter: bool = False
    when: Expr | None = None
    error_slot: int | None = None  # where `error` lives while `when` runs


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class GrpcChannel:
    """Where a gRPC service is and the descriptors of its messages."""

    target: Expr  # "host:port" (or any gRPC target), evaluated once per engine
    tls: Expr | None  # the `tls` clause; None: TLS unless the target is loopback
    proto: str  # the .proto file, for messages
    descriptors: bytes  # a serialized FileDescriptorSet: the runtime's message classes


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class GrpcMethod:
    """The unary method a step calls and how its request is made."""

    path: str  # /package.Service/Method
    request: str  # the request message's full name
    response: str
    fields: tuple[tuple[str, Expr], ...] = ()  # (field, value) for named arguments
    message: Expr | None = None  # the whole request, given positionally
    idempotency: str | None = None  # NO_SIDE_EFFECTS | IDEMPOTENT


#: The ``auth`` scheme of OAuth 2.0 client credentials (``runtime/oauth2.py``).
OAUTH2: Final = "oauth2 client_credentials"
#: The ``auth`` scheme of AWS Signature Version 4 (``runtime/sigv4.py``).
AWS_SIGV4: Final = "aws_sigv4"
#: Schemes applied per attempt by ``stepexec`` rather than as a header by ``requests``.
SIGNING_SCHEMES: Final = frozenset({OAUTH2, AWS_SIGV4})


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ServiceIR:
    name: str
    module: str
    base_url: Expr | None
    headers: Expr | None = None
    query: Expr | None = None
    auth: tuple[str, tuple[Expr, ...]] | None = None
    timeout: Expr | None = None
    retry: RetrySpec | None = None
    circuit_breaker: tuple[Expr, Expr, Expr] | None = None  # failures, window, cooldown
    rate_limit: tuple[Expr, Expr] | None = None  # count, period
    concurrency: Expr | None = None
    accept: tuple[tuple[int, int], ...] | None = None
    max_body: Expr | None = None  # an int of bytes or a size string ("50MB")
    frame_size: int = 0  # slots its expressions need (macro and `error` variables)
    grpc: GrpcChannel | None = None  # a gRPC service (base_url is None then)


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class StepNode(Node):
    name: str
    slot: int
    method: str  # GET ... or CALL
    service: ServiceIR | None = None
    target: Expr | None = None  # URL or path
    flow: FlowIR | None = None  # for call steps (filled after all flows are lowered)
    flow_key: str = ""
    args: tuple[tuple[str, Expr], ...] = ()  # (parameter name, value)
    headers: Expr | None = None
    query: Expr | None = None
    body_kind: str | None = None  # json form body
    body: Expr | None = None
    auth: tuple[str, tuple[Expr, ...]] | None = None
    timeout: Expr | None = None
    retry: RetrySpec | None = None
    accept: tuple[tuple[int, int], ...] | None = None
    max_body: Expr | None = None
    idempotency_key: Expr | None = None
    fallback: Expr | None = None
    skip_on_error: bool = False
    compensate: Block | None = None
    result_type: Type | None = None  # `-> T` or an OpenAPI response: validate the body
    error_type: Type | None = None  # OpenAPI: a failing response's body, as `error.body`
    grpc: GrpcMethod | None = None  # a call of a gRPC method (method "GRPC")


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class IfNode(Node):
    arms: list[tuple[Expr, Block]]
    orelse: Block | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ForNode(Node):
    var_slot: int
    iterable: Expr
    body: Block
    index_slot: int | None = None
    parallel: bool = False
    limit: Expr | None = None
    collect_slot: int | None = None  # a loop used as a value writes its list here
    label: str = ""


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class WhileNode(Node):
    cond: Expr
    body: Block
    max: Expr | None = None
    collect_slot: int | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ParallelNode(Node):
    branches: list[Block]


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class CatchIR:
    """One ``catch [name] [when cond]`` clause: the error goes to ``slot``."""

    slot: int | None
    body: Block
    when: Expr | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class TryNode(Node):
    body: Block
    catches: list[CatchIR] = attrs.Factory(list)
    finally_: Block | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class RetryNode(Node):
    retry: RetrySpec
    body: Block


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class TimeoutNode(Node):
    duration: Expr
    body: Block


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class SleepNode(Node):
    duration: Expr


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class WaitSignalNode(Node):
    """``let slot = wait signal "name" -> payload timeout duration``."""

    slot: int
    name: str
    signal: str
    payload: Type
    timeout: Expr


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class LogNode(Node):
    value: Expr


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class AssertNode(Node):
    cond: Expr
    message: Expr | None = None

    @property
    def source(self) -> str:
        """The condition's source text, for the failure message."""
        return self.cond.source


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class FailNode(Node):
    """``fail``: ``kind`` None fails with kind ``fail`` (or re-raises a caught error)."""

    value: Expr
    kind: str | None = None
    status: Expr | None = None
    data: Expr | None = None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ReturnNode(Node):
    value: Expr | None = None
    loop: ForNode | WhileNode | None = None  # a `return for ...` loop value


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class BreakNode(Node):
    pass


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ContinueNode(Node):
    pass


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class YieldNode(Node):
    value: Expr


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class LoopValueNode(Node):
    """``let x = for ...``: run the loop, store the collected list in ``slot``."""

    loop: ForNode | WhileNode
    slot: int


# --------------------------------------------------------------------------- flows


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ParamIR:
    name: str
    slot: int
    type: Type
    default: Expr | None


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class FlowIR:
    name: str
    module: str
    span: Span
    params: list[ParamIR]
    result_type: Type | None
    body: Block
    frame_size: int
    run_slot: int
    timeout: Expr | None = None
    slot_names: list[str] = attrs.field(factory=list)

    @property
    def key(self) -> str:
        return f"{self.module}::{self.name}"


@attrs.define(eq=False, repr=False, getstate_setstate=False, match_args=False)
class ProgramIR:
    root: str
    flows: dict[str, FlowIR]  # by FlowIR.key
    services: dict[str, ServiceIR]

    def flows_of(self, module: str) -> list[FlowIR]:
        return [f for f in self.flows.values() if f.module == module]


# --------------------------------------------------------------------------- printing


def format_ir(program: ProgramIR) -> str:
    """A readable listing of every flow of the root module."""
    lines: list[str] = []
    for flow in program.flows_of(program.root):
        lines += _format_flow(flow)
    return "\n".join(lines)


def _format_flow(flow: FlowIR) -> list[str]:
    params = ", ".join(f"{p.name}@{p.slot}: {p.type}" for p in flow.params)
    lines = [
        f"flow {flow.name}({params}) -> {flow.result_type or 'inferred'}"
        f"  [frame {flow.frame_size} slots]"
    ]
    lines += _format_block(flow.body, 1)
    lines.append("")
    return lines


def _format_block(block: Block, depth: int) -> list[str]:
    pad = "  " * depth
    lines: list[str] = []
    in_segment = {i for start, end in block.segments for i in range(start, end)}
    for index, node in enumerate(block.nodes):
        deps = block.deps[index] if index < len(block.deps) else ()
        mark = "~" if index in in_segment else " "
        head = f"{pad}{mark}{index:>2} {_describe(node)}"
        facts = f"reads {sorted(node.reads)} writes {sorted(node.writes)} {node.effect}"
        if deps:
            facts += f" after {list(deps)}"
        lines.append(f"{head}    # {facts}")
        for label, child in _children(node):
            lines.append(f"{pad}     {label}:")
            lines += _format_block(child, depth + 3)
    return lines


def _describe(node: Node) -> str:
    if isinstance(node, Compute):
        return f"@{node.slot} {node.name} = {node.value}"
    if isinstance(node, StepNode):
        target = (
            node.flow_key
            if node.method == "CALL"
            else f"{node.service.name + ' ' if node.service else ''}{node.target}"
        )
        return f"step {node.name}@{node.slot} = {node.method} {target}"
    if isinstance(node, ForNode):
        kind = f" parallel {node.limit or ''}" if node.parallel else ""
        return f"for @{node.var_slot} in {node.iterable}{kind}"
    if isinstance(node, WhileNode):
        return f"while {node.cond} max {node.max or 'default'}"
    if isinstance(node, LoopValueNode):
        return f"@{node.slot} = loop value"
    for name in ("value", "duration", "cond"):
        value = getattr(node, name, None)
        if value is not None:
            return f"{type(node).__name__.removesuffix('Node').lower()} {value}"
    return type(node).__name__.removesuffix("Node").lower()


def child_blocks(node: Node) -> list[Block]:
    """The blocks directly inside ``node``, without printing any expression."""
    return [block for _, block in _children(node, labels=False)]


def _children(node: Node, *, labels: bool = True) -> list[tuple[str, Block]]:
    """The blocks directly inside ``node``, each with its label in ``format_ir``
    (an ``if`` arm's label prints its condition, unless ``labels`` is false)."""
    if isinstance(node, IfNode):
        found = [(f"if {cond}" if labels else "if", block) for cond, block in node.arms]
        return found + ([("else", node.orelse)] if node.orelse else [])
    if isinstance(node, LoopValueNode):
        return _children(node.loop, labels=labels)
    if isinstance(node, ForNode | WhileNode | RetryNode | TimeoutNode):
        return [("body", node.body)]
    if isinstance(node, ParallelNode):
        return [(f"branch {i}", b) for i, b in enumerate(node.branches)]
    if isinstance(node, TryNode):
        found = [("try", node.body)]
        found += [("catch", clause.body) for clause in node.catches]
        return found + ([("finally", node.finally_)] if node.finally_ else [])
    if isinstance(node, StepNode) and node.compensate is not None:
        return [("compensate", node.compensate)]
    return []
