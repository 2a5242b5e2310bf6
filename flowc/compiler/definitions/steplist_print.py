"""The `.flow` AST back to the step-list form: ``flowc convert --to yaml|json``.

``print_steplist(module)`` builds the document as plain data (dicts in key order,
lists, scalars) that ``emit.py`` writes as JSON or YAML, and reads back into the
same tree: ``read(print(t)) == t`` for every tree within the form's reach, up to
the order of a step's clauses and of the declarations, which the form fixes and
which mean nothing (``steplist.py``).

What cannot be written is reported, never dropped: a ``NOT_REPRESENTABLE``
diagnostic (E0510) names the construct and points at it in the `.flow` source,
and no document is produced.  Out of reach are ``try``, ``while``, ``break``,
``continue``, typed constants, several flows in one file, a ``yield`` that does not end
a ``foreach``, a ``retry`` or ``timeout`` block around anything but one step they
can be folded into, and clauses placed where the language itself rejects them.

Expressions (``steplist_print_values``).  A value is written as data when the data
reads back as the same tree (strings, non-negative numbers and their negations,
booleans, null, lists, maps with plain string keys written the canonical way), and
otherwise as one ``"${...}"`` string holding the expression's `.flow` text, which
always does.
Parameters are written ``input.NAME`` and a step's ``body`` ``STEP.response``, as
a definition's author would; each ``${...}`` written is checked by scanning it
back with the reader's own rule.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final

from flowc.compiler import ast, messages
from flowc.compiler.definitions.steplist import BLOCK_RETRY_STEPS
from flowc.compiler.definitions.steplist_print_values import (
    WIDE,
    Data,
    NotRepresentable,
    ValuePrinter,
    keyword_of,
)
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.printer import print_type

_STEP_CLAUSE_KEYS: Final = {"accept", "retry", "on error", "fallback", "compensate"}
_REQUEST_KEYS: Final = {
    "query": "params",
    "headers": "headers",
    "form": "form",
    "json": "json",
    "body": "body",
    "auth": "auth",
    "timeout": "timeout",
    "idempotency_key": "idempotency_key",
}
_SERVICE_KEYS: Final = {
    "headers": "headers",
    "query": "params",
    "auth": "auth",
    "timeout": "timeout",
    "retry": "retry",
    "circuit_breaker": "circuit_breaker",
    "rate_limit": "rate_limit",
    "concurrency": "concurrency",
    "accept": "accept",
}
_HTTP_METHODS: Final = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def print_steplist(
    module: ast.Module, description: str | None = None
) -> tuple[dict[str, Data] | None, list[Diagnostic]]:
    """The document for ``module``, or None and the reasons it cannot be written."""
    printer = StepListPrinter(module)
    try:
        document = printer.document(description)
    except NotRepresentable as problem:
        printer.report(problem)
        return None, printer.diagnostics
    if printer.diagnostics:
        return None, printer.diagnostics
    return document, []


class StepListPrinter(ValuePrinter):
    def __init__(self, module: ast.Module) -> None:
        super().__init__()
        self.module = module
        self.diagnostics: list[Diagnostic] = []

    def report(self, problem: NotRepresentable) -> None:
        self.diagnostics.append(
            messages.NOT_REPRESENTABLE(problem.node.span, construct=problem.construct)
        )

    def attempt(self, make: Callable[[], Data]) -> Data:
        """``make()``, or None after reporting what it could not write (so that one run
        reports every construct out of reach, not only the first)."""
        try:
            return make()
        except NotRepresentable as problem:
            self.report(problem)
            return None

    # ------------------------------------------------------------------ declarations

    def document(self, description: str | None) -> dict[str, Data]:
        flows = [d for d in self.module.decls if isinstance(d, ast.FlowDecl)]
        if not flows:
            raise NotRepresentable("a file without a flow", self.module)
        for extra in flows[1:]:
            self.report(NotRepresentable("a second flow (a definition holds one)", extra))
        flow = flows[0]
        self.params = {p.name for p in flow.params}
        self.step_ids = {n.name for n in ast.walk(flow) if isinstance(n, ast.StepStmt)}
        out: dict[str, Data] = {"name": flow.name}
        if description:
            out["description"] = description
        imports: list[Data] = []
        types: dict[str, Data] = {}
        constants: dict[str, Data] = {}
        services: dict[str, Data] = {}
        for decl in self.module.decls:
            if isinstance(decl, ast.ImportDecl):
                imports.append(
                    decl.path if decl.alias is None else {"path": decl.path, "as": decl.alias}
                )
            elif isinstance(decl, ast.TypeDecl):
                self.unique(types, decl.name, decl, "a second type of that name")
                types[decl.name] = print_type(decl.type, WIDE)
            elif isinstance(decl, ast.ServiceDecl):
                self.unique(services, decl.name, decl, "a second service of that name")
                services[decl.name] = self.attempt(partial(self.service, decl))
            elif isinstance(decl, ast.ConstDecl):
                self.unique(constants, decl.name, decl, "a second constant of that name")
                if decl.annotation is not None:
                    self.report(NotRepresentable("a typed `const`", decl))
                constants[decl.name] = self.attempt(partial(self.value, decl.value))
        written = (("imports", imports), ("types", types), ("constants", constants))
        for key, value in (*written, ("services", services)):
            if value:
                out[key] = value
        out.update(self.flow(flow))
        return out

    def unique(self, seen: dict[str, Data], key: str, node: ast.Node, what: str) -> None:
        if key in seen:
            raise NotRepresentable(what, node)

    def service(self, decl: ast.ServiceDecl) -> dict[str, Data]:
        if decl.base_url is None:  # an OpenAPI or gRPC service
            raise NotRepresentable(f"a `{decl.kind}` service", decl)
        out: dict[str, Data] = {"url": self.string_value(decl.base_url)}
        for clause in decl.clauses:
            keyword = keyword_of(clause)
            key = _SERVICE_KEYS.get(keyword)
            if key is None:
                raise NotRepresentable(f"a `{keyword}` clause on a service", clause)
            self.unique(out, key, clause, f"a second `{keyword}` clause")
            out[key] = self.clause_value(clause)
        return out

    def flow(self, flow: ast.FlowDecl) -> dict[str, Data]:
        out: dict[str, Data] = {}
        if "input" in self.params:
            raise NotRepresentable("a parameter named `input`", flow)
        inputs: dict[str, Data] = {}
        for param in flow.params:
            self.unique(inputs, param.name, param, "a second parameter of that name")
            type_text = print_type(param.type, WIDE)
            if param.default is None:
                inputs[param.name] = type_text
            else:
                inputs[param.name] = {"type": type_text, "default": self.value(param.default)}
        if flow.params:
            out["input"] = inputs
        if flow.result is not None:
            out["output_type"] = print_type(flow.result, WIDE)
        for clause in flow.clauses:
            if not (isinstance(clause, ast.ValueClause) and clause.keyword == "timeout"):
                raise NotRepresentable(f"a `{keyword_of(clause)}` clause on a flow", clause)
            self.unique(out, "timeout", clause, "a second `timeout` clause")
            out["timeout"] = self.duration(clause.value)
        body = list(flow.body)
        output = None
        last = body[-1] if body else None
        if isinstance(last, ast.ReturnStmt) and isinstance(last.value, ast.Expr):
            output = last
            body.pop()
        out["steps"] = self.steps(tuple(body))
        if output is not None:
            result = output.value
            assert isinstance(result, ast.Expr)
            out["output"] = self.attempt(partial(self.value, result))
        return out

    # ------------------------------------------------------------------ statements

    def steps(self, body: tuple[ast.Stmt, ...]) -> list[Data]:
        return [self.attempt(partial(self.step, statement)) for statement in body]

    def step(self, stmt: ast.Stmt) -> dict[str, Data]:
        method = getattr(self, "stmt_" + type(stmt).__name__, None)
        if method is None:
            raise NotRepresentable(_construct_name(stmt), stmt)
        result: dict[str, Data] = method(stmt)
        return result

    def stmt_StepStmt(self, stmt: ast.StepStmt) -> dict[str, Data]:
        if isinstance(stmt.action, ast.CallAction):
            return self.call_step(stmt, stmt.action)
        action = stmt.action
        if action.method not in _HTTP_METHODS:
            raise NotRepresentable(f"the method `{action.method}`", action)
        request: dict[str, Data] = {"method": action.method}
        if action.service is None:
            request["url"] = self.string_value(action.target)
        else:
            request["service"] = action.service
            request["path"] = self.string_value(action.target)
        out: dict[str, Data] = {"id": stmt.name, "type": "http"}
        step_level: dict[str, Data] = {}
        for clause in stmt.clauses:
            keyword = keyword_of(clause)
            if keyword in _REQUEST_KEYS:
                key = _REQUEST_KEYS[keyword]
                self.unique(request, key, clause, f"a second `{keyword}` clause")
                request[key] = self.request_clause(clause)
            elif keyword in _STEP_CLAUSE_KEYS:
                key = keyword.replace(" ", "_")
                self.unique(step_level, key, clause, f"a second `{keyword}` clause")
                step_level[key] = self.clause_value(clause)
            else:
                raise NotRepresentable(f"a `{keyword}` clause on a step", clause)
        out["request"] = request
        if stmt.result_type is not None:
            out["response_type"] = print_type(stmt.result_type, WIDE)
        out.update(step_level)
        return out

    def call_step(self, stmt: ast.StepStmt, action: ast.CallAction) -> dict[str, Data]:
        if stmt.result_type is not None:
            raise NotRepresentable("a result type on a `call` step", stmt.result_type)
        target: dict[str, Data] = {
            "flow": action.flow if action.module is None else f"{action.module}.{action.flow}"
        }
        named = [a for a in action.args if a.name is not None]
        if named and len(named) != len(action.args):
            raise NotRepresentable("positional and named arguments in one call", action)
        if named:
            args: dict[str, Data] = {}
            for arg in action.args:
                assert arg.name is not None
                self.unique(args, arg.name, arg, "a second argument of that name")
                args[arg.name] = self.value(arg.value)
            target["args"] = args
        elif action.args:
            target["args"] = [self.value(a.value) for a in action.args]
        out: dict[str, Data] = {"id": stmt.name, "type": "call", "call": target}
        for clause in stmt.clauses:
            keyword = keyword_of(clause)
            if keyword == "timeout":
                self.unique(target, "timeout", clause, "a second `timeout` clause")
                assert isinstance(clause, ast.ValueClause)
                target["timeout"] = self.duration(clause.value)
            elif keyword in _STEP_CLAUSE_KEYS - {"accept"}:
                key = keyword.replace(" ", "_")
                self.unique(out, key, clause, f"a second `{keyword}` clause")
                out[key] = self.clause_value(clause)
            else:
                raise NotRepresentable(f"a `{keyword}` clause on a call step", clause)
        return out

    def stmt_LetStmt(self, stmt: ast.LetStmt) -> dict[str, Data]:
        if isinstance(stmt.value, ast.ForLoop):
            if stmt.annotation is not None or stmt.mutable:
                raise NotRepresentable("a typed or `var` loop value", stmt)
            out: dict[str, Data] = {"id": stmt.name}
            out.update(self.foreach(stmt.value, valued=True))
            return out
        if isinstance(stmt.value, ast.WhileLoop):
            raise NotRepresentable("a `while` loop", stmt.value)
        if isinstance(stmt.value, ast.WaitSignal):
            raise NotRepresentable("a `wait signal`", stmt.value)
        out = {"id": stmt.name, "type": "set", "value": self.value(stmt.value)}
        if stmt.annotation is not None:
            out["value_type"] = print_type(stmt.annotation, WIDE)
        if stmt.mutable:
            out["mutable"] = True
        return out

    def stmt_AssignStmt(self, stmt: ast.AssignStmt) -> dict[str, Data]:
        if not isinstance(stmt.value, ast.Expr):
            raise NotRepresentable("an assignment of a loop", stmt)
        return {"type": "set", "assign": stmt.name, "value": self.value(stmt.value)}

    def stmt_LoopStmt(self, stmt: ast.LoopStmt) -> dict[str, Data]:
        if not isinstance(stmt.loop, ast.ForLoop):
            raise NotRepresentable("a `while` loop", stmt.loop)
        return self.foreach(stmt.loop, valued=False)

    def foreach(self, loop: ast.ForLoop, *, valued: bool) -> dict[str, Data]:
        body = list(loop.body)
        output = None
        if valued and body and isinstance(body[-1], ast.YieldStmt):
            output = body.pop()
        out: dict[str, Data] = {
            "type": "foreach",
            "items": self.value(loop.iterable),
            "as": loop.var,
        }
        if loop.index_var is not None:
            out["index"] = loop.index_var
        if loop.parallel:
            out["parallel"] = True if loop.limit is None else self.integer(loop.limit)
        elif loop.limit is not None:
            raise NotRepresentable("a loop limit without `parallel`", loop.limit)
        out["steps"] = self.steps(tuple(body))
        if isinstance(output, ast.YieldStmt):
            out["output"] = self.value(output.value)
        return out

    def stmt_SleepStmt(self, stmt: ast.SleepStmt) -> dict[str, Data]:
        return {"type": "sleep", "duration": self.duration(stmt.duration)}

    def stmt_FailStmt(self, stmt: ast.FailStmt) -> dict[str, Data]:
        return {"type": "fail", "error": self.value(stmt.value)}

    def stmt_ReturnStmt(self, stmt: ast.ReturnStmt) -> dict[str, Data]:
        if stmt.value is None:
            return {"type": "return"}
        if not isinstance(stmt.value, ast.Expr):
            raise NotRepresentable("a `return` of a loop", stmt)
        return {"type": "return", "value": self.value(stmt.value)}

    def stmt_LogStmt(self, stmt: ast.LogStmt) -> dict[str, Data]:
        return {"type": "log", "message": self.value(stmt.value)}

    def stmt_AssertStmt(self, stmt: ast.AssertStmt) -> dict[str, Data]:
        out: dict[str, Data] = {"type": "assert", "that": self.expression(stmt.cond, boolean=True)}
        if stmt.message is not None:
            out["message"] = self.value(stmt.message)
        return out

    def stmt_ParallelStmt(self, stmt: ast.ParallelStmt) -> dict[str, Data]:
        branches: list[Data] = []
        for branch in stmt.branches:
            if branch.grouped:
                branches.append({"steps": self.steps(branch.body)})
            elif len(branch.body) == 1:
                branches.append(self.step(branch.body[0]))
            else:
                raise NotRepresentable("a parallel branch of several statements", branch)
        return {"type": "parallel", "branches": branches}

    def stmt_IfStmt(self, stmt: ast.IfStmt) -> dict[str, Data]:
        if not stmt.arms:
            raise NotRepresentable("an `if` without a condition", stmt)
        if len(stmt.arms) == 1 and stmt.orelse is None and len(stmt.arms[0].body) == 1:
            inner = self.step(stmt.arms[0].body[0])
            if "condition" not in inner:
                condition = self.expression(stmt.arms[0].cond, boolean=True)
                return _after_type(inner, "condition", condition)
        cases = [
            {"condition": self.expression(arm.cond, boolean=True), "steps": self.steps(arm.body)}
            for arm in stmt.arms
        ]
        out: dict[str, Data] = {"type": "switch", "cases": cases}
        if stmt.orelse is not None:
            out["default"] = self.steps(stmt.orelse)
        return out

    def stmt_TimeoutStmt(self, stmt: ast.TimeoutStmt) -> dict[str, Data]:
        if len(stmt.body) != 1:
            raise NotRepresentable("a `timeout` block around several statements", stmt)
        inner = self.step(stmt.body[0])
        if "timeout" in inner or "condition" in inner:
            raise NotRepresentable("this `timeout` block (its step has its own)", stmt)
        inner["timeout"] = self.duration(stmt.duration)
        return inner

    def stmt_RetryStmt(self, stmt: ast.RetryStmt) -> dict[str, Data]:
        if len(stmt.body) != 1:
            raise NotRepresentable("a `retry` block around several statements", stmt)
        inner = self.step(stmt.body[0])
        if inner.get("type") not in BLOCK_RETRY_STEPS or inner.keys() & {
            "retry",
            "timeout",
            "condition",
        }:
            raise NotRepresentable("a `retry` block around this statement", stmt)
        inner["retry"] = self.policy(stmt.policy)
        return inner


def _after_type(step: dict[str, Data], key: str, value: Data) -> dict[str, Data]:
    """``step`` with ``key`` placed right after its ``type``, where a reader looks for it."""
    out: dict[str, Data] = {}
    for name, item in step.items():
        out[name] = item
        if name == "type":
            out[key] = value
    return out


def _construct_name(stmt: ast.Stmt) -> str:
    return {
        "TryStmt": "a `try` statement",
        "BreakStmt": "`break`",
        "ContinueStmt": "`continue`",
        "YieldStmt": "a `yield` that does not end a `foreach` with an `id`",
    }.get(type(stmt).__name__, f"a `{type(stmt).__name__}`")
