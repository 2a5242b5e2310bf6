"""The words of the `.flow` language, in one place.

Every tool that knows `.flow` syntax — the Lark grammar, the Pygments lexer,
the TextMate grammar, the Vim syntax file, the language server's completion —
draws on these lists, and `tests/test_keywords.py` checks that each of them
knows every word here, so they cannot drift apart.

* ``RESERVED`` words start declarations and statements (or are literals); they
  can never name a binding, a step, a flow, a type or a service.
* ``STATEMENT_CLAUSE_KEYWORDS`` start statements but are also common field names
  (``timeout``, ``retry``); the contextual lexer lets them be names wherever a
  keyword cannot appear (``cfg.timeout``, ``let retry = 3``).
* ``CLAUSE_KEYWORDS`` appear only inside service, step and flow clauses and in
  a few statement forms; they stay usable as names and record fields.
* ``HTTP_METHODS`` begin an HTTP step.
* ``BUILTIN_TYPES`` and ``BUILTIN_FUNCTIONS`` are ordinary names the resolver
  knows; editors highlight them.
"""

from __future__ import annotations

import re
from typing import Final

DECLARATION_KEYWORDS: Final = ("import", "type", "const", "service", "flow")

STATEMENT_KEYWORDS: Final = (
    "let",
    "var",
    "step",
    "sleep",
    "if",
    "else",
    "for",
    "in",
    "while",
    "parallel",
    "branch",
    "try",
    "catch",
    "finally",
    "log",
    "assert",
    "fail",
    "return",
    "break",
    "continue",
    "yield",
)

LITERAL_KEYWORDS: Final = ("true", "false", "null")

# Words that start a statement *and* commonly name fields and bindings.
STATEMENT_CLAUSE_KEYWORDS: Final = ("timeout", "retry")

CLAUSE_KEYWORDS: Final = (
    "as",
    "call",
    "query",
    "headers",
    "json",
    "form",
    "body",
    "auth",
    "bearer",
    "basic",
    "header",
    "oauth2",
    "client_credentials",
    "aws_sigv4",
    "backoff",
    "fixed",
    "linear",
    "exponential",
    "max",
    "factor",
    "jitter",
    "when",
    "accept",
    "idempotency_key",
    "fallback",
    "compensate",
    "on",
    "error",
    "skip",
    "circuit_breaker",
    "failures",
    "within",
    "cooldown",
    "rate_limit",
    "per",
    "concurrency",
    "openapi",
    "url",
    "grpc",
    "proto",
    "tls",
    "max_body",
    "wait",
    "signal",
)

HTTP_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

SAFE_HTTP_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})

BUILTIN_TYPES: Final = (
    "int",
    "uint",
    "float",
    "double",
    "bool",
    "string",
    "bytes",
    "null",
    "duration",
    "timestamp",
    "json",
    "secret",
    "list",
    "map",
)

BUILTIN_FUNCTIONS: Final = (
    # CEL standard functions
    "size",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "type",
    "dyn",
    "matches",
    "contains",
    "startsWith",
    "endsWith",
    "duration",
    "timestamp",
    # CEL macros
    "has",
    "all",
    "exists",
    "exists_one",
    "map",
    "filter",
    # flow built-ins
    "env",
    "secret",
    "now",
    "uuid",
    "callback_url",
    "json_encode",
    "json_decode",
    "lower",
    "upper",
    "trim",
    "split",
    "join",
    "replace",
    "keys",
    "values",
    "range",
    "sum",
    "merge",
    # signing and hashing
    "hmac_sha256",
    "hmac_sha512",
    "sha256",
)

RESERVED: Final = frozenset(DECLARATION_KEYWORDS + STATEMENT_KEYWORDS + LITERAL_KEYWORDS)

ALL_KEYWORDS: Final = frozenset(
    DECLARATION_KEYWORDS
    + STATEMENT_KEYWORDS
    + LITERAL_KEYWORDS
    + STATEMENT_CLAUSE_KEYWORDS
    + CLAUSE_KEYWORDS
)

SIGNAL_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
"""What a signal may be called (the server, ``flowc signal`` and the checker agree)."""
