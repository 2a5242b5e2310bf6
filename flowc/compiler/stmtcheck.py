"""Checking the body of a flow: statements, steps and control flow.

``FlowChecker`` walks a flow's statements once, in order, with a scope chain
(``scope.Scope``) and a stack of *frames* — the enclosing loops, parallel
branches, compensation blocks and retry blocks.  For every statement it:

* checks expression types (delegating to ``ExprChecker``) and declares the
  names the statement binds.  ``if``/``for``/``while``/``try`` bodies get
  child scopes; the bodies of ``parallel`` branches, ``retry`` and ``timeout``
  blocks are *transparent*: their bindings stay visible after the block;
* enforces the structural rules of LANGUAGE.md §6 using the frame stack:
  ``break``/``continue`` need a loop and may not cross a parallel branch or a
  compensation block (``break`` may not leave a parallel loop); ``yield``
  needs a loop used as a value; a ``var`` declared outside a parallel branch
  or parallel loop may not be assigned inside it (each symbol remembers the
  parallel nesting level it was declared at);
* returns a ``Reach`` — can control continue after the statement (NORMAL),
  does it always leave the flow (EXITS: ``return``, ``fail``), or always jump
  (JUMPS: ``break``, ``continue``)?  A block stops at the first statement that
  does not reach NORMAL and warns that the rest is unreachable; a flow with a
  declared result type must not reach the end of its body NORMALly.

Steps: ``FlowChecker`` checks a step's name and its ``compensate`` block; what
the step calls (a service or a sub-flow, its arguments), the type of its value
(``Step`` record whose ``body`` is ``-> T``, the sub-flow's result, or
``json``; optional under ``on error skip`` without ``fallback``), secrets in
URLs, and retries of non-idempotent requests are checked by ``StepChecker``
in ``stepcheck.py``.  Null-check narrowing (``if x == null { fail ... }``
makes ``x`` non-null afterwards) is applied after an ``if`` whose only branch
always exits.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

from flowc.common.typerel import (
    assignable,
    contains_secret,
    join_all,
    keeps_secrets,
    make_optional,
    pair_types,
)
from flowc.common.types import (
    BOOL,
    DURATION,
    ERROR,
    ERROR_RECORD,
    INT,
    JSON,
    NULL,
    STRING,
    ListT,
    MapT,
    RecordT,
    Type,
    step_record,
)
from flowc.compiler import ast, errorcheck, messages
from flowc.compiler.clausecheck import ClauseChecker, error_scope
from flowc.compiler.exprcheck import ExprChecker, pairs_keep_secrets
from flowc.compiler.scope import Scope, Symbol, suggest
from flowc.compiler.stepcheck import NON_IDEMPOTENT, StepChecker
from flowc.grammar.keywords import SAFE_HTTP_METHODS, SIGNAL_NAME

if TYPE_CHECKING:
    from flowc.compiler.symbols import FlowInfo, ModuleSymbols

__all__ = ["NON_IDEMPOTENT", "FlowChecker", "Frame", "Reach", "combine"]


class Reach(enum.Enum):
    NORMAL = "normal"
    EXITS = "exits"
    JUMPS = "jumps"


def combine(reaches: Iterable[Reach]) -> Reach:
    """The reach of a statement with several alternative paths."""
    reaches = list(reaches)
    if all(r is Reach.EXITS for r in reaches):
        return Reach.EXITS
    if all(r is not Reach.NORMAL for r in reaches):
        return Reach.JUMPS
    return Reach.NORMAL


@attrs.define(eq=False)
class Frame:
    kind: str  # flow loop branch compensate retry timeout try
    parallel: bool = False
    is_value: bool = False
    yields: list[Type] = attrs.field(factory=list)


class FlowChecker:
    def __init__(self, module: ModuleSymbols, flow: FlowInfo, exprs: ExprChecker) -> None:
        self.module = module
        self.flow = flow
        self.exprs = exprs
        self.info = exprs.info
        self.clauses = ClauseChecker(exprs)
        self.frames: list[Frame] = [Frame("flow")]
        self.parallel_level = 0
        self.steps: dict[str, ast.StepStmt] = {}
        self.returns: list[Type] = []
        self.locals: list[Symbol] = []
        self.step_checker = StepChecker(self)

    def error(self, diagnostic: object) -> None:
        self.exprs.error(diagnostic)

    # ----------------------------------------------------------- entry

    def check_body(self, scope: Scope) -> Type:
        decl = self.flow.decl
        reach = self.block(decl.body, scope)
        declared = self.flow.declared_result
        if declared is not None and reach is Reach.NORMAL:
            end = ast.Span(
                decl.span.file,
                decl.span.end_line,
                max(decl.span.end_col - 1, 1),
                decl.span.end_line,
                decl.span.end_col,
            )
            self.error(messages.MISSING_RETURN(end, flow=decl.name, type=declared))
        self._report_unused()
        if declared is not None:
            return declared
        result = join_all(self.returns, empty=NULL)
        return make_optional(result) if reach is Reach.NORMAL and self.returns else result

    def _report_unused(self) -> None:
        for symbol in self.locals:
            if symbol.uses or symbol.name.startswith("_"):
                continue
            if symbol.kind in ("let", "var"):
                self.error(messages.UNUSED_BINDING(symbol.span, kind=symbol.kind, name=symbol.name))
            elif symbol.kind == "step" and _is_safe_step(symbol.node):
                self.error(messages.UNUSED_STEP(symbol.span, name=symbol.name))

    # ----------------------------------------------------------- blocks and names

    def block(self, stmts: tuple[ast.Stmt, ...], scope: Scope) -> Reach:
        reach = Reach.NORMAL
        warned = False
        for stmt in stmts:
            if reach is not Reach.NORMAL and not warned:
                self.error(messages.UNREACHABLE(stmt.span))
                warned = True
            outcome = self.stmt(stmt, scope)
            if reach is Reach.NORMAL:
                reach = outcome
        return reach

    def declare(
        self,
        scope: Scope,
        name: str,
        kind: str,
        type_: Type,
        node: ast.Node,
        *,
        quiet: bool = False,
        span: ast.Span | None = None,
        mutable: bool = False,
        uses: int = 0,
    ) -> Symbol:
        span = span if span is not None else ast.name_span_of(node)
        existing = scope.lookup_local(name)
        if existing is not None and not quiet:
            note = messages.note(existing.span, "first defined here")
            self.error(messages.DUPLICATE_BINDING(span, name=name, notes=[note]))
        symbol = Symbol(
            name,
            kind,
            type_,
            span,
            scope.module_path,
            node=node,
            mutable=mutable,
            parallel_level=self.parallel_level,
            uses=uses,
        )
        scope.declare(symbol)
        self.info.symbols.append(symbol)
        self.locals.append(symbol)
        return symbol

    def transparent(self, body: tuple[ast.Stmt, ...], scope: Scope) -> tuple[Reach, Scope]:
        """Check ``body`` in a child scope whose names the caller will export."""
        inner = scope.child()
        return self.block(body, inner), inner

    def export(self, inner: Scope, scope: Scope) -> None:
        for name, symbol in inner.names.items():
            existing = scope.lookup_local(name)
            if existing is not None and existing is not symbol:
                note = messages.note(existing.span, "first defined here")
                self.error(messages.DUPLICATE_BINDING(symbol.span, name=name, notes=[note]))
            scope.declare(symbol)

    def stmt(self, stmt: ast.Stmt, scope: Scope) -> Reach:
        method = getattr(self, "_" + type(stmt).__name__)
        result: Reach = method(stmt, scope)
        return result

    # ----------------------------------------------------------- bindings

    def value(self, value: ast.Value, scope: Scope) -> Type:
        if isinstance(value, ast.ForLoop | ast.WhileLoop):
            return self.loop(value, scope, as_value=True)
        if isinstance(value, ast.WaitSignal):
            return self.wait_signal(value, scope)
        return self.exprs.check(value, scope)

    def wait_signal(self, wait: ast.WaitSignal, scope: Scope) -> Type:
        """The payload's type; the name must be one the server takes."""
        if not SIGNAL_NAME.fullmatch(wait.signal):
            self.error(messages.BAD_SIGNAL_NAME(wait.span, name=repr(wait.signal)))
        self.exprs.expect(wait.timeout, scope, DURATION, "a wait's `timeout`")
        payload = self.resolve_annotation(wait.payload)
        if contains_secret(payload):
            why = "a signal arrives as plain JSON"
            self.error(messages.SIGNAL_PAYLOAD_TYPE(wait.payload.span, type=payload, why=why))
        return payload

    def _LetStmt(self, stmt: ast.LetStmt, scope: Scope) -> Reach:
        found = self.value(stmt.value, scope)
        kind = "var" if stmt.mutable else "let"
        if stmt.annotation is not None:
            declared = self.resolve_annotation(stmt.annotation)
            self.check_assignable(stmt.value, found, declared, f"`{stmt.name}`")
            found = declared
        elif found == NULL:
            self.error(
                messages.CANNOT_INFER(
                    stmt.span,
                    name=stmt.name,
                    help=f"annotate it: `{kind} {stmt.name}: string? = null`",
                )
            )
            found = JSON
        self.declare(scope, stmt.name, kind, found, stmt, mutable=stmt.mutable)
        return Reach.NORMAL

    def resolve_annotation(self, texpr: ast.TypeExpr) -> Type:
        resolved = self.module.resolve_type(texpr)
        self.info.annotation_types[id(texpr)] = resolved
        return resolved

    def check_assignable(self, node: ast.Node, found: Type, wanted: Type, what: str) -> None:
        if not assignable(found, wanted):
            from flowc.compiler.exprcheck import mismatch_help

            help_text = mismatch_help(found, wanted)
            self.error(
                messages.TYPE_MISMATCH(
                    node.span, what=what, expected=wanted, found=found, help=help_text
                )
            )
        elif not keeps_secrets(found, wanted):
            self.error(
                messages.SECRET_HIDDEN(
                    node.span,
                    what=f"using this as {what}",
                    type=wanted,
                    help="declare the type with `secret` where the secret goes",
                )
            )

    def _AssignStmt(self, stmt: ast.AssignStmt, scope: Scope) -> Reach:
        found = self.value(stmt.value, scope)
        symbol = scope.lookup(stmt.name)
        if symbol is None:
            hint = suggest(stmt.name, scope.visible_names())
            self.error(
                messages.UNKNOWN_NAME(
                    stmt.span, name=stmt.name, help=f"did you mean `{hint}`?" if hint else None
                )
            )
            return Reach.NORMAL
        self.info.references[id(stmt)] = symbol
        if not symbol.mutable:
            self.error(
                messages.NOT_ASSIGNABLE(
                    stmt.span,
                    name=stmt.name,
                    kind=symbol.kind,
                    help="declare it with `var` to change it" if symbol.kind == "let" else None,
                )
            )
        elif self.parallel_level > symbol.parallel_level:
            note = messages.note(symbol.span, "declared outside the parallel code here")
            self.error(messages.DATA_RACE(stmt.span, name=stmt.name, notes=[note]))
        self.check_assignable(stmt.value, found, symbol.type, f"`{stmt.name}`")
        return Reach.NORMAL

    # ----------------------------------------------------------- simple statements

    def _SleepStmt(self, stmt: ast.SleepStmt, scope: Scope) -> Reach:
        self.exprs.expect(stmt.duration, scope, DURATION, "`sleep`")
        return Reach.NORMAL

    def _LogStmt(self, stmt: ast.LogStmt, scope: Scope) -> Reach:
        self.no_secret(stmt.value, self.exprs.check(stmt.value, scope), "a log message")
        return Reach.NORMAL

    def _AssertStmt(self, stmt: ast.AssertStmt, scope: Scope) -> Reach:
        self.exprs.expect(stmt.cond, scope, BOOL, "the condition of `assert`")
        if stmt.message is not None:
            self.no_secret(
                stmt.message, self.exprs.check(stmt.message, scope), "an assertion message"
            )
        return Reach.NORMAL

    def _FailStmt(self, stmt: ast.FailStmt, scope: Scope) -> Reach:
        if stmt.kind is None:
            self.no_secret(stmt.value, self.exprs.check(stmt.value, scope), "a failure")
            return Reach.EXITS
        errorcheck.check_kind(stmt, self.error)
        self.exprs.expect(stmt.value, scope, STRING, "the message of `fail`")
        self.no_secret(stmt.value, self.exprs.check(stmt.value, scope), "a failure")
        if stmt.status is not None:
            self.exprs.expect(stmt.status, scope, INT, "the status of `fail`")
        if stmt.data is not None:
            self.no_secret(stmt.data, self.exprs.check(stmt.data, scope), "a failure's data")
        return Reach.EXITS

    def no_secret(self, node: ast.Node, found: Type, sink: str) -> None:
        if contains_secret(found):
            self.error(messages.SECRET_LEAK(node.span, sink=sink))

    def _ReturnStmt(self, stmt: ast.ReturnStmt, scope: Scope) -> Reach:
        crossing = self._crossing({"branch", "compensate"}, stop_at_loops=False)
        misplaced = crossing is not None
        if crossing is not None:
            self.error(messages.MISPLACED_JUMP(stmt.span, stmt="return", place=crossing))
        if isinstance(stmt.value, ast.WaitSignal):
            self.error(messages.WAIT_NOT_BOUND(stmt.value.span))
        found = NULL if stmt.value is None else self.value(stmt.value, scope)
        node = stmt.value if stmt.value is not None else stmt
        declared = self.flow.declared_result
        declared_secrets = _declares_its_secrets(found, declared)
        if not declared_secrets:
            self.no_secret(node, found, "a flow's result")
        if declared is not None and declared_secrets:
            self.check_assignable(node, found, declared, f"the result of `{self.flow.name}`")
        self.returns.append(found)
        return Reach.NORMAL if misplaced else Reach.EXITS

    # ----------------------------------------------------------- jumps and yields

    def _crossing(self, barriers: set[str], stop_at_loops: bool) -> str | None:
        """The first barrier frame between here and the nearest loop (or the flow)."""
        for frame in reversed(self.frames):
            if stop_at_loops and frame.kind == "loop":
                return None
            if frame.kind in barriers:
                return {"branch": "a `parallel` branch", "compensate": "a `compensate` block"}[
                    frame.kind
                ]
        return None

    def _innermost_loop(self) -> Frame | None:
        for frame in reversed(self.frames):
            if frame.kind == "loop":
                return frame
            if frame.kind in ("branch", "compensate"):
                return None
        return None

    def _jump(self, stmt: ast.Stmt, word: str) -> Reach:
        loop = self._innermost_loop()
        if loop is None:
            crossing = self._crossing({"branch", "compensate"}, stop_at_loops=True)
            place = f" outside {crossing}" if crossing else ""
            self.error(messages.JUMP_OUTSIDE_LOOP(stmt.span, stmt=word, where=place))
            return Reach.NORMAL
        if word == "break" and loop.parallel:
            self.error(messages.BREAK_IN_PARALLEL(stmt.span))
        return Reach.JUMPS

    def _BreakStmt(self, stmt: ast.BreakStmt, scope: Scope) -> Reach:
        return self._jump(stmt, "break")

    def _ContinueStmt(self, stmt: ast.ContinueStmt, scope: Scope) -> Reach:
        return self._jump(stmt, "continue")

    def _YieldStmt(self, stmt: ast.YieldStmt, scope: Scope) -> Reach:
        found = self.exprs.check(stmt.value, scope)
        loop = self._innermost_loop()
        if loop is None or not loop.is_value:
            self.error(messages.YIELD_OUTSIDE_VALUE_LOOP(stmt.span))
        else:
            loop.yields.append(found)
        return Reach.NORMAL

    # ----------------------------------------------------------- compound statements

    def _IfStmt(self, stmt: ast.IfStmt, scope: Scope) -> Reach:
        reaches: list[Reach] = []
        current = scope
        for arm in stmt.arms:
            self.exprs.expect(arm.cond, current, BOOL, "the condition of `if`")
            then_scope = current.narrow(current.facts(arm.cond, True, self.exprs)).child()
            reaches.append(self.block(arm.body, then_scope))
            current = current.narrow(current.facts(arm.cond, False, self.exprs))
        reaches.append(
            Reach.NORMAL if stmt.orelse is None else self.block(stmt.orelse, current.child())
        )
        if len(stmt.arms) == 1 and stmt.orelse is None and reaches[0] is not Reach.NORMAL:
            scope.add_facts(scope.facts(stmt.arms[0].cond, False, self.exprs))
        return combine(reaches)

    def _LoopStmt(self, stmt: ast.LoopStmt, scope: Scope) -> Reach:
        self.loop(stmt.loop, scope, as_value=False)
        return Reach.NORMAL

    def loop(self, loop: ast.Loop, scope: Scope, as_value: bool) -> Type:
        frame = Frame(
            "loop", parallel=isinstance(loop, ast.ForLoop) and loop.parallel, is_value=as_value
        )
        inner = scope.child()
        if isinstance(loop, ast.ForLoop):
            self._for_header(loop, scope, inner, frame)
        else:
            self._while_header(loop, scope)
        self.frames.append(frame)
        self.block(loop.body, inner)
        self.frames.pop()
        if frame.parallel:
            self.parallel_level -= 1
        if not as_value:
            return NULL
        if not frame.yields:
            self.error(messages.LOOP_NEVER_YIELDS(loop.span))
        result = ListT(self.exprs.joined(loop, frame.yields, "the values this loop yields"))
        self.info.loop_types[id(loop)] = result
        return result

    def _for_header(self, loop: ast.ForLoop, scope: Scope, inner: Scope, frame: Frame) -> None:
        iterable = self.exprs.check(loop.iterable, scope)
        pair = pair_types(iterable)
        if pair is not None and not pairs_keep_secrets(iterable, pair):
            self.error(messages.SECRET_HIDDEN(loop.iterable.span, what="iterating", type=pair[1]))
            pair = (ERROR, ERROR)
        index_type, item_type = pair if pair is not None else (ERROR, None)
        if loop.index_var is None and isinstance(iterable, MapT | RecordT):
            item_type = index_type  # `for k in m` iterates keys; `for k, v in m` keys and values
        if item_type is None:
            self.error(messages.NOT_ITERABLE(loop.iterable.span, type=iterable))
            index_type, item_type = ERROR, ERROR
        if loop.limit is not None:
            self.exprs.expect(loop.limit, scope, INT, "the parallel limit")
        if frame.parallel:
            self.parallel_level += 1
        self.declare(inner, loop.var, "loop", item_type, loop, uses=1)
        if loop.index_var is not None:
            self.declare(
                inner, loop.index_var, "loop", index_type, loop, span=loop.index_span, uses=1
            )

    def _while_header(self, loop: ast.WhileLoop, scope: Scope) -> None:
        self.exprs.expect(loop.cond, scope, BOOL, "the condition of `while`")
        if loop.max is not None:
            self.exprs.expect(loop.max, scope, INT, "`max`")
        else:
            self.error(
                messages.WHILE_WITHOUT_MAX(
                    loop.span,
                    help="add `max N` to bound the loop; the default bound is 10000 iterations",
                )
            )

    def _ParallelStmt(self, stmt: ast.ParallelStmt, scope: Scope) -> Reach:
        self.parallel_level += 1
        reaches: list[Reach] = []
        inners: list[Scope] = []
        for branch in stmt.branches:
            self.frames.append(Frame("branch"))
            reach, inner = self.transparent(branch.body, scope)
            self.frames.pop()
            reaches.append(reach)
            inners.append(inner)
        self.parallel_level -= 1
        for inner in inners:
            self.export(inner, scope)
        return Reach.EXITS if Reach.EXITS in reaches else Reach.NORMAL

    def _TryStmt(self, stmt: ast.TryStmt, scope: Scope) -> Reach:
        self.frames.append(Frame("try"))
        body = self.block(stmt.body, scope.child())
        self.frames.pop()
        reach = body
        reaches = [body]
        for clause in stmt.catches:
            record = self._caught_record(stmt.body)
            inner = error_scope(scope, clause.name or "error", clause, self.info, record)
            if clause.when is not None:
                self.exprs.expect(clause.when, inner, BOOL, "a `catch` filter")
            reaches.append(self.block(clause.body, inner))
        if stmt.catches:
            errorcheck.check_filters(stmt, self.module, self.error)
            reach = combine(reaches)
        if (
            stmt.finally_body is not None
            and self.block(stmt.finally_body, scope.child()) is Reach.EXITS
        ):
            return Reach.EXITS
        return reach

    def _caught_record(self, body: tuple[ast.Stmt, ...]) -> RecordT:
        """What a ``catch`` sees: ``Error``, with ``body`` typed by the failing responses
        of the OpenAPI steps in the ``try`` (``json`` when a sub-flow may fail too)."""
        if not self.info.step_contracts:
            return ERROR_RECORD
        from flowc.compiler.openapi_check import caught_body_type, error_record

        bodies: list[Type | None] = []
        opaque = False
        for step in _steps_in(body):
            contract = self.info.step_contracts.get(id(step))
            if contract is not None:
                bodies.append(contract.error_type)
            elif isinstance(step.action, ast.CallAction):
                opaque = True
        return error_record(caught_body_type(bodies, opaque))

    def _RetryStmt(self, stmt: ast.RetryStmt, scope: Scope) -> Reach:
        self.clauses.check_retry_policy(stmt.policy, scope)
        self.frames.append(Frame("retry"))
        reach, inner = self.transparent(stmt.body, scope)
        self.frames.pop()
        self.export(inner, scope)
        return reach

    def _TimeoutStmt(self, stmt: ast.TimeoutStmt, scope: Scope) -> Reach:
        self.exprs.expect(stmt.duration, scope, DURATION, "`timeout`")
        self.frames.append(Frame("timeout"))
        reach, inner = self.transparent(stmt.body, scope)
        self.frames.pop()
        self.export(inner, scope)
        return reach

    # ----------------------------------------------------------- steps

    def _StepStmt(self, stmt: ast.StepStmt, scope: Scope) -> Reach:
        earlier = self.steps.get(stmt.name)
        if earlier is not None:
            note = messages.note(earlier.span, "first defined here")
            self.error(messages.DUPLICATE_STEP(stmt.span, name=stmt.name, notes=[note]))
        self.steps[stmt.name] = stmt
        body, clauses = self.step_checker.check(stmt, scope)
        self.info.step_body_types[id(stmt)] = body
        value = step_record(body, self.step_checker.error_record(stmt))
        self.declare(scope, stmt.name, "step", value, stmt, quiet=earlier is not None)
        compensate = clauses.get("compensate")
        if isinstance(compensate, ast.CompensateClause):
            self.frames.append(Frame("compensate"))
            self.block(compensate.body, scope.child())
            self.frames.pop()
        return Reach.NORMAL


def _steps_in(stmts: tuple[ast.Stmt, ...]) -> list[ast.StepStmt]:
    """The steps of a block and its nested blocks (``compensate`` blocks included:
    they cannot fail inside the ``try``, so they only widen the joined type)."""
    found: list[ast.StepStmt] = []
    for node in stmts:
        for inner in ast.walk(node):
            if isinstance(inner, ast.StepStmt):
                found.append(inner)
    return found


def _is_safe_step(node: ast.Node | None) -> bool:
    return (
        isinstance(node, ast.StepStmt)
        and isinstance(node.action, ast.HttpAction)
        and node.action.method in SAFE_HTTP_METHODS
    )


def _declares_its_secrets(found: Type, declared: Type | None) -> bool:
    """Whether a result may hold the secrets it does: every one of them is typed a
    secret in the flow's declared result (``-> {token: secret}``), so a caller
    receives them as secrets and the run's output shows them redacted."""
    if not contains_secret(found):
        return True
    return declared is not None and assignable(found, declared) and keeps_secrets(found, declared)
