"""Reading the steps of a step-list definition (the upper half of ``steplist.py``).

``StepReader`` turns each step into its statement (the table in ``steplist.py``),
wraps it in ``if``/``timeout``/``retry`` for ``condition``, ``timeout`` and block
``retry``, and reads the clauses of http and call steps.  It also owns the names:
``input.NAME`` and ``ID.response`` are rewritten as `.flow` has them, and the ids of
the steps before each point are tracked, so that reading a step that ran under a
condition, in a ``switch`` case or a ``foreach`` is reported with why it cannot be
read there, not just as an unknown name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from flowc.compiler import ast, messages
from flowc.compiler.definitions.document import Document, Mapping, Node, Scalar, Sequence
from flowc.compiler.definitions.embedded import transform
from flowc.compiler.definitions.steplist_values import CALLED_FLOW, ValueReader, enum_of
from flowc.compiler.diagnostics import Diagnostic
from flowc.grammar.keywords import RESERVED

STEP_TYPES: Final = (
    "http",
    "call",
    "parallel",
    "foreach",
    "switch",
    "sleep",
    "wait",
    "set",
    "fail",
    "return",
    "log",
    "assert",
)
VALUED_STEPS: Final = frozenset({"http", "call"})
"""Steps whose ``id`` names a step value (``ID.response``, ``ID.status``, ...)."""
BLOCK_RETRY_STEPS: Final = frozenset({"parallel", "foreach", "switch"})
REQUEST_CLAUSES: Final = {
    "params": "query",
    "headers": "headers",
    "form": "form",
    "timeout": "timeout",
    "idempotency_key": "idempotency_key",
}


class StepReader(ValueReader):
    """Steps, their clauses and the names they use (see the module docstring)."""

    def __init__(self, document: Document) -> None:
        super().__init__(document)
        self.step_ids: set[str] = set()
        self.declared_inputs: set[str] | None = None
        self.inferred_inputs: dict[str, ast.Span] = {}
        self.visible: list[set[str]] = [set()]
        """The ids of the steps before this point, one set per enclosing step list."""
        self.hidden: dict[str, tuple[str, str]] = {}
        """Ids of earlier steps that later ones cannot read: id -> (why, help)."""
        self.scope_errors: list[Diagnostic] = []
        """Reads of such ids: the checker's own E0104, said with the reason; they do not
        stop the module from being checked, and the checker's twin is de-duplicated."""

    # ------------------------------------------------------------------ names

    def rewrite(self, expr: ast.Expr) -> ast.Expr:
        """``input.NAME`` to ``NAME`` and ``STEP.response`` to ``STEP.body``; and the
        names that cannot be used here reported.  One walk over the expression."""
        if isinstance(expr, ast.Select):
            chain = self._rewrite_chain(expr)
            if chain is not None:
                return chain
        elif (
            isinstance(expr, ast.Binary)
            and isinstance(expr.left, ast.Select)
            and isinstance(expr.right, ast.Literal)
        ):
            left = self._rewrite_chain(expr.left)
            if left is not None:
                if left is expr.left:
                    return expr
                return ast.Binary(expr.op, left, expr.right, span=expr.span)
        rewrites = False
        under_select: set[int] = set()
        names: list[ast.Name] = []
        for node in ast.walk(expr):
            if isinstance(node, ast.Name):
                names.append(node)
            elif isinstance(node, ast.Select) and isinstance(node.operand, ast.Name):
                head = node.operand
                if not head.leading_dot and (head.id == "input" or node.field == "response"):
                    rewrites = True
                    under_select.add(id(head))
        for name in names:
            if name.leading_dot:
                continue
            if name.id == "input" and id(name) not in under_select:
                self.diagnostics.append(messages.BARE_INPUT(name.span, example=self._example()))
            elif name.id in self.hidden:
                self._not_visible(name)
        if not rewrites:
            return expr
        result = transform(expr, self._rewrite_select)
        assert isinstance(result, ast.Expr)
        return result

    def _rewrite_chain(self, expr: ast.Select) -> ast.Expr | None:
        """``rewrite`` for the commonest expression, a chain of fields on a name
        (``input.user_id``, ``check.response.exists``): rebuilt directly, not walked."""
        fields: list[ast.Select] = []
        node: ast.Expr = expr
        while isinstance(node, ast.Select):
            fields.append(node)
            node = node.operand
        if not isinstance(node, ast.Name) or node.leading_dot:
            return None
        if node.id in self.hidden:
            self._not_visible(node)
        first = fields[-1]
        if node.id == "input":
            self._use_input(first.field, first.span)
            built: ast.Expr = ast.Name(first.field, span=first.span)
        elif first.field == "response" and node.id in self.step_ids:
            built = ast.Select(node, "body", span=first.span)
        else:
            return expr
        for select in reversed(fields[:-1]):
            built = ast.Select(built, select.field, span=select.span)
        return built

    def _not_visible(self, name: ast.Name) -> None:
        """A step out of scope here, explained the way a definition's author thinks of
        it: the checker's "unknown name", with why the step cannot be read and how to."""
        if any(name.id in visible for visible in self.visible):
            return
        why, fix = self.hidden[name.id]
        explained = f"step `{name.id}` cannot be read here: {why}; {fix}"
        self.scope_errors.append(messages.UNKNOWN_NAME(name.span, name=name.id, help=explained))

    def _declare(self, node: Node, statement: ast.Stmt) -> None:
        """Make the id of the step just read visible to the steps after it, or record
        why it is not (it runs under a condition)."""
        ident = node.get("id") if isinstance(node, Mapping) else None
        if not (isinstance(ident, Scalar) and isinstance(ident.value, str)):
            return
        if not isinstance(statement, ast.IfStmt) or not _binds(statement, ident.value):
            if _binds(statement, ident.value):
                self.visible[-1].add(ident.value)
            return
        self.hidden.setdefault(
            ident.value,
            (
                "it runs only when its `condition` holds",
                "read it under the same condition (in a `switch` case), or give it "
                "`on_error: skip` or a `fallback` instead of a condition",
            ),
        )

    def _rewrite_select(self, node: ast.Node) -> ast.Node | None:
        if not isinstance(node, ast.Select) or not isinstance(node.operand, ast.Name):
            return None
        head = node.operand
        if head.leading_dot:
            return None
        if head.id == "input":
            self._use_input(node.field, node.span)
            return ast.Name(node.field, span=node.span)
        if node.field == "response" and head.id in self.step_ids:
            return ast.Select(head, "body", span=node.span)
        return None

    def _use_input(self, name: str, span: ast.Span) -> None:
        if self.declared_inputs is None:
            self.inferred_inputs.setdefault(name, span)
        elif name not in self.declared_inputs:
            declared = ", ".join(sorted(self.declared_inputs)) or "none"
            self.diagnostics.append(
                messages.UNKNOWN_INPUT(span, name=name, help=f"the declared inputs: {declared}")
            )

    def _example(self) -> str:
        names = sorted(self.declared_inputs or self.inferred_inputs)
        return names[0] if names else "user_id"

    def name(self, node: Node | None, what: str) -> Scalar | None:
        """An identifier that may name a binding (not a reserved word, not ``input``)."""
        scalar = self.identifier(node)
        if scalar is None:
            return None
        text = str(scalar.value)
        if text in RESERVED:
            self.diagnostics.append(messages.RESERVED_WORD(self.span(scalar), word=text))
        elif text == "input":
            self.diagnostics.append(
                messages.DEFINITION_INVALID(
                    self.span(scalar),
                    place=f"this {what}",
                    problem="`input` is reserved in the step-list form (it holds the inputs)",
                )
            )
        return scalar

    # ------------------------------------------------------------------ steps

    def steps(
        self, node: Node | None, scope: tuple[str, str] | None = None
    ) -> tuple[ast.Stmt, ...]:
        """A step list.  ``scope`` says why its steps cannot be read after it (and how
        to read them); without one (a parallel branch) they can."""
        items = self.sequence(node)
        statements = []
        self.visible.append(set())
        try:
            for item in items.items if items else ():
                statement = self.step(item)
                if statement is not None:
                    statements.append(statement)
                    self._declare(item, statement)
        finally:
            declared = self.visible.pop()
        if scope is None:
            self.visible[-1] |= declared
        else:
            for name in declared:
                self.hidden.setdefault(name, scope)
        return tuple(statements)

    def step(self, node: Node) -> ast.Stmt | None:
        if not isinstance(node, Mapping):
            self.problem(node, "expected a step (an object)")
            return None
        type_node = node.get("type")
        kind = self.choice(type_node, frozenset(STEP_TYPES)) if type_node is not None else None
        if kind is None:
            if type_node is None:
                self.problem(node, "missing `type`")
            return None
        if kind == "wait":
            assert type_node is not None
            self.diagnostics.append(messages.WAIT_NOT_SUPPORTED(self.span(type_node)))
            return None
        self.mapping(node, f"{kind}_step")
        core = STEP_READERS[kind](self, node)
        if core is None:
            return None
        return self.wrap(node, kind, core)

    def wrap(self, node: Mapping, kind: str, core: ast.Stmt) -> ast.Stmt:
        """``condition``, ``timeout`` and block ``retry`` around the step's statement."""
        span = self.span(node)
        statement = core
        retry_key, retry = node.key("retry"), node.get("retry")
        if kind in BLOCK_RETRY_STEPS and retry_key is not None and retry is not None:
            policy = self.retry(retry_key, retry)
            if policy is not None:
                statement = ast.RetryStmt(policy, (statement,), span=span)
        timeout = self.duration(node.get("timeout"))
        if timeout is not None:
            statement = ast.TimeoutStmt(timeout, (statement,), span=span)
        condition_node = node.get("condition")
        condition = self.expression(condition_node, boolean=True)
        if condition is not None:
            arm = ast.IfArm(condition, (statement,), span=condition.span)
            statement = ast.IfStmt((arm,), span=span)
        return statement

    def step_id(self, node: Mapping, *, required: bool) -> Scalar | None:
        ident = node.get("id")
        if ident is None:
            if required:
                self.problem(node, "missing `id`")
            return None
        return self.name(ident, "step")

    def http_step(self, node: Mapping) -> ast.Stmt | None:
        ident = self.step_id(node, required=True)
        request = self.mapping(node.get("request"), "request")
        if request is None:
            if node.get("request") is None:
                self.problem(node, "missing `request`")
            return None
        action = self.http_action(request)
        clauses = [*self.request_clauses(request), *self.clauses(node, STEP_CLAUSE_READERS)]
        result_type = None
        if node.get("response_type") is not None:
            result_type = self.type_expr(node.get("response_type"))
        if ident is None or action is None:
            return None
        return ast.StepStmt(
            str(ident.value),
            action,
            result_type,
            tuple(clauses),
            span=self.span(node),
            name_span=self.span(ident),
        )

    def http_action(self, request: Mapping) -> ast.HttpAction | None:
        method_node = request.get("method")
        method = "GET"
        if method_node is not None:
            method = self.choice(method_node, enum_of("request", "method")) or "GET"
        service = request.get("service")
        if service is not None:
            if "url" in request:
                self.problem(request, "give `url`, or `service` and `path`, not both")
            if "path" not in request:
                self.problem(request, "missing `path`")
            service_name = self.identifier(service)
            target = self.string_value(request.get("path"))
            if service_name is None or target is None:
                return None
            return ast.HttpAction(method, str(service_name.value), target, span=self.span(request))
        if "path" in request:
            self.problem(request, "`path` needs a `service`")
        if "url" not in request:
            self.problem(request, "missing `url`")
        target = self.string_value(request.get("url"))
        if target is None:
            return None
        return ast.HttpAction(method, None, target, span=self.span(request))

    def request_clauses(self, request: Mapping) -> list[ast.Clause]:
        clauses: list[ast.Clause | None] = []
        for key, value in request.entries:
            name = str(key.value)
            if name in REQUEST_CLAUSES:
                clauses.append(self.simple_clause(REQUEST_CLAUSES[name], key, value))
            elif name in ("body", "json"):
                keyword = (
                    "json" if name == "json" or isinstance(value, Mapping | Sequence) else "body"
                )
                clauses.append(self.value_clause(keyword, key, value, self.value(value)))
            elif name == "auth":
                clauses.append(self.auth(key, value))
        return [c for c in clauses if c is not None]

    def simple_clause(self, keyword: str, key: Scalar, value: Node) -> ast.Clause | None:
        if keyword == "timeout":
            return self.value_clause(keyword, key, value, self.duration(value))
        if keyword == "idempotency_key":
            return self.value_clause(keyword, key, value, self.string_value(value))
        if keyword == "concurrency":
            return self.value_clause(keyword, key, value, self.number(value, integer=True))
        if keyword == "fallback":
            return self.value_clause(keyword, key, value, self.value(value))
        return self.value_clause(keyword, key, value, self.fields(value))

    def clauses(
        self,
        node: Mapping,
        readers: dict[str, Callable[[StepReader, Scalar, Node], ast.Clause | None]],
    ) -> tuple[ast.Clause, ...]:
        """The clauses of a step or service, in the order their keys are written."""
        found = []
        for key, value in node.entries:
            reader = readers.get(str(key.value))
            if reader is not None:
                clause = reader(self, key, value)
                if clause is not None:
                    found.append(clause)
        return tuple(found)

    def retry_clause(self, key: Scalar, value: Node) -> ast.Clause | None:
        policy = self.retry(key, value)
        if policy is None:
            return None
        return ast.RetryClause(policy, span=policy.span)

    def on_error_clause(self, key: Scalar, value: Node) -> ast.Clause | None:
        action = self.choice(value, enum_of("http_step", "on_error"))
        if action is None:
            return None
        return ast.OnErrorClause(action, span=self.document.span_between(key, value))

    def compensate_clause(self, key: Scalar, value: Node) -> ast.Clause | None:
        body = self.steps(value, _IN_COMPENSATION)
        return ast.CompensateClause(body, span=self.document.span_between(key, value))

    def call_step(self, node: Mapping) -> ast.Stmt | None:
        ident = self.step_id(node, required=True)
        target = self.mapping(node.get("call"), "call_target")
        if target is None:
            if node.get("call") is None:
                self.problem(node, "missing `call`")
            return None
        action = self.call_action(target)
        clauses: list[ast.Clause] = []
        timeout_key, timeout = target.key("timeout"), target.get("timeout")
        if timeout_key is not None and timeout is not None:
            clause = self.simple_clause("timeout", timeout_key, timeout)
            clauses += [clause] if clause is not None else []
        clauses += self.clauses(node, STEP_CLAUSE_READERS)
        if ident is None or action is None:
            return None
        return ast.StepStmt(
            str(ident.value),
            action,
            None,
            tuple(clauses),
            span=self.span(node),
            name_span=self.span(ident),
        )

    def call_action(self, target: Mapping) -> ast.CallAction | None:
        flow = self.text(target.get("flow"))
        args_node = target.get("args")
        args: list[ast.Arg] = []
        if isinstance(args_node, Mapping):
            for key, value in args_node.entries:
                self.identifier(key)
                span = self.document.span_between(key, value)
                args.append(ast.Arg(str(key.value), self.value(value), span=span))
        elif isinstance(args_node, Sequence):
            args = [ast.Arg(None, self.value(v), span=self.span(v)) for v in args_node.items]
        elif args_node is not None:
            self.problem(args_node, "expected an object or an array")
        if flow is None:
            return None
        if not CALLED_FLOW.search(str(flow.value)):
            self.problem(flow, "expected `flow` or `module.flow`")
            return None
        parts = str(flow.value).split(".")
        module, name = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
        return ast.CallAction(name, tuple(args), module, span=self.span(target))

    def parallel_step(self, node: Mapping) -> ast.Stmt | None:
        branches_node = self.sequence(node.get("branches"))
        branches = []
        for item in branches_node.items if branches_node else ():
            if isinstance(item, Mapping) and "steps" in item and "type" not in item:
                self.mapping(item, "branch_group")
                body = self.steps(item.get("steps"))
                branches.append(ast.Branch(body, grouped=True, span=self.span(item)))
            else:
                statement = self.step(item)
                if statement is not None:
                    branches.append(ast.Branch((statement,), span=self.span(item)))
                    self._declare(item, statement)
        return ast.ParallelStmt(tuple(branches), span=self.span(node))

    def foreach_step(self, node: Mapping) -> ast.Stmt | None:
        ident = self.step_id(node, required=False)
        var = self.name(node.get("as"), "loop variable")
        index_node = node.get("index")
        index = None if index_node is None else self.name(index_node, "loop index")
        items_node = node.get("items")
        iterable = None if items_node is None else self.value(items_node)
        parallel, limit = self.parallel_setting(node.get("parallel"))
        loop_names = {str(s.value) for s in (var, index) if s is not None}
        self.visible.append(set(loop_names))
        try:
            body = list(self.steps(node.get("steps")))
            output = node.get("output")
            if output is not None:
                output_key = node.key("output")
                assert output_key is not None
                span = self.document.span_between(output_key, output)
                body.append(ast.YieldStmt(self.value(output), span=span))
                if ident is None:
                    self.problem(node, "`output` needs an `id`, the name of the collected list")
        finally:
            made = self.visible.pop() - loop_names
        for name in made:
            self.hidden.setdefault(name, _IN_FOREACH)
        if var is None or iterable is None:
            return None
        loop = ast.ForLoop(
            str(var.value),
            iterable,
            tuple(body),
            None if index is None else str(index.value),
            parallel,
            limit,
            span=self.span(node),
            name_span=self.span(var),
            index_span=self.span(index) if index is not None else ast.NO_SPAN,
        )
        if ident is None:
            return ast.LoopStmt(loop, span=self.span(node))
        return ast.LetStmt(str(ident.value), loop, span=self.span(node), name_span=self.span(ident))

    def parallel_setting(self, node: Node | None) -> tuple[bool, ast.Expr | None]:
        if node is None:
            return False, None
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return node.value, None
        return True, self.number(node, integer=True)

    def switch_step(self, node: Mapping) -> ast.Stmt | None:
        cases = self.sequence(node.get("cases"))
        arms = []
        if cases is not None and not cases.items:
            self.problem(cases, "expected at least one case")
        for item in cases.items if cases else ():
            case = self.mapping(item, "switch_case")
            if case is None:
                continue
            condition = self.expression(case.get("condition"), boolean=True)
            body = self.steps(case.get("steps"), _IN_SWITCH)
            if condition is not None:
                arms.append(ast.IfArm(condition, body, span=self.span(case)))
        default = node.get("default")
        orelse = None if default is None else self.steps(default, _IN_SWITCH)
        if not arms:
            return None
        return ast.IfStmt(tuple(arms), orelse, span=self.span(node))

    def sleep_step(self, node: Mapping) -> ast.Stmt | None:
        duration = self.duration(node.get("duration"))
        return None if duration is None else ast.SleepStmt(duration, span=self.span(node))

    def set_step(self, node: Mapping) -> ast.Stmt | None:
        value_node = node.get("value")
        value = None if value_node is None else self.value(value_node)
        assign = node.get("assign")
        span = self.span(node)
        if assign is not None:
            target = self.name(assign, "value")
            if "id" in node or "value_type" in node or "mutable" in node:
                self.problem(
                    node, "`assign` changes a value: it takes no `id`, `value_type` or `mutable`"
                )
            if target is None or value is None:
                return None
            return ast.AssignStmt(str(target.value), value, span=span)
        ident = self.step_id(node, required=True)
        type_node = node.get("value_type")
        annotation = None if type_node is None else self.type_expr(type_node)
        mutable = self.flag(node.get("mutable"))
        if ident is None or value is None:
            return None
        return ast.LetStmt(
            str(ident.value), value, annotation, mutable, span=span, name_span=self.span(ident)
        )

    def fail_step(self, node: Mapping) -> ast.Stmt | None:
        error = node.get("error")
        return None if error is None else ast.FailStmt(self.value(error), span=self.span(node))

    def return_step(self, node: Mapping) -> ast.Stmt | None:
        value = node.get("value")
        expr = None if value is None else self.value(value)
        return ast.ReturnStmt(expr, span=self.span(node))

    def log_step(self, node: Mapping) -> ast.Stmt | None:
        message = node.get("message")
        return None if message is None else ast.LogStmt(self.value(message), span=self.span(node))

    def assert_step(self, node: Mapping) -> ast.Stmt | None:
        condition = self.expression(node.get("that"), boolean=True)
        message_node = node.get("message")
        message = None if message_node is None else self.value(message_node)
        if condition is None:
            return None
        return ast.AssertStmt(condition, message, span=self.span(node))


_IN_FOREACH: Final = (
    "it is made anew in each iteration of its `foreach`",
    "give the `foreach` an `id` and an `output`: the list of what each iteration made",
)
_IN_SWITCH: Final = (
    "it belongs to a `switch` case, which may not run",
    "read it in the same case",
)
_IN_COMPENSATION: Final = (
    "it belongs to a compensation, which runs only when the flow fails",
    "read it in the same `compensate` list",
)


def _binds(statement: ast.Stmt, name: str) -> bool:
    """Whether ``statement`` (a step, its wrappers peeled off) binds ``name``."""
    while isinstance(statement, ast.IfStmt | ast.TimeoutStmt | ast.RetryStmt):
        body = statement.arms[0].body if isinstance(statement, ast.IfStmt) else statement.body
        if len(body) != 1:
            return False
        statement = body[0]
    return isinstance(statement, ast.StepStmt | ast.LetStmt) and statement.name == name


STEP_READERS: Final[dict[str, Callable[[StepReader, Mapping], ast.Stmt | None]]] = {
    kind: getattr(StepReader, f"{kind}_step") for kind in STEP_TYPES if kind != "wait"
}

STEP_CLAUSE_READERS: Final[dict[str, Callable[[StepReader, Scalar, Node], ast.Clause | None]]] = {
    "accept": StepReader.accept,
    "retry": StepReader.retry_clause,
    "on_error": StepReader.on_error_clause,
    "fallback": lambda reader, key, value: reader.simple_clause("fallback", key, value),
    "compensate": StepReader.compensate_clause,
}

SERVICE_CLAUSE_READERS: Final[
    dict[str, Callable[[StepReader, Scalar, Node], ast.Clause | None]]
] = {
    "headers": lambda reader, key, value: reader.simple_clause("headers", key, value),
    "params": lambda reader, key, value: reader.simple_clause("query", key, value),
    "timeout": lambda reader, key, value: reader.simple_clause("timeout", key, value),
    "concurrency": lambda reader, key, value: reader.simple_clause("concurrency", key, value),
    "auth": StepReader.auth,
    "retry": StepReader.retry_clause,
    "circuit_breaker": StepReader.circuit_breaker,
    "rate_limit": StepReader.rate_limit,
    "accept": StepReader.accept,
}
