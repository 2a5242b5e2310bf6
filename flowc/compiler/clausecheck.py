"""Checking clauses: the settings of services, steps and flows.

One grammar rule parses every clause everywhere, so that a misplaced clause
gets a precise message ("`circuit_breaker` belongs to a service") instead of a
syntax error.  ``ClauseChecker.check_clauses`` therefore first checks that
each clause is allowed where it appears and appears once, then checks the
types of its expressions:

=================  ==============================================
clause             expression types
=================  ==============================================
headers, form      a map or record of scalars (secrets allowed)
query              a map or record of scalars or lists of them, no secrets
json               anything
body               ``string``, ``bytes``, ``secret`` or ``secret bytes``
timeout            ``duration``
idempotency_key    ``string`` (not a secret: the journal keeps it), or ``null`` for none
                   (unsafe steps get a default)
concurrency        ``int``
url                ``string`` (the base URL of an OpenAPI service)
tls                ``bool`` (whether a gRPC service's channel uses TLS)
max_body           ``int`` (bytes) or ``string`` (``"50MB"``); a literal is
                   checked here (E0320)
auth               ``bearer T`` / ``basic U, P`` / ``header NAME, VALUE``;
                   strings or secrets, but ``NAME`` is no secret
retry              ``int``; backoff ``duration``s; ``when`` a ``bool``
                   with ``error`` in scope
circuit_breaker    ``int`` failures, ``duration`` window and cooldown
rate_limit         ``int`` per ``duration``
=================  ==============================================

``fallback``, ``compensate`` and ``on error`` depend on the step and are
checked by the statement checker; this module only places them.
"""

from __future__ import annotations

from typing import Final

from flowc.common.typerel import contains_secret, is_json, strip_optional
from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    ERROR,
    ERROR_RECORD,
    FLOAT,
    INT,
    JSON,
    NULL,
    SECRET,
    SECRET_BYTES,
    STRING,
    UINT,
    ListT,
    MapT,
    RecordT,
    Type,
)
from flowc.common.values import SIZE_SYNTAX, EvalError, describe_text, parse_byte_size
from flowc.compiler import ast, messages
from flowc.compiler.exprcheck import ExprChecker
from flowc.compiler.ir import AWS_SIGV4, OAUTH2, SIGNING_SCHEMES
from flowc.compiler.scope import CheckInfo, Scope, Symbol

SERVICE_CLAUSES: Final = frozenset(
    {
        "headers",
        "query",
        "auth",
        "timeout",
        "retry",
        "circuit_breaker",
        "rate_limit",
        "concurrency",
        "accept",
        "url",
        "tls",
        "max_body",
    }
)
HTTP_STEP_CLAUSES: Final = frozenset(
    {
        "headers",
        "query",
        "json",
        "form",
        "body",
        "auth",
        "timeout",
        "retry",
        "accept",
        "idempotency_key",
        "fallback",
        "compensate",
        "on error",
        "max_body",
    }
)
CALL_STEP_CLAUSES: Final = frozenset({"timeout", "retry", "fallback", "compensate", "on error"})
FLOW_CLAUSES: Final = frozenset({"timeout"})
BODY_CLAUSES: Final = ("json", "form", "body")

SCALARS: Final = frozenset({STRING, INT, UINT, FLOAT, BOOL, SECRET, JSON, ERROR})

_PLACES: Final = {
    "service": SERVICE_CLAUSES,
    "step": HTTP_STEP_CLAUSES,
    "call step": CALL_STEP_CLAUSES,
    "flow": FLOW_CLAUSES,
}


def clause_keyword(clause: ast.Clause) -> str:
    if isinstance(clause, ast.ValueClause):
        return clause.keyword
    return {
        ast.AuthClause: "auth",
        ast.RetryClause: "retry",
        ast.CircuitBreakerClause: "circuit_breaker",
        ast.RateLimitClause: "rate_limit",
        ast.AcceptClause: "accept",
        ast.OnErrorClause: "on error",
        ast.CompensateClause: "compensate",
    }[type(clause)]


def _home_of(keyword: str) -> str:
    homes = [place for place, allowed in _PLACES.items() if keyword in allowed]
    return " or ".join(f"a {h}" for h in homes)


class ClauseChecker:
    def __init__(self, exprs: ExprChecker) -> None:
        self.exprs = exprs

    def add(self, diagnostic: object) -> None:
        self.exprs.error(diagnostic)

    def check_clauses(
        self, clauses: tuple[ast.Clause, ...], place: str, scope: Scope
    ) -> dict[str, ast.Clause]:
        """Check placement, uniqueness and types; return the clauses by keyword."""
        by_keyword: dict[str, ast.Clause] = {}
        allowed = _PLACES[place]
        for clause in clauses:
            keyword = clause_keyword(clause)
            if keyword not in allowed:
                self.add(
                    messages.MISPLACED_CLAUSE(
                        clause.span, clause=keyword, place=place, home=_home_of(keyword)
                    )
                )
                continue
            if keyword in by_keyword:
                note = messages.note(by_keyword[keyword].span, "first given here")
                self.add(messages.DUPLICATE_CLAUSE(clause.span, clause=keyword, notes=[note]))
                continue
            by_keyword[keyword] = clause
            if (
                isinstance(clause, ast.AuthClause)
                and clause.scheme in SIGNING_SCHEMES
                and place != "service"
            ):
                self.add(messages.SERVICE_ONLY_AUTH(clause.span, scheme=clause.scheme))
            self._check_clause(clause, scope)
        self._check_single_body(by_keyword)
        return by_keyword

    def _check_single_body(self, by_keyword: dict[str, ast.Clause]) -> None:
        bodies = [by_keyword[k] for k in BODY_CLAUSES if k in by_keyword]
        if len(bodies) > 1:
            self.add(messages.SEVERAL_BODIES(bodies[1].span))

    def _check_clause(self, clause: ast.Clause, scope: Scope) -> None:
        if isinstance(clause, ast.ValueClause):
            self._check_value_clause(clause, scope)
        elif isinstance(clause, ast.AuthClause):
            self._check_auth(clause, scope)
        elif isinstance(clause, ast.RetryClause):
            self.check_retry_policy(clause.policy, scope)
        elif isinstance(clause, ast.CircuitBreakerClause):
            self._expect_int(clause.failures, scope, "the failure count")
            self._expect_duration(clause.window, scope, "the failure window")
            self._expect_duration(clause.cooldown, scope, "the cooldown")
        elif isinstance(clause, ast.RateLimitClause):
            self._expect_int(clause.count, scope, "the rate limit")
            self._expect_duration(clause.per, scope, "the rate-limit period")

    def _check_value_clause(self, clause: ast.ValueClause, scope: Scope) -> None:
        keyword = clause.keyword
        if keyword in ("headers", "form", "query"):
            self._check_field_map(clause, scope)
        elif keyword == "body":
            found = self.exprs.check(clause.value, scope)
            if found not in (STRING, BYTES, SECRET, SECRET_BYTES, JSON, ERROR):
                self.add(
                    messages.TYPE_MISMATCH(
                        clause.value.span, what="`body`", expected="string or bytes", found=found
                    )
                )
        elif keyword == "timeout":
            self._expect_duration(clause.value, scope, "`timeout`")
        elif keyword == "idempotency_key":
            if not is_null_literal(clause.value):  # `idempotency_key null` sends none
                found = self.exprs.expect(clause.value, scope, STRING, "`idempotency_key`")
                if contains_secret(found):
                    self.add(messages.SECRET_RECORDED(clause.value.span, what="an idempotency key"))
        elif keyword == "concurrency":
            self._expect_int(clause.value, scope, "`concurrency`")
        elif keyword == "url":
            self.exprs.check(clause.value, scope)  # a string; the service checker says so
        elif keyword == "tls":
            self.exprs.expect(clause.value, scope, BOOL, "`tls`")
        elif keyword == "max_body":
            self._check_size(clause.value, scope, "max_body")
        elif keyword == "json":
            self.exprs.check(clause.value, scope)

    def _check_size(self, expr: ast.Expr, scope: Scope, clause: str) -> None:
        """A size: an ``int`` of bytes or a ``string`` such as ``"50MB"`` (literals checked)."""
        found = self.exprs.check(expr, scope)
        if found not in (INT, STRING, JSON, ERROR):
            self.add(
                messages.TYPE_MISMATCH(
                    expr.span, what=f"`{clause}`", expected="int or string", found=found
                )
            )
            return
        if not isinstance(expr, ast.Literal):
            return
        found_text = ""
        if expr.kind == "int" and isinstance(expr.value, int) and expr.value < 1:
            found_text = str(expr.value)
        elif expr.kind == "string" and isinstance(expr.value, str):
            try:
                parse_byte_size(expr.value)
            except EvalError:
                found_text = describe_text(expr.value)
        if found_text:
            self.add(
                messages.BAD_SIZE(expr.span, clause=clause, syntax=SIZE_SYNTAX, found=found_text)
            )

    def _check_field_map(self, clause: ast.ValueClause, scope: Scope) -> None:
        found = self.exprs.check(clause.value, scope)
        values = _map_values(found)
        if values is None:
            self.add(
                messages.TYPE_MISMATCH(
                    clause.value.span,
                    what=f"`{clause.keyword}`",
                    expected="a map of strings",
                    found=found,
                )
            )
            return
        lists_ok = clause.keyword in ("query", "form")  # repeated keys
        for value in values:
            item = strip_optional(value)
            if lists_ok and isinstance(item, ListT):
                item = item.elem
            if item not in SCALARS and item != NULL:  # a null value leaves the key out
                self.add(
                    messages.TYPE_MISMATCH(
                        clause.value.span,
                        what=f"a value in `{clause.keyword}`",
                        expected="a string, number or bool",
                        found=value,
                    )
                )
                return
        if clause.keyword == "query" and contains_secret(found):
            self.add(messages.SECRET_IN_URL(clause.value.span))

    def _check_auth(self, clause: ast.AuthClause, scope: Scope) -> None:
        if clause.scheme is None:  # the document's scheme decides (openapi_service)
            for arg in clause.args:
                self.exprs.expect(arg, scope, STRING, "`auth`")
            return
        if clause.scheme == OAUTH2:
            self._check_oauth2(clause, scope)
            return
        if clause.scheme == AWS_SIGV4:
            self._check_sigv4(clause, scope)
            return
        expected = {"bearer": 1, "basic": 2, "header": 2}[clause.scheme]
        if len(clause.args) != expected:
            self.add(
                messages.AUTH_ARITY(
                    clause.span, scheme=clause.scheme, expected=expected, found=len(clause.args)
                )
            )
        for position, arg in enumerate(clause.args):
            found = self.exprs.expect(arg, scope, STRING, f"`auth {clause.scheme}`")
            if clause.scheme == "header" and position == 0 and contains_secret(found):
                self.add(messages.SECRET_RECORDED(arg.span, what="the name of a header"))

    def _check_oauth2(self, clause: ast.AuthClause, scope: Scope) -> None:
        """``TOKEN_URL, CLIENT_ID, CLIENT_SECRET[, SCOPES]``: the URL is plain (it
        is traced), the id and secret strings or secrets, the scopes a list."""
        if len(clause.args) not in (3, 4):
            self.add(
                messages.AUTH_ARITY(
                    clause.span, scheme=clause.scheme, expected="3 or 4", found=len(clause.args)
                )
            )
        wanted = (STRING, STRING, STRING, ListT(STRING))
        what = ("the token URL", "the client id", "the client secret", "the scopes")
        for arg, expected, name in zip(clause.args, wanted, what, strict=False):
            found = self.exprs.expect(arg, scope, expected, f"{name} of `auth oauth2`")
            if name == "the token URL" and contains_secret(found):
                self.add(messages.SECRET_IN_URL(arg.span))

    def _check_sigv4(self, clause: ast.AuthClause, scope: Scope) -> None:
        """``REGION, SERVICE, ACCESS_KEY, SECRET_KEY[, SESSION_TOKEN]``: strings; the
        region and service plain (they are part of the credential scope)."""
        if len(clause.args) not in (4, 5):
            self.add(
                messages.AUTH_ARITY(
                    clause.span, scheme=clause.scheme, expected="4 or 5", found=len(clause.args)
                )
            )
        what = ("the region", "the service", "the access key", "the secret key", "the token")
        for position, (arg, name) in enumerate(zip(clause.args, what, strict=False)):
            found = self.exprs.expect(arg, scope, STRING, f"{name} of `auth aws_sigv4`")
            if position < 2 and contains_secret(found):
                self.add(messages.SECRET_RECORDED(arg.span, what=name))

    def check_retry_policy(self, policy: ast.RetryPolicy, scope: Scope) -> None:
        self._expect_int(policy.count, scope, "the retry count")
        backoff = policy.backoff
        if backoff is not None:
            self._expect_duration(backoff.delay, scope, "the backoff delay")
            if backoff.max is not None:
                self._expect_duration(backoff.max, scope, "the backoff maximum")
            if backoff.factor is not None:
                found = self.exprs.check(backoff.factor, scope)
                if found not in (INT, FLOAT, JSON, ERROR):
                    self.add(
                        messages.TYPE_MISMATCH(
                            backoff.factor.span,
                            what="the backoff factor",
                            expected="a number",
                            found=found,
                        )
                    )
                elif (factor := _literal_number(backoff.factor)) is not None and not factor > 0:
                    self.add(messages.BAD_BACKOFF_FACTOR(backoff.factor.span))
        if policy.when is not None:
            self.exprs.expect(
                policy.when, error_scope(scope, "error", policy, self.exprs.info), BOOL, "`when`"
            )

    def _expect_int(self, expr: ast.Expr, scope: Scope, what: str) -> None:
        self.exprs.expect(expr, scope, INT, what)

    def _expect_duration(self, expr: ast.Expr, scope: Scope, what: str) -> None:
        found = self.exprs.check(expr, scope)
        if found not in (DURATION, JSON, ERROR):
            help_text = (
                "write a duration such as `2s` or `250ms`" if found in (INT, FLOAT) else None
            )
            self.add(
                messages.TYPE_MISMATCH(
                    expr.span, what=what, expected=DURATION, found=found, help=help_text
                )
            )


def error_scope(
    scope: Scope, name: str, owner: ast.Node, info: CheckInfo, record: RecordT = ERROR_RECORD
) -> Scope:
    """A child scope in which ``name`` is the error record (``when``, ``catch``).

    The symbol is recorded under ``owner`` (the retry policy or try statement)
    so that lowering can give it a slot.
    """
    inner = scope.child()
    symbol = Symbol(
        name, "catch", record, ast.name_span_of(owner), scope.module_path, node=owner, uses=1
    )
    inner.declare(symbol)
    info.error_symbols[id(owner)] = symbol
    return inner


def _literal_number(expr: ast.Expr) -> float | None:
    """The value of a number literal, or of a negated one (``-2``)."""
    sign = 1
    if isinstance(expr, ast.Unary) and expr.op == "-":
        sign, expr = -1, expr.operand
    if isinstance(expr, ast.Literal) and expr.kind in ("int", "uint", "float"):
        return sign * float(expr.value)  # type: ignore[arg-type]
    return None


def _map_values(t: Type) -> list[Type] | None:
    if is_json(t):
        return []
    if isinstance(t, RecordT):
        return [f.type for f in t.fields]
    if isinstance(t, MapT):
        return [t.value]
    return None


def is_null_literal(expr: ast.Expr) -> bool:
    """Whether ``expr`` is the literal ``null`` (as in ``idempotency_key null``)."""
    return isinstance(expr, ast.Literal) and expr.kind == "null"
