"""Checking steps: what a step calls, whether that is safe, and the type of its value.

``FlowChecker`` (``stmtcheck.py``) walks a flow's statements; for a step
statement it checks the name and the ``compensate`` block itself and asks a
``StepChecker`` for the rest.  ``StepChecker.check(stmt, scope)`` returns the
type of the step's value (the ``body`` of its ``Step`` record) and its
checked clauses:

* An HTTP step: its service, if it names one, must exist (else a known one
  is suggested), the URL must be a ``string`` and must not contain a secret
  (a secret belongs in a header), the clauses must be valid for a step, and
  the body type is the declared ``-> T`` or ``json``.  A ``POST``/``PATCH``
  without an ``idempotency_key`` that may be retried -- its own ``retry``
  clause decides if it has one, else its service's, else an enclosing
  ``retry`` block -- gets a warning, since a retry could act twice.
* A call step (``call flow(args)``): the flow must exist (again with a
  suggestion), arguments are matched to parameters positionally and then by
  name (too many, positional after named, unknown or repeated names, missing
  parameters without a default are errors) and each is checked against its
  parameter's type.  The body type is the callee's declared result type, else
  its inferred one (callees are checked first), else ``json``; a call step
  may not declare ``-> T``.
* A step against an OpenAPI service -- ``GET petstore "/pet/${id}"``, or
  ``call petstore.getPetById(petId: id)`` by operation id -- is checked against
  its operation by ``contracts.openapi_check``, which also gives its body type
  (the accepted responses') and its error's (``error.body``).
* Either way a ``fallback`` value must fit the body type, and ``on error
  skip`` without a ``fallback`` makes the body optional.

The step checker shares the flow checker's module, expression and clause
checkers and ``CheckInfo``, and asks it for the frame stack (enclosing
``retry`` blocks), type annotations and assignability checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from flowc.common.typerel import assignable, contains_secret, make_optional
from flowc.common.types import ERROR, ERROR_RECORD, JSON, STRING, RecordT, Type
from flowc.compiler import ast, messages
from flowc.compiler.clausecheck import is_null_literal
from flowc.compiler.scope import Scope, suggest

if TYPE_CHECKING:
    from flowc.compiler.stmtcheck import FlowChecker, Frame
    from flowc.compiler.symbols import FlowInfo, ServiceInfo
    from flowc.contracts.openapi_check import OperationChecker
    from flowc.contracts.openapi_service import ServiceContract

NON_IDEMPOTENT: Final = frozenset({"POST", "PATCH"})


class StepChecker:
    """Checks what the steps of one flow call; one instance per ``FlowChecker``."""

    def __init__(self, checker: FlowChecker) -> None:
        self.checker = checker
        self.module = checker.module
        self.exprs = checker.exprs
        self.info = checker.info
        self.clauses = checker.clauses
        self._operations: OperationChecker | None = None
        # The OpenAPI step being checked (read by ``openapi_check``).
        self.current_contract: ServiceContract | None = None
        self.current_target_span = ast.NO_SPAN

    @property
    def operations(self) -> OperationChecker:
        if self._operations is None:
            from flowc.contracts.openapi_check import OperationChecker

            self._operations = OperationChecker(self)
        return self._operations

    def error_record(self, stmt: ast.StepStmt) -> RecordT:
        """The type of the step's ``error``: ``Error``, with ``body`` for OpenAPI steps."""
        contract = self.info.step_contracts.get(id(stmt))
        if contract is None or contract.error_type is None:
            return ERROR_RECORD
        from flowc.contracts.openapi_check import error_record

        return error_record(contract.error_type)

    def check(self, stmt: ast.StepStmt, scope: Scope) -> tuple[Type, dict[str, ast.Clause]]:
        """The type of the step's value (its ``body``) and its checked clauses."""
        if isinstance(stmt.action, ast.HttpAction):
            body, clauses = self._http_step(stmt, stmt.action, scope)
        else:
            body, clauses = self._call_step(stmt, stmt.action, scope)
        return self._step_body_type(stmt, body, clauses, scope), clauses

    def _http_step(
        self, stmt: ast.StepStmt, action: ast.HttpAction, scope: Scope
    ) -> tuple[Type, dict[str, ast.Clause]]:
        service = self._service(action)
        target = self.exprs.check(action.target, scope)
        if not assignable(target, STRING) and target != ERROR and not contains_secret(target):
            self.checker.error(
                messages.TYPE_MISMATCH(
                    action.target.span, what="the URL", expected=STRING, found=target
                )
            )
        if contains_secret(target):
            self.checker.error(messages.SECRET_IN_URL(action.target.span))
        clauses = self.clauses.check_clauses(stmt.clauses, "step", scope)
        self._check_idempotency(stmt, action.method, service, clauses)
        body: Type = JSON
        if service is not None and service.contract is not None:
            body = self._against_operation(stmt, service, clauses, action)
        if stmt.result_type is not None:
            body = self.checker.resolve_annotation(stmt.result_type)
        return body, clauses

    def _against_operation(
        self,
        stmt: ast.StepStmt,
        service: ServiceInfo,
        clauses: dict[str, ast.Clause],
        action: ast.HttpAction | ast.CallAction,
    ) -> Type:
        """Check a step against its OpenAPI operation; the type of its body."""
        contract: ServiceContract = service.contract
        self.current_contract = contract
        self.current_target_span = action.span
        match = None
        if isinstance(action, ast.HttpAction):
            self.current_target_span = action.target.span
            match = self.operations.by_path(service, contract, action)
            operation = match.operation if match is not None else None
        else:
            operation = self.operations.by_id(service, contract, action)
        if operation is None:
            return JSON
        found = self.operations.check(stmt, service, contract, operation, clauses, match)
        self.info.step_contracts[id(stmt)] = found
        return found.body_type

    def _service(self, action: ast.HttpAction) -> ServiceInfo | None:
        if action.service is None:
            return None
        service = self.module.find_service(action.service)
        if service is None:
            from flowc.compiler.symbols import services_of

            hint = suggest(action.service, self.module.names_of(services_of))
            self.checker.error(
                messages.UNKNOWN_SERVICE(
                    action.span,
                    name=action.service,
                    help=f"did you mean `{hint}`?" if hint else None,
                )
            )
        else:
            self.info.step_targets[id(action)] = service
        return service

    def _check_idempotency(
        self,
        stmt: ast.StepStmt,
        method: str,
        service: ServiceInfo | None,
        clauses: dict[str, ast.Clause],
    ) -> None:
        key = clauses.get("idempotency_key")
        explicit = isinstance(key, ast.ValueClause) and not is_null_literal(key.value)
        if method not in NON_IDEMPOTENT or explicit:
            return
        source = _retry_source(clauses, service, self.checker.frames)
        if source is not None:
            self.checker.error(
                messages.RETRY_NOT_IDEMPOTENT(
                    stmt.span,
                    method=method,
                    step=stmt.name,
                    source=source,
                    help=(
                        "flowc sends a default key (the run id and the step); say which with "
                        '`idempotency_key "${run.id}-..."` so the server can drop duplicates'
                    ),
                )
            )

    def _operation_service(self, action: ast.CallAction) -> ServiceInfo | None:
        """The OpenAPI service a ``call service.operationId(...)`` step names, if any."""
        if action.module is None:
            return None
        service = self.module.find_service(action.module)
        if service is None or service.decl.openapi is None:
            return None
        if action.module in self.module.aliases:
            self.checker.error(messages.AMBIGUOUS_OPERATION_CALL(action.span, name=action.module))
            return None
        self.info.step_targets[id(action)] = service
        return service

    def _operation_step(
        self, stmt: ast.StepStmt, action: ast.CallAction, service: ServiceInfo, scope: Scope
    ) -> tuple[Type, dict[str, ast.Clause]]:
        for arg in action.args:
            self.exprs.check(arg.value, scope)
        clauses = self.clauses.check_clauses(stmt.clauses, "step", scope)
        body: Type = JSON
        if service.contract is not None:
            body = self._against_operation(stmt, service, clauses, action)
            found = self.info.step_contracts.get(id(stmt))
            if found is not None:
                self._check_idempotency(stmt, found.operation.method, service, clauses)
        if stmt.result_type is not None:
            body = self.checker.resolve_annotation(stmt.result_type)
        return body, clauses

    def _call_step(
        self, stmt: ast.StepStmt, action: ast.CallAction, scope: Scope
    ) -> tuple[Type, dict[str, ast.Clause]]:
        service = self._operation_service(action)
        if service is not None:
            return self._operation_step(stmt, action, service, scope)
        clauses = self.clauses.check_clauses(stmt.clauses, "call step", scope)
        if stmt.result_type is not None:
            self.checker.error(messages.CALL_RESULT_TYPE(stmt.result_type.span))
        flow = self.module.find_flow(action.flow, action.module)
        if flow is None:
            from flowc.compiler.symbols import flows_of

            shown = f"{action.module}.{action.flow}" if action.module else action.flow
            hint = (
                suggest(action.flow, self.module.names_of(flows_of))
                if action.module is None
                else None
            )
            self.checker.error(
                messages.UNKNOWN_FLOW(
                    action.span, name=shown, help=f"did you mean `{hint}`?" if hint else None
                )
            )
            for arg in action.args:
                self.exprs.check(arg.value, scope)
            return ERROR, clauses
        self.info.step_targets[id(action)] = flow
        self._check_call_args(action, flow, scope)
        return _flow_result(flow, self.checker), clauses

    def _check_call_args(self, action: ast.CallAction, flow: FlowInfo, scope: Scope) -> None:
        params = {p.name: p for p in flow.params}
        given: dict[str, ast.Arg] = {}
        for position, arg in enumerate(action.args):
            found = self.exprs.check(arg.value, scope)
            name = arg.name
            if name is None:
                if position >= len(flow.params) or any(
                    a.name is not None for a in action.args[:position]
                ):
                    self.checker.error(
                        messages.BAD_ARGUMENT(
                            arg.span,
                            flow=flow.name,
                            problem="too many positional arguments"
                            if position >= len(flow.params)
                            else "positional argument after a named one",
                        )
                    )
                    continue
                name = flow.params[position].name
            param = params.get(name)
            if param is None:
                hint = suggest(name, list(params))
                self.checker.error(
                    messages.BAD_ARGUMENT(
                        arg.span,
                        flow=flow.name,
                        problem=f"no parameter `{name}`",
                        help=f"did you mean `{hint}`?" if hint else None,
                    )
                )
                continue
            if name in given:
                self.checker.error(
                    messages.BAD_ARGUMENT(arg.span, flow=flow.name, problem=f"`{name}` given twice")
                )
            given[name] = arg
            self.info.call_arg_names[id(arg)] = name
            self.checker.check_assignable(
                arg.value, found, param.type, f"argument `{name}` of `{flow.name}`"
            )
        missing = [p.name for p in flow.params if p.default is None and p.name not in given]
        if missing:
            self.checker.error(
                messages.BAD_ARGUMENT(
                    action.span,
                    flow=flow.name,
                    problem="missing " + ", ".join(f"`{m}`" for m in missing),
                )
            )

    def _step_body_type(
        self, stmt: ast.StepStmt, body: Type, clauses: dict[str, ast.Clause], scope: Scope
    ) -> Type:
        fallback = clauses.get("fallback")
        if isinstance(fallback, ast.ValueClause):
            found = self.exprs.check(fallback.value, scope)
            self.checker.check_assignable(fallback.value, found, body, "the fallback body")
            return body
        on_error = clauses.get("on error")
        if isinstance(on_error, ast.OnErrorClause) and on_error.action == "skip":
            return make_optional(body)
        return body


def _retries(clause: ast.Clause | None) -> bool | None:
    """Whether a retry clause allows retries (None when there is no clause)."""
    if not isinstance(clause, ast.RetryClause):
        return None
    count = clause.policy.count
    return not (isinstance(count, ast.Literal) and count.value == 0)


def _retry_source(
    clauses: dict[str, ast.Clause], service: ServiceInfo | None, frames: list[Frame]
) -> str | None:
    own = _retries(clauses.get("retry"))
    if own is not None:
        return "its `retry` clause" if own else None
    if service is not None and _retries(service.clauses.get("retry")):
        return f"service `{service.name}` retries"
    if any(frame.kind == "retry" for frame in frames):
        return "an enclosing `retry` block"
    return None


def _flow_result(flow: FlowInfo, checker: FlowChecker) -> Type:
    if flow.declared_result is not None:
        return flow.declared_result
    if flow.result is not None:
        return flow.result
    return JSON
