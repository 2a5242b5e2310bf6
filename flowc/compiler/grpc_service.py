"""A gRPC service declaration: its target, its ``.proto`` file and its settings.

``check_grpc_service`` runs for every ``service NAME grpc TARGET proto "file.proto"``
declaration.  The target is any string expression (``"127.0.0.1:50051"``,
``env("BILLING_ADDR", "billing:443")``), evaluated once per engine; it must not hold
a secret.  The ``.proto`` file (relative to the declaring file) is compiled through
the program's ``ProtoCache`` (``contracts/proto_store.py``): ``protoc``'s errors
become diagnostics at their line and column in the file (E0624), a file that cannot
be compiled at all one at the declaration (E0623), and a file without a service
E0625.  On success the service gets a ``GrpcContract``.

Settings.  ``headers`` are sent as metadata, ``auth`` as the ``authorization``
metadata (``bearer``, ``basic``) or the named one (``header``), ``timeout`` is each
call's deadline, and ``retry``, ``circuit_breaker``, ``rate_limit`` and
``concurrency`` mean what they mean for HTTP.  ``tls`` (a ``bool``) says whether the
channel uses TLS; without it, TLS is on unless the target is a loopback address
(``127.0.0.1``, ``localhost``, ``[::1]``) or a Unix socket.  The clauses that only
HTTP understands -- ``query``, ``accept``, ``url`` and a scheme-less ``auth`` -- are
errors here (E0632).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import attrs

from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.ir import SIGNING_SCHEMES
from flowc.compiler.loader import display_path
from flowc.contracts.proto_document import ProtoProblem, read_proto_text
from flowc.contracts.proto_model import ProtoContract
from flowc.contracts.proto_types import ProtoTypes

if TYPE_CHECKING:
    from flowc.compiler.exprcheck import ExprChecker
    from flowc.compiler.symbols import ServiceInfo
    from flowc.contracts.proto_store import ProtoCache

HTTP_ONLY_CLAUSES = {
    "query": "gRPC has no query string; put the value in the request message",
    "accept": "a gRPC call succeeds with status OK; other statuses are errors",
    "url": "the target after `grpc` says where the service is",
}


@attrs.define(eq=False)
class GrpcContract:
    """What the checker and lowering know about a gRPC service."""

    contract: ProtoContract
    proto: str  # absolute path
    types: ProtoTypes = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.types = ProtoTypes(self.contract)


def proto_path(service: ServiceInfo) -> str:
    assert service.decl.proto is not None
    base = os.path.dirname(service.module.path)
    return os.path.normpath(os.path.join(base, service.decl.proto))


def check_grpc_service(
    service: ServiceInfo, exprs: ExprChecker, cache: ProtoCache
) -> GrpcContract | None:
    decl = service.decl
    _reject_http_clauses(service, exprs)
    path = proto_path(service)
    loaded = cache.load(path)
    at = decl.proto_span if decl.proto_span.line else decl.span
    if loaded.contract is None:
        for diagnostic in problem_diagnostics(loaded.problems, at, exprs.info.document_sources):
            exprs.error(diagnostic)
        return None
    if not loaded.contract.services:
        exprs.error(messages.PROTO_NO_SERVICE(at, path=decl.proto))
        return None
    return GrpcContract(loaded.contract, path)


def _reject_http_clauses(service: ServiceInfo, exprs: ExprChecker) -> None:
    for keyword, why in HTTP_ONLY_CLAUSES.items():
        clause = service.clauses.get(keyword)
        if clause is not None:
            exprs.error(messages.NOT_FOR_GRPC(clause.span, what=f"`{keyword}`", why=why))
    auth = service.clauses.get("auth")
    if isinstance(auth, ast.AuthClause) and auth.scheme in SIGNING_SCHEMES:
        exprs.error(
            messages.NOT_FOR_GRPC(
                auth.span,
                what=f"`auth {auth.scheme}`",
                why="it signs or authorizes HTTP requests only",
            )
        )
    if isinstance(auth, ast.AuthClause) and auth.scheme is None:
        exprs.error(
            messages.NOT_FOR_GRPC(
                auth.span,
                what="`auth` without a scheme",
                why="a .proto file describes no authentication",
                help="name the scheme: `auth bearer T`, `auth basic U, P` or "
                '`auth header "x-api-key", K`',
            )
        )


def problem_diagnostics(
    problems: list[ProtoProblem], fallback: ast.Span, sources: dict[str, str]
) -> list[Diagnostic]:
    """``protoc``'s problems at their line and column in the files they name (an
    unreadable file at ``fallback``, the declaration); the texts they point into are
    added to ``sources`` (by display path) for rendering."""
    diagnostics = []
    for problem in problems:
        shown = display_path(problem.file)
        if problem.kind == "unreadable":
            diagnostics.append(
                messages.PROTO_UNREADABLE(fallback, path=shown, reason=problem.message)
            )
            continue
        text = sources.get(shown) or read_proto_text(problem.file)
        if text is not None:
            sources[shown] = text
        line, col = problem.position or (1, 1)
        span = ast.Span(shown, line, col, line, col + 1)
        diagnostics.append(messages.PROTO_ERROR(span, problem=problem.message))
    return diagnostics
