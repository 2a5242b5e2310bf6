"""An OpenAPI service declaration: its document, base URL and authentication.

``check_openapi_service`` runs for every ``service NAME openapi "doc"`` declaration.
It loads the document (relative to the declaring file) through the program's
``ContractCache``; a document that cannot be read, does not parse or is not valid
OpenAPI becomes a diagnostic *in the document* (its line and column), reported at
the declaration as well when the document cannot be read at all.  On success the
service gets a ``ServiceContract``:

* **base URL** -- a ``url`` clause if the service has one, else the document's first
  server URL with its variables' defaults.  A relative server URL (the Petstore's
  ``/v3``) means nothing without the address it was fetched from, so it needs a
  ``url`` clause (E0606).
* **authentication** -- ``auth VALUE`` (no scheme word) sends the credentials the
  way the document's security scheme says: an API key in its header, a bearer token
  or basic credentials.  The scheme is the first the document's top-level
  ``security`` requires that flowc can send, else the first declared.  API keys in a
  query string or a cookie, OAuth 2.0 and OpenID Connect cannot be sent this way
  (E0619; OAuth 2.0 client credentials are planned).  An explicit ``auth bearer``,
  ``basic`` or ``header`` clause is kept as written, with a warning (W0602) when the
  document describes no such scheme.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import attrs

from flowc.common.types import Type
from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.loader import display_path
from flowc.contracts.openapi_document import locate, pointer
from flowc.contracts.openapi_model import Contract, Operation, Problem, RefError
from flowc.contracts.openapi_operations import OperationInfo
from flowc.contracts.openapi_paths import PathIndex
from flowc.contracts.openapi_types import SchemaTypes

if TYPE_CHECKING:
    from flowc.compiler.exprcheck import ExprChecker
    from flowc.compiler.symbols import ServiceInfo
    from flowc.contracts.openapi_store import ContractCache

_PROBLEM_MESSAGES = {
    "syntax": messages.OPENAPI_SYNTAX,
    "invalid": messages.OPENAPI_INVALID,
    "version": messages.OPENAPI_VERSION,
    "ref": messages.OPENAPI_BAD_REF,
}


@attrs.define(eq=False)
class ServiceContract:
    """What the checker and lowering know about an OpenAPI service."""

    contract: Contract
    document: str  # absolute path
    base_url: str | None  # from the document, when no `url` clause overrides it
    auth: tuple[str, str | None] | None = None  # (bearer|basic|header, header name)
    types: SchemaTypes = attrs.field(init=False)
    index: PathIndex = attrs.field(init=False)
    _operations: dict[tuple[str, str], OperationInfo] = attrs.field(init=False, factory=dict)
    reported: set[tuple[str, str]] = attrs.field(init=False, factory=set)

    def __attrs_post_init__(self) -> None:
        self.types = SchemaTypes(self.contract)
        self.index = PathIndex(self.contract.operations)

    def operation_info(self, operation: Operation) -> OperationInfo:
        key = (operation.file, operation.pointer)
        known = self._operations.get(key)
        if known is None:
            known = OperationInfo.read(self.contract, self.types, operation)
            self._operations[key] = known
        return known

    def schema_type(self, node: Any, direction: str) -> Type:
        return self.types.type_of(node, direction)


def problem_diagnostics(
    problems: list[Problem],
    texts: dict[str, str],
    fallback: ast.Span,
    sources: dict[str, str] | None = None,
) -> list[Diagnostic]:
    """Problems in documents as diagnostics at their line and column; the texts they
    point into are added to ``sources`` (by display path) for rendering."""
    diagnostics = []
    by_file: dict[str, list[Problem]] = {}
    for problem in problems:
        by_file.setdefault(problem.file, []).append(problem)
    for file, found in by_file.items():
        text = texts.get(file)
        if text is None:
            text = _read_text(file)
        positions = locate(text or "", [p.pointer for p in found if p.position is None])
        if sources is not None and text is not None and found[0].kind != "unreadable":
            sources[display_path(file)] = text
        for problem in found:
            if problem.kind == "unreadable":
                shown = display_path(problem.file)
                diagnostics.append(
                    messages.OPENAPI_UNREADABLE(fallback, path=shown, reason=problem.message)
                )
                continue
            line, col = problem.position or positions.get(problem.pointer, (1, 1))
            span = ast.Span(display_path(file), line, col, line, col + 1)
            message = _PROBLEM_MESSAGES.get(problem.kind, messages.OPENAPI_INVALID)
            diagnostics.append(message(span, problem=problem.message))
    return diagnostics


def _read_text(file: str) -> str | None:
    from flowc.contracts.openapi_store import read_document_text

    try:
        return read_document_text(file)[0]
    except Exception:
        return None


def document_path(service: ServiceInfo) -> str:
    assert service.decl.openapi is not None
    base = os.path.dirname(service.module.path)
    return os.path.normpath(os.path.join(base, service.decl.openapi))


def check_openapi_service(
    service: ServiceInfo, exprs: ExprChecker, cache: ContractCache
) -> ServiceContract | None:
    decl = service.decl
    path = document_path(service)
    loaded = cache.load(path)
    if loaded.contract is None:
        at = decl.openapi_span if decl.openapi_span.line else decl.span
        sources = exprs.info.document_sources
        for diagnostic in problem_diagnostics(loaded.problems, loaded.texts, at, sources):
            exprs.error(diagnostic)
        return None
    contract = loaded.contract
    base_url = _base_url(service, contract, exprs)
    found = ServiceContract(contract, path, base_url)
    found.auth = _auth(service, found, exprs)
    return found


def _base_url(service: ServiceInfo, contract: Contract, exprs: ExprChecker) -> str | None:
    if "url" in service.clauses:
        return None
    absolute = [u for u in contract.servers if u.startswith(("http://", "https://"))]
    if absolute:
        return absolute[0]
    found = f"`{contract.servers[0]}`, which is relative" if contract.servers else "none"
    exprs.error(
        messages.OPENAPI_NO_SERVER(
            service.decl.span,
            service=service.name,
            found=found,
            help='give it with a `url` clause: `url "https://api.example.com/v1"`',
        )
    )
    return None


# --------------------------------------------------------------------------- security


@attrs.frozen(slots=True)
class Scheme:
    name: str
    kind: str  # apiKey http oauth2 openIdConnect mutualTLS
    detail: str  # the http scheme (bearer, basic) or where an API key goes
    header: str | None  # the API key's header name

    def sendable(self) -> tuple[str, str | None] | None:
        if self.kind == "apiKey" and self.detail == "header":
            return ("header", self.header)
        if self.kind == "http" and self.detail in ("bearer", "basic"):
            return (self.detail, None)
        return None

    def why_not(self) -> str:
        if self.kind == "apiKey":
            return (
                "flowc never puts credentials in a URL"
                if self.detail == "query"
                else f"API keys in a {self.detail} are not supported"
            )
        if self.kind == "oauth2":
            return (
                "OAuth 2.0 flows are not supported yet (client credentials are planned); "
                "obtain a token yourself and give it with `auth bearer ...`"
            )
        if self.kind == "http":
            return f"HTTP `{self.detail}` authentication is not supported"
        return f"`{self.kind}` authentication is not supported"

    def describe(self) -> str:
        sendable = self.sendable()
        if sendable is None:
            return f"`{self.name}` ({self.kind})"
        if sendable[0] == "header":
            return f"an API key in header `{self.header}`"
        return f"{sendable[0]} credentials"


def security_schemes(contract: Contract) -> list[Scheme]:
    """The document's security schemes, those its top-level `security` names first."""
    schemes = []
    for name in contract.component_names("securitySchemes"):
        try:
            where = pointer("components", "securitySchemes", name)
            node = contract.resolve(contract.located(contract.root, where))
        except (RefError, KeyError):
            continue
        value = node.value if isinstance(node.value, dict) else {}
        kind = str(value.get("type", ""))
        detail = str(value.get("scheme" if kind == "http" else "in", "")).lower()
        header = value.get("name") if isinstance(value.get("name"), str) else None
        schemes.append(Scheme(str(name), kind, detail, header))
    wanted = [n for requirement in contract.security for n in requirement]
    schemes.sort(key=lambda s: wanted.index(s.name) if s.name in wanted else len(wanted))
    return schemes


def _auth(
    service: ServiceInfo, found: ServiceContract, exprs: ExprChecker
) -> tuple[str, str | None] | None:
    clause = service.clauses.get("auth")
    if not isinstance(clause, ast.AuthClause):
        return None
    schemes = security_schemes(found.contract)
    if clause.scheme is not None:
        _compare_auth(service, clause, schemes, exprs)
        return None
    usable = [s for s in schemes if s.sendable() is not None]
    if not usable:
        if schemes:
            scheme = schemes[0]
            exprs.error(
                messages.AUTH_UNSUPPORTED(clause.span, scheme=scheme.name, reason=scheme.why_not())
            )
        else:
            exprs.error(
                messages.NO_SECURITY_SCHEME(
                    clause.span,
                    problem="the document declares none",
                    help="name the scheme: `auth bearer T`, `auth basic U, P` or "
                    "`auth header NAME, VALUE`",
                )
            )
        return None
    chosen = usable[0].sendable()
    assert chosen is not None
    expected = 2 if chosen[0] == "basic" else 1
    if len(clause.args) != expected:
        exprs.error(
            messages.AUTH_ARITY(
                clause.span,
                scheme=f"{chosen[0]}` (from scheme `{usable[0].name}`)",
                expected=expected,
                found=len(clause.args),
            )
        )
    return chosen


def _compare_auth(
    service: ServiceInfo, clause: ast.AuthClause, schemes: list[Scheme], exprs: ExprChecker
) -> None:
    if not schemes:
        return
    for scheme in schemes:
        sendable = scheme.sendable()
        if sendable is None or sendable[0] != clause.scheme:
            continue
        if sendable[0] != "header":
            return
        name = clause.args[0] if clause.args else None
        if (
            isinstance(name, ast.Literal)
            and str(name.value).lower() == (scheme.header or "").lower()
        ):
            return
        if not isinstance(name, ast.Literal):
            return
    given = {"bearer": "a bearer token", "basic": "basic credentials"}.get(
        clause.scheme or "", "an API key header"
    )
    if clause.scheme == "header" and clause.args and isinstance(clause.args[0], ast.Literal):
        given = f"header `{clause.args[0].value!s}`"
    wanted = " or ".join(s.describe() for s in schemes)
    exprs.error(
        messages.AUTH_MISMATCH(clause.span, service=service.name, given=given, wanted=wanted)
    )
