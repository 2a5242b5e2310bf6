"""The AST builder: Lark's inline transformer for the `.flow` grammar.

Lark calls one method here per reduced grammar rule (or alias), passing the
rule's children: tokens, the nodes built for sub-rules, and ``None`` for
absent optional parts (``maybe_placeholders``).  Each method returns an AST
node (or a tuple / small helper value that the enclosing rule consumes).
Because the grammar keeps keyword and bracket tokens (``!`` rules), every
method can span its node from its first child to its last.

Statements that end in a block take their end from ``_block_end``: the
``block``/``clause_block`` rule is always the last thing reduced before the
rule that contains it, so it records its closing brace there.

Chains that grow to the left (``a.b.c``, ``1 + 2 + 3``) and parentheses are
measured as they are built (``nesting.py``): the first too deep stops the parse.

This is the only module besides ``parser.py`` and ``lexical.py`` that knows
about lark.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from typing import Any, Protocol

import attrs
from lark import Token
from lark.exceptions import UnexpectedInput

from flowc.compiler import ast, lexical, messages
from flowc.compiler.diagnostics import Diagnostic, ParseFailure
from flowc.compiler.nesting import MAX_DEPTH, NestingMeter
from flowc.grammar.keywords import RESERVED


class ParserHost(Protocol):
    """The parser object that owns this builder."""

    def parse_raw(self, text: str, start: str) -> Any: ...

    def diagnose(self, error: UnexpectedInput, text: str, builder: AstBuilder) -> Diagnostic: ...


def check_binding_name(token: Token, what: str, builder: AstBuilder) -> None:
    if str(token) in RESERVED:
        raise ParseFailure(messages.RESERVED_WORD(builder.token_span(token), word=str(token)))


Child = Any  # a Token, an AST node, a tuple of nodes, or None (an absent optional part)


class AstBuilder:
    """The inline transformer: one method per grammar rule or alias."""

    def __init__(self, host: ParserHost) -> None:
        self._host = host
        self.nesting = NestingMeter()
        self.file = "<input>"
        self.text = ""
        self._comments: list[Token] = []
        self._line0 = 1
        self._col0 = 1
        self._pos0 = 0
        self._newline_cache: dict[int, tuple[Token, list[int]]] = {}

    # ----------------------------------------------------------- per-parse state

    def begin(
        self, file: str, text: str, origin: tuple[int, int, int] = (1, 1, 0)
    ) -> tuple[Any, ...]:
        """Start parsing ``text``, which sits at ``origin`` (line, column, offset) of ``file``."""
        saved = (self.file, self.text, self._comments, self._line0, self._col0, self._pos0)
        self.file, self.text, self._comments = file, text, []
        self._line0, self._col0, self._pos0 = origin
        self._newline_cache = {}
        self.nesting = NestingMeter()
        return saved

    def end(self, saved: tuple[Any, ...]) -> list[ast.Comment]:
        comments = [ast.Comment(str(t), span=self.token_span(t)) for t in self._comments]
        self.file, self.text, self._comments, self._line0, self._col0, self._pos0 = saved
        self._newline_cache = {}
        self.nesting = NestingMeter()
        return comments

    def _nested(self, node: ast.Expr, at: Token, *children: Child) -> ast.Expr:
        """``node``, unless it nests deeper than ``MAX_DEPTH``: then a failure at ``at``."""
        if not self.nesting.nested(node, children):
            raise ParseFailure(messages.TOO_DEEP(self.token_span(at), limit=MAX_DEPTH))
        return node

    def on_comment(self, token: Token) -> Token:
        self._comments.append(token)
        return token

    # ----------------------------------------------------------- spans

    def _position(self, line: int, col: int, pos: int) -> tuple[int, int, int]:
        if line == 1:
            return self._line0, self._col0 + col - 1, self._pos0 + pos
        return self._line0 + line - 1, col, self._pos0 + pos

    def token_span(self, token: Token) -> ast.Span:
        if self._pos0 == 0:  # the common case: not inside an interpolation
            return ast.Span(
                self.file,
                token.line,  # type: ignore[arg-type]
                token.column,  # type: ignore[arg-type]
                token.end_line,  # type: ignore[arg-type]
                token.end_column,  # type: ignore[arg-type]
                token.start_pos,  # type: ignore[arg-type]
                token.end_pos,  # type: ignore[arg-type]
            )
        line, col, start = self._position(token.line or 1, token.column or 1, token.start_pos or 0)
        end_line, end_col, end = self._position(
            token.end_line or 1, token.end_column or 1, token.end_pos or 0
        )
        return ast.Span(self.file, line, col, end_line, end_col, start, end)

    def span_at(self, line: int, col: int, width: int = 1) -> ast.Span:
        line, col, _ = self._position(line, col, 0)
        return ast.Span(self.file, line, col, line, col + width)

    def end_span(self) -> ast.Span:
        lines = self.text.split("\n")
        line = len(lines)
        col = len(lines[-1]) + 1
        line, col, pos = self._position(line, col, len(self.text))
        return ast.Span(self.file, line, col, line, col + 1, pos, pos)

    def _start_of(self, item: Child) -> ast.Span:
        if type(item) is Token:
            return self.token_span(item)
        if type(item) is tuple:
            return self._start_of(item[0])
        return item.span  # type: ignore[no-any-return]

    def _end_of(self, item: Child) -> ast.Span:
        if type(item) is Token:
            return self.token_span(item)
        if type(item) is tuple:
            return self._end_of(item[-1])
        return item.span  # type: ignore[no-any-return]

    def between(self, first: Child, last: Child) -> ast.Span:
        """The span from the start of ``first`` to the end of ``last``."""
        a = self._start_of(first)
        b = self._end_of(last)
        return ast.Span(a[0], a[1], a[2], b[3], b[4], a[5], b[6])

    def span(self, children: Sequence[Child]) -> ast.Span:
        """The span of the present (non-None, non-empty) children."""
        first = last = None
        for c in children:
            if c is not None and c != ():
                first = c
                break
        for c in reversed(children):
            if c is not None and c != ():
                last = c
                break
        return self.between(first, last)

    # ----------------------------------------------------------- declarations

    def module(self, children: list[Child]) -> ast.Module:
        decls = tuple(children)
        span = self.span(children) if children else ast.Span(self.file, 1, 1, 1, 1)
        return ast.Module(decls, span=span)

    def import_decl(self, c: list[Child]) -> ast.ImportDecl:
        path = self._plain_string(c[1], "an import path")
        if c[3] is not None:
            check_binding_name(c[3], "module alias", self)
        alias = str(c[3]) if c[3] is not None else None
        name_span = self.token_span(c[3]) if c[3] is not None else ast.NO_SPAN
        return ast.ImportDecl(path, alias, span=self.span(c), name_span=name_span)

    def type_decl(self, c: list[Child]) -> ast.TypeDecl:
        check_binding_name(c[1], "type", self)
        return ast.TypeDecl(str(c[1]), c[3], span=self.span(c), name_span=self.token_span(c[1]))

    def const_decl(self, c: list[Child]) -> ast.ConstDecl:
        check_binding_name(c[1], "constant", self)
        return ast.ConstDecl(
            str(c[1]), c[5], annotation=c[3], span=self.span(c), name_span=self.token_span(c[1])
        )

    def service_decl(self, c: list[Child]) -> ast.ServiceDecl:
        check_binding_name(c[1], "service", self)
        clauses = c[3] if c[3] is not None else ()
        span = self.span([c[0], c[2], self._block_end if c[3] is not None else None])
        return ast.ServiceDecl(
            str(c[1]), c[2], clauses=clauses, span=span, name_span=self.token_span(c[1])
        )

    def openapi_service_decl(self, c: list[Child]) -> ast.ServiceDecl:
        check_binding_name(c[1], "service", self)
        document = self._plain_string(c[3], "an OpenAPI document path")
        clauses = c[4] if c[4] is not None else ()
        span = self.span([c[0], c[3], self._block_end if c[4] is not None else None])
        return ast.ServiceDecl(
            str(c[1]),
            None,
            clauses=clauses,
            openapi=document,
            span=span,
            name_span=self.token_span(c[1]),
            openapi_span=self.token_span(c[3]),
        )

    def grpc_service_decl(self, c: list[Child]) -> ast.ServiceDecl:
        check_binding_name(c[1], "service", self)
        proto = self._plain_string(c[5], "a .proto file path")
        clauses = c[6] if c[6] is not None else ()
        span = self.span([c[0], c[5], self._block_end if c[6] is not None else None])
        return ast.ServiceDecl(
            str(c[1]),
            None,
            grpc=c[3],
            clauses=clauses,
            proto=proto,
            span=span,
            name_span=self.token_span(c[1]),
            proto_span=self.token_span(c[5]),
        )

    def flow_decl(self, c: list[Child]) -> ast.FlowDecl:
        check_binding_name(c[1], "flow", self)
        params = c[3] if c[3] is not None else ()
        result = c[6]
        clauses = tuple(c[7:-1])
        span = self.span([c[0], self._block_end])
        name_span = self.token_span(c[1])
        return ast.FlowDecl(
            str(c[1]), params, c[-1], result=result, clauses=clauses, span=span, name_span=name_span
        )

    def params(self, c: list[Child]) -> tuple[ast.Param, ...]:
        return tuple(x for x in c if isinstance(x, ast.Param))

    def param(self, c: list[Child]) -> ast.Param:
        check_binding_name(c[0], "parameter", self)
        return ast.Param(
            str(c[0]), c[2], default=c[4], span=self.span(c), name_span=self.token_span(c[0])
        )

    # ----------------------------------------------------------- types

    def optional_type(self, c: list[Child]) -> ast.OptionalType:
        return ast.OptionalType(c[0], span=self.span(c))

    def type_name(self, c: list[Child]) -> ast.TypeName:
        return ast.TypeName(str(c[0]), span=self.span(c))

    def qualified_type_name(self, c: list[Child]) -> ast.TypeName:
        return ast.TypeName(str(c[2]), module=str(c[0]), span=self.span(c))

    def generic_type(self, c: list[Child]) -> ast.TypeExpr:
        name = str(c[0])
        args = [x for x in c[2:] if isinstance(x, ast.TypeExpr)]
        span = self.span(c)
        expected = {"list": 1, "map": 2}.get(name)
        if expected is None:
            raise ParseFailure(
                messages.UNKNOWN_GENERIC(span, name=name, known="`list[T]` and `map[K, V]`")
            )
        if len(args) != expected:
            raise ParseFailure(
                messages.GENERIC_ARITY(
                    span,
                    name=name,
                    expected=expected,
                    s="" if expected == 1 else "s",
                    found=len(args),
                )
            )
        if name == "list":
            return ast.ListType(args[0], span=span)
        return ast.MapType(args[0], args[1], span=span)

    def record_type(self, c: list[Child]) -> ast.RecordType:
        fields = tuple(x for x in c if isinstance(x, ast.FieldDecl))
        return ast.RecordType(fields, span=self.span(c))

    def field_decl(self, c: list[Child]) -> ast.FieldDecl:
        return ast.FieldDecl(str(c[0]), c[3], optional=c[1] is not None, span=self.span(c))

    # ----------------------------------------------------------- clauses

    def clause_block(self, c: list[Child]) -> tuple[ast.Clause, ...]:
        self._block_end = ast.Node(span=self.token_span(c[-1]))
        return tuple(c[1:-1])

    def value_clause(self, c: list[Child]) -> ast.ValueClause:
        return ast.ValueClause(str(c[0]), c[1], span=self.span(c))

    def value_keyword(self, c: list[Child]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def auth_clause(self, c: list[Child]) -> ast.AuthClause:
        args = tuple(x for x in c[2:] if isinstance(x, ast.Expr))
        return ast.AuthClause(str(c[1]), args, span=self.span(c))

    def document_auth_clause(self, c: list[Child]) -> ast.AuthClause:
        args = tuple(x for x in c[1:] if isinstance(x, ast.Expr))
        return ast.AuthClause(None, args, span=self.span(c))

    def auth_scheme(self, c: list[Child]) -> str:
        return " ".join(map(str, c))  # "oauth2 client_credentials" is two words

    def retry_clause(self, c: list[Child]) -> ast.RetryClause:
        return ast.RetryClause(c[1], span=self.span(c))

    def retry_policy(self, c: list[Child]) -> ast.RetryPolicy:
        count, backoff, jitter, _when_kw, when = c
        return ast.RetryPolicy(count, backoff, jitter is not None, when, span=self.span(c))

    def simple_backoff(self, c: list[Child]) -> ast.Backoff:
        return ast.Backoff(str(c[1]), c[2], span=self.span(c))

    def backoff_kind(self, c: list[Child]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def exponential_backoff(self, c: list[Child]) -> ast.Backoff:
        return ast.Backoff("exponential", c[2], max=c[4], factor=c[6], span=self.span(c))

    def circuit_breaker_clause(self, c: list[Child]) -> ast.CircuitBreakerClause:
        return ast.CircuitBreakerClause(c[1], c[4], c[6], span=self.span(c))

    def rate_limit_clause(self, c: list[Child]) -> ast.RateLimitClause:
        return ast.RateLimitClause(c[1], c[3], span=self.span(c))

    def accept_clause(self, c: list[Child]) -> ast.AcceptClause:
        ranges = tuple(x for x in c if isinstance(x, ast.StatusRange))
        return ast.AcceptClause(ranges, span=self.span(c))

    def status_range(self, c: list[Child]) -> ast.StatusRange:
        low = lexical.int_value(c[0])
        high = lexical.int_value(c[2]) if c[2] is not None else low
        span = self.span(c)
        if not (100 <= low <= high <= 599):
            raise ParseFailure(messages.BAD_STATUS_RANGE(span, low=low, high=high))
        return ast.StatusRange(low, high, span=span)

    def on_error_clause(self, c: list[Child]) -> ast.OnErrorClause:
        return ast.OnErrorClause(str(c[2]), span=self.span(c))

    def on_error_action(self, c: list[Child]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def compensate_clause(self, c: list[Child]) -> ast.CompensateClause:
        return ast.CompensateClause(c[1], span=self.span([c[0], self._block_end]))

    # ----------------------------------------------------------- statements

    _block_end: ast.Node = ast.Node()

    def block(self, c: list[Child]) -> tuple[ast.Stmt, ...]:
        self._block_end = ast.Node(span=self.token_span(c[-1]))
        body = [x for x in c[1:-1] if x is not None]
        return tuple(body)

    def bare_return(self, c: list[Child]) -> ast.ReturnStmt:
        return ast.ReturnStmt(None, span=self.token_span(c[0]))

    def let_stmt(self, c: list[Child]) -> ast.LetStmt:
        return self._binding(c, mutable=False)

    def var_stmt(self, c: list[Child]) -> ast.LetStmt:
        return self._binding(c, mutable=True)

    def _binding(self, c: list[Child], mutable: bool) -> ast.LetStmt:
        check_binding_name(c[1], "variable", self)
        name_span = self.token_span(c[1])
        return ast.LetStmt(
            str(c[1]),
            c[5],
            annotation=c[3],
            mutable=mutable,
            span=self.span(c),
            name_span=name_span,
        )

    def assign_stmt(self, c: list[Child]) -> ast.AssignStmt:
        return ast.AssignStmt(str(c[0]), c[2], span=self.span(c))

    def step_stmt(self, c: list[Child]) -> ast.StepStmt:
        check_binding_name(c[1], "step", self)
        clauses = c[6] if c[6] is not None else ()
        end = self._block_end if c[6] is not None else None
        span = self.span([c[0], c[3], c[5], end])
        name_span = self.token_span(c[1])
        return ast.StepStmt(
            str(c[1]), c[3], result_type=c[5], clauses=clauses, span=span, name_span=name_span
        )

    def service_action(self, c: list[Child]) -> ast.HttpAction:
        path = self.string_lit([c[2]])
        return ast.HttpAction(str(c[0]), str(c[1]), path, span=self.span(c))

    def url_action(self, c: list[Child]) -> ast.HttpAction:
        return ast.HttpAction(str(c[0]), None, c[1], span=self.span(c))

    def http_method(self, c: list[Child]) -> Token:
        return c[0]  # type: ignore[no-any-return]

    def call_action(self, c: list[Child]) -> ast.CallAction:
        # call NAME [. NAME [. NAME]] ( [args] ): the names before `(`; three of them
        # only for a gRPC method of a named proto service (`call billing.Ledger.Record`)
        opening = next(i for i, x in enumerate(c) if isinstance(x, Token) and x == "(")
        names = [str(x) for x in c[1:opening] if isinstance(x, Token) and x.type == "NAME"]
        args = c[opening + 1] if c[opening + 1] is not None else ()
        if len(names) > 1:
            flow = ".".join(names[1:])
            return ast.CallAction(flow, args, module=names[0], span=self.span(c))
        return ast.CallAction(names[0], args, span=self.span(c))

    def call_args(self, c: list[Child]) -> tuple[ast.Arg, ...]:
        return tuple(x for x in c if isinstance(x, ast.Arg))

    def named_arg(self, c: list[Child]) -> ast.Arg:
        return ast.Arg(str(c[0]), c[2], span=self.span(c))

    def positional_arg(self, c: list[Child]) -> ast.Arg:
        return ast.Arg(None, c[0], span=self.span(c))

    def sleep_stmt(self, c: list[Child]) -> ast.SleepStmt:
        return ast.SleepStmt(c[1], span=self.span(c))

    def if_stmt(self, c: list[Child]) -> ast.IfStmt:
        first = ast.IfArm(c[1], c[2], span=self.span(c[:2]))
        arms = [first, *(x for x in c[3:] if isinstance(x, ast.IfArm))]
        orelse = c[-1] if c[-2] is not None else None
        return ast.IfStmt(tuple(arms), orelse, span=self.span([c[0], self._block_end]))

    def else_if(self, c: list[Child]) -> ast.IfArm:
        return ast.IfArm(c[2], c[3], span=self.span([c[1], c[2]]))

    def loop_stmt(self, c: list[Child]) -> ast.LoopStmt:
        return ast.LoopStmt(c[0], span=c[0].span)

    def for_loop(self, c: list[Child]) -> ast.ForLoop:
        for_kw, first, _comma, second, _in, iterable, parallel, body = c
        index_var, var = (first, second) if second is not None else (None, first)
        check_binding_name(var, "loop variable", self)
        if index_var is not None:
            check_binding_name(index_var, "loop variable", self)
        is_parallel, limit = parallel if parallel is not None else (False, None)
        return ast.ForLoop(
            str(var),
            iterable,
            body,
            index_var=str(index_var) if index_var is not None else None,
            parallel=is_parallel,
            limit=limit,
            span=self.span([for_kw, self._block_end]),
            name_span=self.token_span(var),
            index_span=self.token_span(index_var) if index_var is not None else ast.NO_SPAN,
        )

    def parallel_limit(self, c: list[Child]) -> tuple[bool, ast.Expr | None]:
        return True, c[1]

    def while_loop(self, c: list[Child]) -> ast.WhileLoop:
        return ast.WhileLoop(c[1], c[4], max=c[3], span=self.span([c[0], self._block_end]))

    def wait_signal(self, c: list[Child]) -> ast.WaitSignal:
        name = self._plain_string(c[2], "a signal name")
        return ast.WaitSignal(name, c[4], c[6], span=self.span(c))

    def parallel_stmt(self, c: list[Child]) -> ast.ParallelStmt:
        branches = []
        for item in c[2:-1]:
            if item is None:
                continue
            if isinstance(item, ast.Branch):
                branches.append(item)
            else:
                branches.append(ast.Branch((item,), span=item.span))
        return ast.ParallelStmt(tuple(branches), span=self.span(c))

    def grouped_branch(self, c: list[Child]) -> ast.Branch:
        return ast.Branch(c[1], grouped=True, span=self.span([c[0], self._block_end]))

    def try_stmt(self, c: list[Child]) -> ast.TryStmt:
        catches = tuple(item for item in c[2:-2] if isinstance(item, ast.CatchClause))
        span = self.span([c[0], self._block_end])
        return ast.TryStmt(c[1], catches, c[-1], span=span)

    def catch_part(self, c: list[Child]) -> ast.CatchClause:
        token = c[1]
        if token is not None:
            check_binding_name(token, "catch variable", self)
        name_span = self.token_span(token) if token is not None else ast.NO_SPAN
        return ast.CatchClause(
            str(token) if token is not None else None,
            c[4],
            c[3],
            span=self.span([c[0], self._block_end]),
            name_span=name_span,
        )

    def retry_stmt(self, c: list[Child]) -> ast.RetryStmt:
        return ast.RetryStmt(c[1], c[2], span=self.span([c[0], self._block_end]))

    def timeout_stmt(self, c: list[Child]) -> ast.TimeoutStmt:
        return ast.TimeoutStmt(c[1], c[2], span=self.span([c[0], self._block_end]))

    def log_stmt(self, c: list[Child]) -> ast.LogStmt:
        return ast.LogStmt(c[1], span=self.span(c))

    def assert_stmt(self, c: list[Child]) -> ast.AssertStmt:
        return ast.AssertStmt(c[1], c[3], span=self.span(c))

    def fail_stmt(self, c: list[Child]) -> ast.FailStmt:
        return ast.FailStmt(c[1], span=self.span(c))

    def typed_fail_stmt(self, c: list[Child]) -> ast.FailStmt:
        """``fail kind "message" [{status: N, data: D}]``."""
        message = self.string_lit([c[2]])
        options: dict[str, ast.Expr] = {}
        for entry in c[4] or ():
            key = entry.key.value if isinstance(entry.key, ast.Literal) else None
            if entry.key_style != "field" or key not in ("status", "data") or key in options:
                raise ParseFailure(messages.BAD_FAIL_OPTION(entry.span))
            options[str(key)] = entry.value
        span = self.span(c)
        status, data = options.get("status"), options.get("data")
        return ast.FailStmt(message, kind=str(c[1]), status=status, data=data, span=span)

    def return_stmt(self, c: list[Child]) -> ast.ReturnStmt:
        return ast.ReturnStmt(c[1], span=self.span(c))

    def break_stmt(self, c: list[Child]) -> ast.BreakStmt:
        return ast.BreakStmt(span=self.span(c))

    def continue_stmt(self, c: list[Child]) -> ast.ContinueStmt:
        return ast.ContinueStmt(span=self.span(c))

    def yield_stmt(self, c: list[Child]) -> ast.YieldStmt:
        return ast.YieldStmt(c[1], span=self.span(c))

    # ----------------------------------------------------------- expressions

    def conditional(self, c: list[Child]) -> ast.Conditional:
        return ast.Conditional(c[0], c[2], c[4], span=self.span(c))

    def binary(self, c: list[Child]) -> ast.Expr:
        node = ast.Binary(str(c[1]), c[0], c[2], span=self.between(c[0], c[2]))
        return self._nested(node, c[1], c[0], c[2])

    def unary(self, c: list[Child]) -> ast.Unary:
        return ast.Unary(str(c[0]), c[1], span=self.between(c[0], c[1]))

    def select(self, c: list[Child]) -> ast.Expr:
        node = ast.Select(c[0], str(c[-1]), span=self.between(c[0], c[-1]))
        return self._nested(node, c[1], c[0])

    def method_call(self, c: list[Child]) -> ast.Expr:
        args = c[4] if c[4] is not None else ()
        node = ast.Call(str(c[2]), args, target=c[0], span=self.between(c[0], c[5]))
        return self._nested(node, c[1], c[0])

    def index(self, c: list[Child]) -> ast.Expr:
        node = ast.Index(c[0], c[2], span=self.between(c[0], c[3]))
        return self._nested(node, c[1], c[0], c[2])

    def name(self, c: list[Child]) -> ast.Name:
        return ast.Name(str(c[0]), span=self.token_span(c[0]))

    def root_name(self, c: list[Child]) -> ast.Name:
        return ast.Name(str(c[1]), leading_dot=True, span=self.span(c))

    def call(self, c: list[Child]) -> ast.Call:
        args = c[2] if c[2] is not None else ()
        return ast.Call(str(c[0]), args, span=self.between(c[0], c[3]))

    def root_call(self, c: list[Child]) -> ast.Call:
        args = c[3] if c[3] is not None else ()
        return ast.Call("." + str(c[1]), args, span=self.span(c))

    def paren(self, c: list[Child]) -> ast.Expr:
        # The span covers the parentheses, so `(a + b) * c` starts at `(`; they count
        # as a level of nesting although they leave no node of their own.
        node: ast.Expr = attrs.evolve(c[1], span=self.span(c))
        self.nesting.parenthesised(c[1], node)
        return self._nested(node, c[0], c[1])

    def list_lit(self, c: list[Child]) -> ast.ListLit:
        items = c[1] if c[1] is not None else ()
        return ast.ListLit(items, span=self.between(c[0], c[2]))

    def map_lit(self, c: list[Child]) -> ast.MapLit:
        entries = c[1] if c[1] is not None else ()
        return ast.MapLit(entries, span=self.between(c[0], c[2]))

    def args(self, c: list[Child]) -> tuple[ast.Expr, ...]:
        return tuple(x for x in c if isinstance(x, ast.Expr))

    def map_entries(self, c: list[Child]) -> tuple[ast.MapEntry, ...]:
        return tuple(x for x in c if isinstance(x, ast.MapEntry))

    def field_entry(self, c: list[Child]) -> ast.MapEntry:
        key = ast.Literal("string", str(c[0]), raw=str(c[0]), span=self.token_span(c[0]))
        return ast.MapEntry(key, c[2], "field", span=self.between(c[0], c[2]))

    def computed_entry(self, c: list[Child]) -> ast.MapEntry:
        return ast.MapEntry(c[1], c[4], "computed", span=self.span(c))

    def literal_entry(self, c: list[Child]) -> ast.MapEntry:
        return ast.MapEntry(c[0], c[2], "literal", span=self.span(c))

    def negative_key(self, c: list[Child]) -> ast.Expr:
        literal = self.int_lit([c[1]]) if c[1].type == "INT" else self.float_lit([c[1]])
        return ast.Unary("-", literal, span=self.span(c))

    # ----------------------------------------------------------- literals

    def int_lit(self, c: list[Child]) -> ast.Literal:
        token = c[0]
        return ast.Literal(
            "int", lexical.int_value(token), raw=str(token), span=self.token_span(token)
        )

    def uint_lit(self, c: list[Child]) -> ast.Literal:
        token = c[0]
        value = lexical.int_value(token, str(token)[:-1])
        return ast.Literal("uint", value, raw=str(token), span=self.token_span(token))

    def float_lit(self, c: list[Child]) -> ast.Literal:
        token = c[0]
        value = float(str(token).replace("_", ""))
        return ast.Literal("float", value, raw=str(token), span=self.token_span(token))

    def duration_lit(self, c: list[Child]) -> ast.DurationLit:
        token = c[0]
        nanos = lexical.duration_nanos(str(token))
        return ast.DurationLit(nanos, raw=str(token), span=self.token_span(token))

    def true_lit(self, c: list[Child]) -> ast.Literal:
        return ast.Literal("bool", True, span=self.token_span(c[0]))

    def false_lit(self, c: list[Child]) -> ast.Literal:
        return ast.Literal("bool", False, span=self.token_span(c[0]))

    def null_lit(self, c: list[Child]) -> ast.Literal:
        return ast.Literal("null", None, span=self.token_span(c[0]))

    def string_lit(self, c: list[Child]) -> ast.Expr:
        return lexical.StringDecoder(self, c[0]).decode()

    def _plain_string(self, token: Token, what: str) -> str:
        node = self.string_lit([token])
        if not (isinstance(node, ast.Literal) and node.kind == "string"):
            raise ParseFailure(
                messages.BAD_STRING_KIND(self.token_span(token), what=what.capitalize())
            )
        return str(node.value)

    # ----------------------------------------------------------- nested expressions

    def parse_embedded(self, text: str, line: int, col: int, pos: int) -> ast.Expr:
        """Parse ``text`` found at (line, col, pos) of the current file."""
        saved = (self._line0, self._col0, self._pos0, self._comments)
        self._line0, self._col0, self._pos0 = line, col, pos
        try:
            result: Any = self._host.parse_raw(text, "expr")
        except UnexpectedInput as error:
            raise ParseFailure(self._host.diagnose(error, text, self)) from None
        finally:
            self._line0, self._col0, self._pos0, self._comments = saved
        assert isinstance(result, ast.Expr)
        return result

    def absolute_position(self, token: Token, offset: int) -> tuple[int, int, int]:
        """The (line, col, pos) of character ``offset`` inside ``token``."""
        newline_offsets = self._newlines_in(token)
        newlines = bisect.bisect_left(newline_offsets, offset)
        if newlines:
            line = (token.line or 1) + newlines
            col = offset - newline_offsets[newlines - 1]
        else:
            line = token.line or 1
            col = (token.column or 1) + offset
        return self._position(line, col, (token.start_pos or 0) + offset)

    def _newlines_in(self, token: Token) -> list[int]:
        # Cached per token: a string asks once per `${`, and counting afresh
        # each time made long strings with many interpolations quadratic.
        cached = self._newline_cache.get(id(token))
        if cached is None or cached[0] is not token:
            offsets = [m.start() for m in re.finditer("\n", str(token))]
            cached = self._newline_cache[id(token)] = (token, offsets)
        return cached[1]
