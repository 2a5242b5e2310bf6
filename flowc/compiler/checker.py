"""The checker: from a loaded program to diagnostics and semantic facts.

``check_program`` runs the resolver and type checker over every module of a
``loader.Program`` and collects *all* diagnostics in one run.  It proceeds in
phases so that each phase can rely on the previous one being complete:

1. **Collect** every module's declarations (``symbols.ModuleSymbols``),
   dependencies before dependents, and connect imports.
2. **Resolve** named types; check constants in declaration order; resolve
   flow signatures (parameter types, defaults, declared results); check
   service clauses.
3. **Check flow bodies** (``stmtcheck.FlowChecker``).  A flow without a
   declared result type gets the type inferred from its ``return``s, and a
   caller needs it, so bodies are checked callees-first (``callgraph``: a
   depth-first walk of the call graph with an explicit stack, so long call
   chains cannot exhaust the interpreter's; along a cycle, the flow not yet
   checked is ``json`` to its caller).
4. **Deadline budget** (``budget``): worst-case durations against enclosing
   timeouts.
5. **Unused imports.**

The result, ``CheckResult``, bundles the program, the module environments and
the ``CheckInfo`` facts (expression types, references, overloads) for the
lowering pass and the language server.
"""

from __future__ import annotations

import attrs

from flowc.common.typerel import assignable, contains_secret, keeps_secrets
from flowc.common.types import ERROR, NULL, STRING, Type
from flowc.compiler import ast, messages
from flowc.compiler.callgraph import call_actions, callees_first
from flowc.compiler.clausecheck import ClauseChecker
from flowc.compiler.diagnostics import DiagnosticSink
from flowc.compiler.exprcheck import ExprChecker
from flowc.compiler.loader import ParseCache, Program
from flowc.compiler.scope import CheckInfo, Scope, Symbol
from flowc.compiler.stmtcheck import FlowChecker
from flowc.compiler.symbols import FlowInfo, ModuleSymbols, ParamInfo, ServiceInfo


@attrs.define(eq=False)
class CheckResult:
    program: Program
    modules: dict[str, ModuleSymbols]
    info: CheckInfo
    sink: DiagnosticSink

    @property
    def root(self) -> ModuleSymbols | None:
        return self.modules.get(self.program.root)

    @property
    def ok(self) -> bool:
        return not self.sink.has_errors


def check_program(program: Program, sink: DiagnosticSink) -> CheckResult:
    info = CheckInfo(sink)
    modules = _collect(program, info)
    exprs = ExprChecker(info)
    for module in modules.values():
        module.resolve_all_types()
        _check_consts(module, exprs)
        _check_signatures(module, exprs)
        _check_services(module, exprs, program)
    _check_flows(modules, exprs)
    from flowc.compiler.budget import check_budgets

    check_budgets(modules, info)
    for module in modules.values():
        _report_unused_imports(module, info)
    return CheckResult(program, modules, info, sink)


def _collect(program: Program, info: CheckInfo) -> dict[str, ModuleSymbols]:
    modules: dict[str, ModuleSymbols] = {}
    for path in program.order:
        loaded = program.modules[path]
        if loaded.module is None:
            continue
        if not loaded.module.decls and not isinstance(loaded.module, ast.WorkflowModule):
            start = ast.Span(loaded.module.span.file, 1, 1, 1, 2)
            info.sink.add(messages.EMPTY_FILE(start))
        module = ModuleSymbols(path, loaded.module, info)
        targets = {
            key: modules[target] for key, target in loaded.imports.items() if target in modules
        }
        module.collect(targets)
        modules[path] = module
    return modules


def _check_consts(module: ModuleSymbols, exprs: ExprChecker) -> None:
    scope = Scope(module)
    for decl in module.module.decls:
        if not isinstance(decl, ast.ConstDecl):
            continue
        found = exprs.check(decl.value, scope)
        if decl.annotation is not None:
            declared = module.resolve_type(decl.annotation)
            exprs.info.annotation_types[id(decl.annotation)] = declared
            if not assignable(found, declared):
                exprs.error(
                    messages.TYPE_MISMATCH(
                        decl.value.span,
                        what=f"constant `{decl.name}`",
                        expected=declared,
                        found=found,
                    )
                )
            elif not keeps_secrets(found, declared):
                what = f"constant `{decl.name}`"
                exprs.error(messages.SECRET_HIDDEN(decl.value.span, what=what, type=declared))
            found = declared
        module.declare_const(
            Symbol(
                decl.name, "const", found, ast.name_span_of(decl), module.path, node=decl, uses=1
            )
        )


def _check_signatures(module: ModuleSymbols, exprs: ExprChecker) -> None:
    for flow in module.flows.values():
        decl = flow.decl
        seen: set[str] = set()
        for param in decl.params:
            if param.name in seen:
                exprs.error(messages.DUPLICATE_BINDING(param.span, name=param.name))
            seen.add(param.name)
            flow.params.append(_param_info(param, module, exprs))
        if decl.result is not None:
            flow.declared_result = module.resolve_type(decl.result)
            exprs.info.annotation_types[id(decl.result)] = flow.declared_result
            flow.result = flow.declared_result


def _param_info(param: ast.Param, module: ModuleSymbols, exprs: ExprChecker) -> ParamInfo:
    declared = module.resolve_type(param.type)
    exprs.info.annotation_types[id(param.type)] = declared
    if param.default is not None:
        found = exprs.check(param.default, Scope(module))
        if not assignable(found, declared) and found != ERROR:
            exprs.error(
                messages.TYPE_MISMATCH(
                    param.default.span,
                    what=f"the default of `{param.name}`",
                    expected=declared,
                    found=found,
                )
            )
        elif not keeps_secrets(found, declared):
            what = f"the default of `{param.name}`"
            exprs.error(messages.SECRET_HIDDEN(param.default.span, what=what, type=declared))
    return ParamInfo(param.name, declared, param.default, param.span)


def _check_services(module: ModuleSymbols, exprs: ExprChecker, program: Program) -> None:
    clauses = ClauseChecker(exprs)
    for service in module.services.values():
        scope = Scope(module)
        base_url = service.decl.base_url
        if base_url is not None:
            _check_base_url(base_url, exprs.check(base_url, scope), exprs)
        service.clauses = clauses.check_clauses(service.decl.clauses, "service", scope)
        kind = service.decl.kind
        if kind != "grpc" and "tls" in service.clauses:
            tls = service.clauses["tls"]
            exprs.error(
                messages.GRPC_ONLY(
                    tls.span,
                    what="a `tls` clause",
                    help="an HTTP service's URL says whether it uses TLS: `https://...`",
                )
            )
        cache = program.parse_cache if program.parse_cache is not None else ParseCache()
        if kind == "grpc":
            assert service.decl.grpc is not None
            target = service.decl.grpc
            _check_base_url(target, exprs.check(target, scope), exprs, "a gRPC service's target")
            from flowc.compiler.grpc_service import check_grpc_service

            service.contract = check_grpc_service(service, exprs, cache.protos())
            continue
        if kind == "http":
            _reject_document_clauses(service, exprs)
            continue
        url = service.clauses.get("url")
        if isinstance(url, ast.ValueClause):
            _check_base_url(url.value, exprs.info.type_of(url.value) or ERROR, exprs)
        from flowc.compiler.openapi_service import check_openapi_service

        service.contract = check_openapi_service(service, exprs, cache.contracts())


def _check_base_url(
    expr: ast.Expr, found: Type, exprs: ExprChecker, what: str = "a service's base URL"
) -> None:
    if not assignable(found, STRING) and found != ERROR:
        exprs.error(messages.TYPE_MISMATCH(expr.span, what=what, expected=STRING, found=found))
    if contains_secret(found):
        exprs.error(messages.SECRET_IN_URL(expr.span))


def _reject_document_clauses(service: ServiceInfo, exprs: ExprChecker) -> None:
    """``url`` and scheme-less ``auth`` need a document to mean anything."""
    url = service.clauses.get("url")
    if url is not None:
        exprs.error(
            messages.OPENAPI_ONLY(
                url.span,
                what="a `url` clause",
                help="the base URL of this service is the expression after its name",
            )
        )
    auth = service.clauses.get("auth")
    if isinstance(auth, ast.AuthClause) and auth.scheme is None:
        exprs.error(
            messages.OPENAPI_ONLY(
                auth.span,
                what="`auth` without a scheme",
                help="name it: `auth bearer T`, `auth basic U, P` or `auth header NAME, VALUE`",
            )
        )


def _check_flows(modules: dict[str, ModuleSymbols], exprs: ExprChecker) -> None:
    """Check every flow body, callees first (``callgraph.callees_first``): a
    caller sees the inferred result type of a flow it calls, except along a
    cycle, where the flow not yet checked is ``json``."""
    flows = [flow for module in modules.values() for flow in module.flows.values()]
    for flow in callees_first(flows, _callees).flows:
        _check_flow(flow, exprs)


def _check_flow(flow: FlowInfo, exprs: ExprChecker) -> None:
    flow.state = "checking"
    module = flow.module
    scope = Scope(module)
    checker = FlowChecker(module, flow, exprs)
    for param, info in zip(flow.decl.params, flow.params, strict=True):
        symbol = Symbol(
            param.name, "param", info.type, ast.name_span_of(param), module.path, node=param, uses=1
        )
        scope.declare(symbol)
        exprs.info.symbols.append(symbol)
    ClauseChecker(exprs).check_clauses(flow.decl.clauses, "flow", scope)
    inner = scope.child()
    flow.result = checker.check_body(inner)
    flow.state = "done"


def _callees(flow: FlowInfo) -> list[FlowInfo]:
    """Flows this flow calls whose result types are not declared."""
    found: list[FlowInfo] = []
    for action in call_actions(flow.decl.body):
        target = flow.module.find_flow(action.flow, action.module)
        if target is not None and target.declared_result is None and target is not flow:
            found.append(target)
    return found


def _report_unused_imports(module: ModuleSymbols, info: CheckInfo) -> None:
    for entry in module.imports:
        used = entry.used or (entry.symbol is not None and entry.symbol.uses > 0)
        if not used:
            info.sink.add(messages.UNUSED_IMPORT(entry.decl.span, path=entry.decl.path))


def flow_result_type(flow: FlowInfo) -> Type:
    return flow.result if flow.result is not None else NULL


class _ExpressionEnv:
    """The environment of a stand-alone expression: its bindings and the built-ins."""

    def __init__(self, bindings: dict[str, Type]) -> None:
        from flowc.compiler.symbols import builtin_values

        self.path = "<expr>"
        self.values = builtin_values()
        for name, type_ in bindings.items():
            self.values[name] = Symbol(name, "param", type_, ast.NO_SPAN, self.path, uses=1)

    def lookup_value(self, name: str) -> Symbol | None:
        return self.values.get(name)

    def member(self, alias: str, name: str) -> Symbol | None:
        return None

    def value_names(self) -> list[str]:
        return list(self.values)


def check_expression(
    expr: ast.Expr, bindings: dict[str, Type], sink: DiagnosticSink | None = None
) -> tuple[Type, CheckInfo]:
    """Type-check one expression with the given variable types.

    Used by ``flowc.evaluate`` and the CEL conformance runner.  The returned
    ``CheckInfo`` carries the expression types, references (``Symbol.kind`` is
    ``"param"`` for a binding) and chosen overloads for the evaluator.
    """
    info = CheckInfo(sink if sink is not None else DiagnosticSink())
    checker = ExprChecker(info)
    result = checker.check(expr, Scope(_ExpressionEnv(bindings)))
    return result, info
