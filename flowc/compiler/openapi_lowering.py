"""What lowering makes of OpenAPI services and steps: plain HTTP settings.

The runtime knows nothing of OpenAPI.  Lowering asks this module for:

* ``base_url_expr`` -- the document's server URL as a constant expression, when no
  ``url`` clause overrides it;
* ``document_auth`` -- a scheme-less ``auth VALUE`` turned into the runtime's
  ``bearer``/``basic``/``header`` form, using the scheme the checker chose;
* ``operation_request`` -- for ``call service.operationId(args)``: the path, built from
  the template with each path argument's text percent-encoded as one segment, and the
  query and header arguments merged under the step's own ``query`` and ``headers``
  clauses (which therefore win), as ``ir.Expr`` closures.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flowc.common.span import Span
from flowc.common.values import EvalError, Secret, to_text
from flowc.compiler import ir

_PARAM = re.compile(r"\{([^{}/]+)\}")


def constant_expr(value: Any, span: Span, source: str | None = None) -> ir.Expr:
    """An expression that always gives ``value`` (shown as ``source``, else its repr)."""

    def constant(_frame: ir.Frame) -> Any:
        return value

    return ir.Expr(repr(value) if source is None else source, constant, span)


def document_auth(
    chosen: tuple[str, str | None], args: tuple[ir.Expr, ...], span: Span
) -> tuple[str, tuple[ir.Expr, ...]]:
    scheme, header = chosen
    if scheme == "header":
        return "header", (constant_expr(header or "", span), *args)
    return scheme, args


def _segment(value: Any) -> str:
    if isinstance(value, Secret):
        raise EvalError("type", "a secret must not be part of a URL")
    if isinstance(value, list | dict):
        raise EvalError("type", f"a path parameter must be a scalar, found {to_text(value)}")
    return quote(to_text(value), safe="")


def operation_request(
    template: str,
    arguments: list[tuple[str, str, ir.Expr]],
    own_query: ir.Expr | None,
    own_headers: ir.Expr | None,
    span: Span,
) -> tuple[ir.Expr, ir.Expr | None, ir.Expr | None]:
    """The target, query and headers of an operation call (module docstring)."""
    path_args = {name: expr for name, place, expr in arguments if place == "path"}
    query_args = [(name, expr) for name, place, expr in arguments if place == "query"]
    header_args = [(name, expr) for name, place, expr in arguments if place == "header"]

    # A query string written into the template keeps its literal pairs; its `{name}`
    # pairs are parameters, sent from the call's arguments like any other.
    base, _, written = template.partition("?")
    fixed = "&".join(p for p in written.split("&") if p and not _PARAM.search(p))
    template = f"{base}?{fixed}" if fixed else base

    def path(frame: ir.Frame) -> str:
        def fill(match: re.Match[str]) -> str:
            expr = path_args.get(match.group(1))
            return match.group(0) if expr is None else _segment(expr.run(frame))

        return _PARAM.sub(fill, template)

    reads = (
        frozenset().union(*(expr.reads for _, _, expr in arguments)) if arguments else frozenset()
    )
    target = ir.Expr(template, path, span, reads)
    query = _merged(query_args, own_query, span)
    headers = _merged(header_args, own_headers, span)
    return target, query, headers


def _merged(pairs: list[tuple[str, ir.Expr]], own: ir.Expr | None, span: Span) -> ir.Expr | None:
    if not pairs:
        return own
    run_own: Callable[[ir.Frame], Any] | None = own.run if own is not None else None

    def merged(frame: ir.Frame) -> dict[str, Any]:
        values = {name: expr.run(frame) for name, expr in pairs}
        if run_own is not None:
            extra = run_own(frame)
            if isinstance(extra, dict):
                values.update(extra)
        return values

    reads = frozenset().union(*(expr.reads for _, expr in pairs))
    if own is not None:
        reads |= own.reads
    source = ", ".join(name for name, _ in pairs)
    return ir.Expr(f"{{{source}}}", merged, span, reads)
