"""Lowering: from the checked AST to the IR the runtime executes.

``lower_program`` walks every flow of a ``CheckResult`` once.  For each flow a
``_FlowLowerer``:

1. gives every symbol the flow uses a *slot* — parameters first, then each
   binding, step, loop and catch variable as it is met, plus ``run`` — so a
   flow invocation is a Python list (the frame) and a name is an index;
2. compiles every expression exactly once with the evaluator
   (``flowc.compiler.evaluator.compile_expr``), handing it a resolver that
   turns symbols into frame reads, module constants into lazily evaluated
   cells, and macro variables into fresh slots;
3. records for every node the slots it reads and writes and its effect, and
   computes each block's schedule (``_schedule``): dependency edges between
   nodes — a node waits for every earlier node that writes a slot it reads,
   or reads or writes a slot it writes; a ``log`` waits for everything before
   it, so logs keep their order — and the *segments*, maximal runs of pure
   computations and safe (GET/HEAD/OPTIONS) steps holding at least two steps,
   inside which the runtime overlaps independent nodes.

Cost.  Lowering takes time linear in the size of the program plus the number
of dependency edges it records.  Each block's edges are found in one pass
that indexes the slots written and touched so far (``_dependencies``), not by
comparing every pair of nodes, and whether a run holds independent steps is
read off each node's latest ancestor step (``_has_independent_steps``).  The
source text of an expression, which only ``--emit ir`` and failed assertions
show, is printed when first asked for.  The garbage collector is paused
while a program is lowered, as while it is parsed and checked: lowering
builds long-lived objects and frees few, and collections meanwhile traversed
everything built so far again and again (four times the work for 16,000
steps).  ``bench/compile.py`` measures it all.

Services become ``ServiceIR`` (their clause expressions compiled against the
module's constants; a gRPC service's target and descriptors in a ``GrpcChannel``)
and are shared by every step that names them.  A step that calls a gRPC method
gets a ``GrpcMethod``: the method's path and message names and the compiled value
of each request field.  Call steps
refer to their callee by key; ``ProgramIR`` holds every flow of every module.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from flowc.compiler import ast, ir
from flowc.compiler.checker import CheckResult
from flowc.compiler.clausecheck import clause_keyword
from flowc.compiler.loader import collector_paused
from flowc.compiler.printer import print_expr
from flowc.compiler.scope import CheckInfo, Symbol
from flowc.compiler.symbols import FlowInfo, ModuleSymbols, ServiceInfo
from flowc.grammar.keywords import SAFE_HTTP_METHODS


class ConstCell:
    """A module constant, evaluated the first time a run reads it."""

    _UNSET: Any = object()

    def __init__(self, name: str, compute: Callable[[], Any]) -> None:
        self.name = name
        self._compute = compute
        self._value: Any = ConstCell._UNSET

    def get(self, _frame: ir.Frame | None = None) -> Any:
        if self._value is ConstCell._UNSET:
            self._value = self._compute()
        return self._value


class _ModuleConsts:
    """The constants of every module, as lazily evaluated cells."""

    def __init__(self, info: CheckInfo) -> None:
        self.info = info
        self.cells: dict[int, ConstCell] = {}  # id(Symbol) -> cell

    def add_module(self, module: ModuleSymbols) -> None:
        from flowc.compiler.evaluator import compile_expr

        for symbol in module.consts.values():
            decl = symbol.node
            assert isinstance(decl, ast.ConstDecl)
            resolver = _ConstResolver(self)
            compiled = compile_expr(decl.value, self.info, resolver)
            self.cells[id(symbol)] = ConstCell(
                symbol.name, _const_thunk(compiled, len(resolver.extra))
            )

    def read(self, symbol: Symbol) -> ir.Compiled | None:
        cell = self.cells.get(id(symbol))
        return cell.get if cell is not None else None


def _const_thunk(compiled: ir.Compiled, frame_size: int) -> Callable[[], Any]:
    """Evaluate a constant's expression on a fresh frame (for its macro variables)."""

    def evaluate() -> Any:
        return compiled([None] * frame_size)

    return evaluate


class _ConstResolver:
    """Names in constant and service expressions: only other constants."""

    def __init__(self, consts: _ModuleConsts) -> None:
        self.consts = consts
        self.extra: list[Symbol] = []

    def read(self, symbol: Symbol) -> ir.Compiled | None:
        found = self.consts.read(symbol)
        if found is not None:
            return found
        if symbol.kind == "builtin":
            return None
        return operator.itemgetter(self.slot(symbol))

    def slot(self, symbol: Symbol) -> int:
        if symbol not in self.extra:
            self.extra.append(symbol)
        return self.extra.index(symbol)


def _compile(expr: ast.Expr, info: CheckInfo, resolver: Any) -> ir.Expr:
    from flowc.compiler.evaluator import compile_expr

    compiled = compile_expr(expr, info, resolver)
    return ir.Expr(functools.partial(print_expr, expr, from_parser=True), compiled, expr.span)


# --------------------------------------------------------------------------- services


def _lower_service(service: ServiceInfo, info: CheckInfo, consts: _ModuleConsts) -> ir.ServiceIR:
    resolver = _ConstResolver(consts)

    def compile_(expr: ast.Expr) -> ir.Expr:
        return _compile(expr, info, resolver)

    lowered = ir.ServiceIR(service.name, service.module.path, _base_url(service, compile_))
    _apply_common_clauses(lowered, service.clauses, compile_, info, resolver.slot)
    if service.decl.grpc is not None:
        lowered.grpc = _grpc_channel(service, compile_)
    auth = service.clauses.get("auth")
    if isinstance(auth, ast.AuthClause) and auth.scheme is None and service.contract is not None:
        from flowc.compiler.openapi_lowering import document_auth

        args = tuple(compile_(a) for a in auth.args)
        lowered.auth = document_auth(service.contract.auth, args, auth.span)
    breaker = service.clauses.get("circuit_breaker")
    if isinstance(breaker, ast.CircuitBreakerClause):
        lowered.circuit_breaker = (
            compile_(breaker.failures),
            compile_(breaker.window),
            compile_(breaker.cooldown),
        )
    limit = service.clauses.get("rate_limit")
    if isinstance(limit, ast.RateLimitClause):
        lowered.rate_limit = (compile_(limit.count), compile_(limit.per))
    concurrency = service.clauses.get("concurrency")
    if isinstance(concurrency, ast.ValueClause):
        lowered.concurrency = compile_(concurrency.value)
    lowered.frame_size = len(resolver.extra)
    return lowered


def _grpc_channel(service: ServiceInfo, compile_: Callable[[ast.Expr], ir.Expr]) -> ir.GrpcChannel:
    assert service.decl.grpc is not None
    tls = service.clauses.get("tls")
    contract = service.contract  # a grpc_service.GrpcContract
    return ir.GrpcChannel(
        compile_(service.decl.grpc),
        compile_(tls.value) if isinstance(tls, ast.ValueClause) else None,
        contract.proto,
        contract.contract.descriptors,
    )


def _base_url(service: ServiceInfo, compile_: Callable[[ast.Expr], ir.Expr]) -> ir.Expr | None:
    """The base URL expression, or an OpenAPI service's ``url`` clause or document's
    (a gRPC service has none: its channel's target)."""
    if service.decl.base_url is not None:
        return compile_(service.decl.base_url)
    if service.decl.grpc is not None:
        return None
    url = service.clauses.get("url")
    if isinstance(url, ast.ValueClause):
        return compile_(url.value)
    from flowc.compiler.openapi_lowering import constant_expr

    return constant_expr(service.contract.base_url, service.decl.span)


def _apply_common_clauses(
    target: ir.ServiceIR | ir.StepNode,
    clauses: dict[str, ast.Clause],
    compile_: Callable[[ast.Expr], ir.Expr],
    info: CheckInfo,
    slot_of: Callable[[Symbol], int] | None = None,
) -> None:
    for keyword in ("headers", "query", "timeout", "max_body"):
        clause = clauses.get(keyword)
        if isinstance(clause, ast.ValueClause):
            setattr(target, keyword, compile_(clause.value))
    auth = clauses.get("auth")
    if isinstance(auth, ast.AuthClause) and auth.scheme is not None:  # else from a document
        target.auth = (auth.scheme, tuple(compile_(a) for a in auth.args))
    retry = clauses.get("retry")
    if isinstance(retry, ast.RetryClause):
        target.retry = lower_retry(retry.policy, compile_, info, slot_of)
    accept = clauses.get("accept")
    if isinstance(accept, ast.AcceptClause):
        target.accept = tuple((r.low, r.high) for r in accept.ranges)


def lower_retry(
    policy: ast.RetryPolicy,
    compile_: Callable[[ast.Expr], ir.Expr],
    info: CheckInfo,
    slot_of: Callable[[Symbol], int] | None,
) -> ir.RetrySpec:
    backoff = None
    if policy.backoff is not None:
        b = policy.backoff
        backoff = ir.Backoff(
            b.kind,
            compile_(b.delay),
            compile_(b.max) if b.max is not None else None,
            compile_(b.factor) if b.factor is not None else None,
        )
    error_symbol = info.error_symbols.get(id(policy))
    error_slot = None
    if error_symbol is not None:
        error_slot = slot_of(error_symbol) if slot_of is not None else 0
    when = compile_(policy.when) if policy.when is not None else None
    return ir.RetrySpec(compile_(policy.count), backoff, policy.jitter, when, error_slot)


# --------------------------------------------------------------------------- flows


class _FlowLowerer:
    def __init__(
        self,
        flow: FlowInfo,
        result: CheckResult,
        consts: _ModuleConsts,
        services: dict[str, ir.ServiceIR],
        declared: dict[tuple[int, str], Symbol],
    ) -> None:
        self.flow = flow
        self.info = result.info
        self.consts = consts
        self.services = services
        self.slots: dict[int, int] = {}  # id(Symbol) -> slot
        self.slot_names: list[str] = []
        self.declared = declared  # (id(declaring node), name) -> symbol, of the whole program

    # ----------------------------------------------------------- slots and expressions

    def slot(self, symbol: Symbol) -> int:
        key = id(symbol)
        if key not in self.slots:
            self.slots[key] = len(self.slot_names)
            self.slot_names.append(symbol.name)
        return self.slots[key]

    def read(self, symbol: Symbol) -> ir.Compiled | None:
        const = self.consts.read(symbol)
        if const is not None:
            return const
        if symbol.kind == "builtin" and symbol.name != "run":
            return None
        return operator.itemgetter(self.slot(symbol))

    def decl_slot(self, node: ast.Node, name: str) -> int:
        return self.slot(self.declared[(id(node), name)])

    def expr(self, expr: ast.Expr) -> ir.Expr:
        lowered = _compile(expr, self.info, self)
        lowered.reads = frozenset(self._reads(expr))
        return lowered

    def _reads(self, expr: ast.Node) -> Iterable[int]:
        for node in ast.walk(expr):
            symbol = self.info.references.get(id(node))
            if symbol is not None and id(symbol) in self.slots:
                yield self.slots[id(symbol)]

    # ----------------------------------------------------------- entry

    def lower(self) -> ir.FlowIR:
        decl = self.flow.decl
        params = []
        for param, info in zip(decl.params, self.flow.params, strict=True):
            slot = self.decl_slot(param, param.name)
            default = self.expr(param.default) if param.default is not None else None
            params.append(ir.ParamIR(param.name, slot, info.type, default))
        run_symbol = self.flow.module.builtins["run"]
        run_slot = self.slot(run_symbol)
        body = self.block(decl.body)
        timeout = None
        for clause in decl.clauses:
            if isinstance(clause, ast.ValueClause) and clause.keyword == "timeout":
                timeout = self.expr(clause.value)
        return ir.FlowIR(
            decl.name,
            self.flow.module.path,
            decl.span,
            params,
            self.flow.declared_result,
            body,
            frame_size=len(self.slot_names),
            run_slot=run_slot,
            timeout=timeout,
            slot_names=self.slot_names,
        )

    def block(self, stmts: tuple[ast.Stmt, ...]) -> ir.Block:
        nodes = [self.stmt(s) for s in stmts]
        return _schedule(nodes)

    def stmt(self, stmt: ast.Stmt) -> ir.Node:
        method = getattr(self, "_" + type(stmt).__name__)
        node: ir.Node = method(stmt)
        return node

    # ----------------------------------------------------------- bindings

    def _LetStmt(self, stmt: ast.LetStmt) -> ir.Node:
        slot = self.decl_slot(stmt, stmt.name)
        return self._assign(stmt, slot, stmt.name, stmt.value)

    def _AssignStmt(self, stmt: ast.AssignStmt) -> ir.Node:
        symbol = self.info.references[id(stmt)]
        return self._assign(stmt, self.slot(symbol), stmt.name, stmt.value)

    def _assign(self, stmt: ast.Stmt, slot: int, name: str, value: ast.Value) -> ir.Node:
        if isinstance(value, ast.ForLoop | ast.WhileLoop):
            loop = self.loop(value, collect_slot=slot)
            return ir.LoopValueNode(
                stmt.span, loop, slot, reads=loop.reads, writes=frozenset({slot})
            )
        if isinstance(value, ast.WaitSignal):
            return self._wait_signal(stmt, slot, name, value)
        compiled = self.expr(value)
        return ir.Compute(
            stmt.span,
            slot,
            name,
            compiled,
            reads=compiled.reads,
            writes=frozenset({slot}),
            effect="pure",
        )

    def _wait_signal(self, stmt: ast.Stmt, slot: int, name: str, wait: ast.WaitSignal) -> ir.Node:
        timeout = self.expr(wait.timeout)
        payload = self.info.annotation_types[id(wait.payload)]
        return ir.WaitSignalNode(
            stmt.span,
            slot,
            name,
            wait.signal,
            payload,
            timeout,
            reads=timeout.reads,
            writes=frozenset({slot}),
        )

    # ----------------------------------------------------------- steps

    def _StepStmt(self, stmt: ast.StepStmt) -> ir.Node:
        slot = self.decl_slot(stmt, stmt.name)
        clauses = {clause_keyword(c): c for c in stmt.clauses}
        node = ir.StepNode(stmt.span, stmt.name, slot, "CALL", writes=frozenset({slot}))
        if isinstance(stmt.action, ast.HttpAction):
            self._http_action(node, stmt.action)
        else:
            self._call_action(node, stmt.action)
        _apply_common_clauses(node, clauses, self.expr, self.info, self.slot)
        self._step_clauses(node, clauses)
        body_type = self.info.step_body_types.get(id(stmt))
        node.result_type = body_type if stmt.result_type is not None else None
        contract = self.info.step_contracts.get(id(stmt))
        if contract is not None:
            self._against_operation(node, stmt, contract)
        call = self.info.grpc_calls.get(id(stmt))
        if call is not None:
            self._grpc_call(node, stmt, call)
        node.reads = frozenset(self._node_reads(node))
        return node

    def _http_action(self, node: ir.StepNode, action: ast.HttpAction) -> None:
        node.method = action.method
        node.effect = "safe" if action.method in SAFE_HTTP_METHODS else "unsafe"
        node.target = self.expr(action.target)
        target = self.info.step_targets.get(id(action))
        if isinstance(target, ServiceInfo):
            node.service = self.services[_service_key(target)]

    def _against_operation(self, node: ir.StepNode, stmt: ast.StepStmt, contract: Any) -> None:
        """An OpenAPI step: validate bodies against the document's types; an operation
        called by id becomes the HTTP request its arguments describe."""
        from flowc.common.types import JSON

        if stmt.result_type is None and contract.body_type != JSON:
            node.result_type = contract.body_type
        node.error_type = contract.error_type if contract.error_type != JSON else None
        if not isinstance(stmt.action, ast.CallAction):
            return
        from flowc.compiler.openapi_lowering import operation_request

        operation = contract.operation
        node.method = operation.method
        node.effect = "safe" if operation.method in SAFE_HTTP_METHODS else "unsafe"
        target = self.info.step_targets.get(id(stmt.action))
        if isinstance(target, ServiceInfo):
            node.service = self.services[_service_key(target)]
        arguments = [(name, place, self.expr(arg.value)) for name, place, arg in contract.arguments]
        node.target, node.query, node.headers = operation_request(
            operation.path, arguments, node.query, node.headers, stmt.action.span
        )
        node.args = ()
        node.flow_key = ""

    def _grpc_call(self, node: ir.StepNode, stmt: ast.StepStmt, call: Any) -> None:
        """A call of a gRPC method (a ``grpc_check.GrpcCall``): its request's fields."""
        from flowc.compiler.openapi_lowering import constant_expr

        method = call.method
        node.method = "GRPC"
        node.effect = "safe" if method.idempotency == "NO_SIDE_EFFECTS" else "unsafe"
        target = self.info.step_targets.get(id(stmt.action))
        if isinstance(target, ServiceInfo):
            node.service = self.services[_service_key(target)]
        node.target = constant_expr(method.path, stmt.action.span, source=method.path)
        node.grpc = ir.GrpcMethod(
            method.path,
            method.input,
            method.output,
            tuple((name, self.expr(arg.value)) for name, arg in call.fields),
            self.expr(call.message) if call.message is not None else None,
            method.idempotency,
        )
        node.args = ()
        node.flow_key = ""

    def _call_action(self, node: ir.StepNode, action: ast.CallAction) -> None:
        node.effect = "unsafe"
        callee = self.info.step_targets.get(id(action))
        if isinstance(callee, FlowInfo):
            node.flow_key = f"{callee.module.path}::{callee.name}"
        args = []
        for arg in action.args:
            name = self.info.call_arg_names.get(id(arg), arg.name or "")
            args.append((name, self.expr(arg.value)))
        node.args = tuple(args)

    def _step_clauses(self, node: ir.StepNode, clauses: dict[str, ast.Clause]) -> None:
        for keyword in ("json", "form", "body"):
            clause = clauses.get(keyword)
            if isinstance(clause, ast.ValueClause):
                node.body_kind, node.body = keyword, self.expr(clause.value)
        for keyword in ("idempotency_key", "fallback"):
            clause = clauses.get(keyword)
            if isinstance(clause, ast.ValueClause):
                setattr(node, keyword, self.expr(clause.value))
        on_error = clauses.get("on error")
        node.skip_on_error = isinstance(on_error, ast.OnErrorClause) and on_error.action == "skip"
        compensate = clauses.get("compensate")
        if isinstance(compensate, ast.CompensateClause):
            node.compensate = self.block(compensate.body)

    def _node_reads(self, node: ir.StepNode) -> Iterable[int]:
        exprs: list[ir.Expr | None] = [
            node.target,
            node.headers,
            node.query,
            node.body,
            node.timeout,
            node.max_body,
            node.idempotency_key,
            node.fallback,
        ]
        exprs += [value for _, value in node.args]
        if node.grpc is not None:
            exprs += [value for _, value in node.grpc.fields] + [node.grpc.message]
        if node.auth is not None:
            exprs += list(node.auth[1])
        if node.retry is not None:
            exprs += [node.retry.count, node.retry.when]
            backoff = node.retry.backoff
            if backoff is not None:
                exprs += [backoff.delay, backoff.max, backoff.factor]
        for expr in exprs:
            if expr is not None:
                yield from expr.reads

    # ----------------------------------------------------------- control flow

    def _IfStmt(self, stmt: ast.IfStmt) -> ir.Node:
        arms = [(self.expr(arm.cond), self.block(arm.body)) for arm in stmt.arms]
        orelse = self.block(stmt.orelse) if stmt.orelse is not None else None
        reads = set().union(*(cond.reads for cond, _ in arms))
        return ir.IfNode(stmt.span, arms, orelse, reads=frozenset(reads))

    def _LoopStmt(self, stmt: ast.LoopStmt) -> ir.Node:
        return self.loop(stmt.loop, collect_slot=None)

    def loop(self, loop: ast.Loop, collect_slot: int | None) -> ir.ForNode | ir.WhileNode:
        if isinstance(loop, ast.WhileLoop):
            cond = self.expr(loop.cond)
            limit = self.expr(loop.max) if loop.max is not None else None
            return ir.WhileNode(
                loop.span, cond, self.block(loop.body), limit, collect_slot, reads=cond.reads
            )
        iterable = self.expr(loop.iterable)
        var_slot = self.decl_slot(loop, loop.var)
        index_slot = self.decl_slot(loop, loop.index_var) if loop.index_var is not None else None
        limit = self.expr(loop.limit) if loop.limit is not None else None
        return ir.ForNode(
            loop.span,
            var_slot,
            iterable,
            self.block(loop.body),
            index_slot,
            loop.parallel,
            limit,
            collect_slot,
            reads=iterable.reads,
        )

    def _ParallelStmt(self, stmt: ast.ParallelStmt) -> ir.Node:
        return ir.ParallelNode(stmt.span, [self.block(b.body) for b in stmt.branches])

    def _TryStmt(self, stmt: ast.TryStmt) -> ir.Node:
        body = self.block(stmt.body)
        catches = []
        for clause in stmt.catches:
            symbol = self.info.error_symbols.get(id(clause))
            slot = self.slot(symbol) if symbol is not None else None
            when = self.expr(clause.when) if clause.when is not None else None
            catches.append(ir.CatchIR(slot, self.block(clause.body), when))
        finally_ = self.block(stmt.finally_body) if stmt.finally_body is not None else None
        return ir.TryNode(stmt.span, body, catches, finally_)

    def _RetryStmt(self, stmt: ast.RetryStmt) -> ir.Node:
        spec = lower_retry(stmt.policy, self.expr, self.info, self.slot)
        return ir.RetryNode(stmt.span, spec, self.block(stmt.body))

    def _TimeoutStmt(self, stmt: ast.TimeoutStmt) -> ir.Node:
        return ir.TimeoutNode(stmt.span, self.expr(stmt.duration), self.block(stmt.body))

    # ----------------------------------------------------------- simple statements

    def _SleepStmt(self, stmt: ast.SleepStmt) -> ir.Node:
        return ir.SleepNode(stmt.span, self.expr(stmt.duration))

    def _LogStmt(self, stmt: ast.LogStmt) -> ir.Node:
        value = self.expr(stmt.value)
        return ir.LogNode(stmt.span, value, reads=value.reads, effect="pure")

    def _AssertStmt(self, stmt: ast.AssertStmt) -> ir.Node:
        message = self.expr(stmt.message) if stmt.message is not None else None
        return ir.AssertNode(stmt.span, self.expr(stmt.cond), message)

    def _FailStmt(self, stmt: ast.FailStmt) -> ir.Node:
        status = self.expr(stmt.status) if stmt.status is not None else None
        data = self.expr(stmt.data) if stmt.data is not None else None
        return ir.FailNode(stmt.span, self.expr(stmt.value), stmt.kind, status, data)

    def _ReturnStmt(self, stmt: ast.ReturnStmt) -> ir.Node:
        if isinstance(stmt.value, ast.ForLoop | ast.WhileLoop):
            return ir.ReturnNode(stmt.span, None, self.loop(stmt.value, collect_slot=None))
        assert not isinstance(stmt.value, ast.WaitSignal)  # the checker refuses it (E0332)
        value = self.expr(stmt.value) if stmt.value is not None else None
        return ir.ReturnNode(stmt.span, value)

    def _BreakStmt(self, stmt: ast.BreakStmt) -> ir.Node:
        return ir.BreakNode(stmt.span)

    def _ContinueStmt(self, stmt: ast.ContinueStmt) -> ir.Node:
        return ir.ContinueNode(stmt.span)

    def _YieldStmt(self, stmt: ast.YieldStmt) -> ir.Node:
        return ir.YieldNode(stmt.span, self.expr(stmt.value))


def _declarations(symbols: list[Symbol]) -> dict[tuple[int, str], Symbol]:
    return {(id(s.node), s.name): s for s in symbols if s.node is not None}


def _service_key(service: ServiceInfo) -> str:
    return f"{service.module.path}::{service.name}"


# --------------------------------------------------------------------------- scheduling


def _schedule(nodes: list[ir.Node]) -> ir.Block:
    """Dependency edges and overlappable segments of one block (see the module doc)."""
    block = ir.Block(nodes, _dependencies(nodes))
    start = 0
    while start < len(nodes):
        end = start
        while end < len(nodes) and nodes[end].effect in _OVERLAPPABLE:
            end += 1
        if _has_independent_steps(nodes, block.deps, start, end):
            block.segments.append((start, end))
        start = max(end, start + 1)
    return block


_OVERLAPPABLE: Final = frozenset({"pure", "safe"})


def _dependencies(nodes: list[ir.Node]) -> list[Sequence[int]]:
    """Every node's dependency edges, in one pass over the block.

    A node depends on the earlier nodes of the current *run* — the pure and safe
    nodes since the last other node — that write a slot it reads, or read or
    write a slot it writes; a log on every node of the run, kept as a ``range``
    so that a run with many logs does not cost the square of its length.
    Instead of testing every earlier node, the pass keeps, per slot, the nodes
    of the run that write it (``writers``) and those that read or write it
    (``touchers``): the work is the number of edges found, not the square of
    the block's length.
    """
    deps: list[Sequence[int]] = []
    run_start = 0
    writers: dict[int, list[int]] = {}
    touchers: dict[int, list[int]] = {}
    for index, node in enumerate(nodes):
        if isinstance(node, ir.LogNode):
            deps.append(range(run_start, index))
        else:
            deps.append(_edges(node, writers, touchers))
        if node.effect not in _OVERLAPPABLE:
            run_start = index + 1
            writers.clear()
            touchers.clear()
            continue
        for slot in node.writes:
            writers.setdefault(slot, []).append(index)
        for slot in node.reads | node.writes:
            touchers.setdefault(slot, []).append(index)
    return deps


def _edges(
    node: ir.Node, writers: dict[int, list[int]], touchers: dict[int, list[int]]
) -> tuple[int, ...]:
    found: set[int] = set()
    for slot in node.reads:
        found.update(writers.get(slot, ()))
    for slot in node.writes:
        found.update(touchers.get(slot, ()))
    return tuple(sorted(found))


def _has_independent_steps(
    nodes: list[ir.Node], deps: list[Sequence[int]], start: int, end: int
) -> bool:
    """Whether two steps of ``nodes[start:end]`` could run at the same time.

    A segment whose steps form a chain (each depends, directly or not, on the
    one before) gains nothing from being scheduled as a graph, so it runs in
    program order.  Each node records the latest step among itself and its
    ancestors (-1 for none).  No ancestor of a step comes after the step before
    it, so the two are ordered exactly when the latest step among the later
    one's ancestors is the earlier one.  That is one look at each edge, and
    none at a log's: a log waits for every node before it, so its latest step
    is the latest so far (``highest``).
    """
    latest: list[int] = []  # per node of the segment
    highest = previous_step = -1
    for index in range(start, end):
        before = deps[index]
        if isinstance(before, range) and before == range(start, index):
            reach = highest
        else:
            reach = max((latest[dep - start] for dep in before if dep >= start), default=-1)
        if nodes[index].effect == "safe":
            if previous_step >= 0 and reach != previous_step:
                return True
            previous_step = reach = index
        latest.append(reach)
        highest = max(highest, reach)
    return False


# --------------------------------------------------------------------------- program


def lower_program(result: CheckResult) -> ir.ProgramIR:
    """Lower every flow of a checked program (which must have no errors), with the
    garbage collector paused (``loader.collector_paused``)."""
    with collector_paused():
        return _lower_program(result)


def _lower_program(result: CheckResult) -> ir.ProgramIR:
    info = result.info
    consts = _ModuleConsts(info)
    services: dict[str, ir.ServiceIR] = {}
    for module in result.modules.values():
        consts.add_module(module)
    for module in result.modules.values():
        for service in module.services.values():
            services[_service_key(service)] = _lower_service(service, info, consts)
    flows: dict[str, ir.FlowIR] = {}
    declared = _declarations(info.symbols)
    for module in result.modules.values():
        for flow in module.flows.values():
            lowered = _FlowLowerer(flow, result, consts, services, declared).lower()
            flows[lowered.key] = lowered
    _link_calls(flows)
    return ir.ProgramIR(result.program.root, flows, services)


def _link_calls(flows: dict[str, ir.FlowIR]) -> None:
    for flow in flows.values():
        for node in _all_nodes(flow.body):
            if isinstance(node, ir.StepNode) and node.method == "CALL":
                node.flow = flows.get(node.flow_key)


def _all_nodes(block: ir.Block) -> Iterable[ir.Node]:
    for node in block.nodes:
        yield node
        for child in ir.child_blocks(node):
            yield from _all_nodes(child)
