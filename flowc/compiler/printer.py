"""The printer: an AST back to canonical `.flow` source.

``print_module`` is the inverse of ``parse_module`` up to layout:
``parse(print(t)) == t`` for every tree the parser can produce (spans and
``raw`` spellings are not part of equality), and printing is a fixed point:
``print(parse(print(t))) == print(t)``.  The formatter (``formatter.py``) is
this printer plus the comments and blank lines of the original file.

Algorithm.  Each node becomes a layout document (``printer_layout``): text
joined with possible line breaks and groups, which the layout engine fits
into 100 columns.  This module prints declarations, clauses and statements;
``printer_expr`` prints expressions and types and lays out containers;
``printer_literals`` spells literals.  Statements, clauses and declarations
are separated by hard breaks, one per line; blocks open with ``{`` at the end
of their header line and close with ``}`` on a line of its own, indented by
four spaces per level (an empty block is ``{}``).  A flow whose header does
not fit, or that has clauses, puts ``-> T`` and each clause on indented
lines of their own and its ``{`` on a line of its own.  Declarations are
separated by one blank line, except within a run of imports, of types or of
consts (where the formatter keeps the source's blank lines).

Container indices (for comments, see ``printer_expr``): a node's brace
blocks are numbered in source order from 0 (``if``/``else if``/``else``
arms, then ``try``/``catch``/``finally``, ...); a flow's parameter list is
``PARAMS_INDEX``; a service or step prints its clause block only when it has
clauses.

Trees the parser never produces are printed as faithfully as the syntax
allows: a negative number literal prints as ``-5`` (it reads back as a unary
minus), an optional of an optional prints once (``T?``), a field-style map
key that is not an identifier prints as a string key, a non-grouped parallel
branch of several statements prints as a ``branch { }``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from flowc.compiler import ast
from flowc.compiler import printer_literals as lit
from flowc.compiler.printer_expr import (
    NO_TRIVIA,
    CommentLine,
    Entry,
    ExpressionPrinter,
    Item,
    NoTrivia,
    Trivia,
    dispatch_table,
    precedence,
    separator,
)
from flowc.compiler.printer_layout import (
    EMPTY,
    HARDLINE,
    LINE,
    Doc,
    Text,
    concat,
    group,
    join,
    nest,
    render,
)

__all__ = [
    "NO_TRIVIA",
    "PARAMS_INDEX",
    "WIDTH",
    "CommentLine",
    "NoTrivia",
    "Printer",
    "Trivia",
    "precedence",
    "print_expr",
    "print_module",
    "print_type",
]

WIDTH: Final = 100
PARAMS_INDEX: Final = -1
_SERVICE_WORD: Final = re.compile(r"(?:openapi|grpc)(?![A-Za-z0-9_])")
"""A base URL expression that starts with one of these words is parenthesized."""

# --------------------------------------------------------------------------- public API


def print_module(module: ast.Module, trivia: Trivia = NO_TRIVIA, width: int = WIDTH) -> str:
    """Canonical source text of ``module`` (ending with a newline unless empty)."""
    return render(Printer(trivia).module(module), width)


def print_expr(expr: ast.Expr, width: int = WIDTH, *, from_parser: bool = False) -> str:
    """``expr`` as canonical source; ``from_parser`` promises the node came from the
    parser, which spares re-parsing literal spellings (see ``reusable_raw``)."""
    return render(Printer(from_parser=from_parser).expr(expr), width)


def print_type(type_expr: ast.TypeExpr, width: int = WIDTH) -> str:
    return render(Printer().type(type_expr), width)


# --------------------------------------------------------------------------- the printer


class Printer(ExpressionPrinter):
    """Declarations, clauses and statements, on top of expressions and containers."""

    def __init__(self, trivia: Trivia = NO_TRIVIA, *, from_parser: bool = False) -> None:
        super().__init__(trivia, from_parser=from_parser)
        self._stmt_printers = dispatch_table(self, "stmt", _STATEMENTS)
        self._clause_printers = dispatch_table(self, "clause", _CLAUSES)

    def block(self, owner: ast.Node, index: int, body: Sequence[ast.Stmt]) -> Doc:
        return self.vertical(owner, index, [(s, self.stmt(s)) for s in body])

    # ----------------------------------------------------------- declarations

    def module(self, module: ast.Module) -> Doc:
        entries: list[Entry] = []
        previous: ast.Decl | None = None
        for decl in module.decls:
            items = self.item_entries(decl, self.decl(decl))
            if previous is not None and not _grouped(previous, decl):
                items[0] = items[0]._replace(blank_before=True)
            entries += items
            previous = decl
        entries += self.comment_entries(self.trivia.closing(module, 0))
        if not entries:
            return EMPTY
        lines = [concat(separator(e, i, HARDLINE), e.doc) for i, e in enumerate(entries)]
        return concat(entries[0].doc, *lines[1:], HARDLINE)

    def decl(self, decl: ast.Decl) -> Doc:
        if isinstance(decl, ast.FlowDecl):
            return self.flow(decl)
        if isinstance(decl, ast.ServiceDecl):
            clauses = self.clause_block(decl, decl.clauses)
            if decl.grpc is not None:
                proto = lit.string_text(decl.proto or "", lit.preferred_quote([decl.proto or ""]))
                target = self.expr(decl.grpc)
                return concat(f"service {decl.name} grpc ", target, f" proto {proto}", clauses)
            if decl.base_url is None:
                document = lit.string_text(
                    decl.openapi or "", lit.preferred_quote([decl.openapi or ""])
                )
                return concat(f"service {decl.name} openapi {document}", clauses)
            base = self.expr(decl.base_url)
            if _SERVICE_WORD.match(print_expr(decl.base_url)):
                base = concat("(", base, ")")  # else read as `openapi "..."` or `grpc ...`
            return concat(f"service {decl.name} ", base, clauses)
        if isinstance(decl, ast.ImportDecl):
            alias = f" as {decl.alias}" if decl.alias is not None else ""
            path = lit.string_text(decl.path, lit.preferred_quote([decl.path]))
            return Text(f"import {path}{alias}")
        if isinstance(decl, ast.TypeDecl):
            return concat(f"type {decl.name} = ", self.type(decl.type))
        if isinstance(decl, ast.ConstDecl):
            annotation = self.annotation(decl.annotation)
            return concat(f"const {decl.name}", annotation, " = ", self.expr(decl.value))
        raise TypeError(f"cannot print {type(decl).__name__}")

    def flow(self, flow: ast.FlowDecl) -> Doc:
        params = [(p, self.param(p)) for p in flow.params]
        header: list[Doc | str] = [
            f"flow {flow.name}",
            self.commas(flow, PARAMS_INDEX, "()", params),
        ]
        if flow.result is not None:
            header.append(nest(LINE, "-> ", self.type(flow.result)))
        clause_items = [e for c in flow.clauses for e in self.item_entries(c, self.clause(c))]
        header += [nest(separator(e, 1, HARDLINE), e.doc) for e in clause_items]
        return concat(group(*header, LINE), self.block(flow, 0, flow.body))

    def param(self, param: ast.Param) -> Doc:
        default = concat(" = ", self.expr(param.default)) if param.default is not None else EMPTY
        return concat(f"{param.name}: ", self.type(param.type), default)

    def annotation(self, type_expr: ast.TypeExpr | None) -> Doc:
        return concat(": ", self.type(type_expr)) if type_expr is not None else EMPTY

    # ----------------------------------------------------------- clauses

    def clause_block(self, owner: ast.Node, clauses: Sequence[ast.Clause]) -> Doc:
        if not clauses:
            return EMPTY
        return concat(" ", self.vertical(owner, 0, [(c, self.clause(c)) for c in clauses]))

    def clause(self, clause: ast.Clause) -> Doc:
        return self._clause_printers[type(clause)](clause)

    def clause_value(self, clause: ast.ValueClause) -> Doc:
        return concat(f"{clause.keyword} ", self.expr(clause.value))

    def clause_auth(self, clause: ast.AuthClause) -> Doc:
        scheme = f"{clause.scheme} " if clause.scheme is not None else ""
        return concat(f"auth {scheme}", join(", ", map(self.expr, clause.args)))

    def clause_retry(self, clause: ast.RetryClause) -> Doc:
        return concat("retry ", self.policy(clause.policy))

    def clause_circuit_breaker(self, clause: ast.CircuitBreakerClause) -> Doc:
        parts = (clause.failures, " failures within ", clause.window, " cooldown ", clause.cooldown)
        return concat("circuit_breaker ", *self.mixed(parts))

    def clause_rate_limit(self, clause: ast.RateLimitClause) -> Doc:
        return concat("rate_limit ", self.expr(clause.count), " per ", self.expr(clause.per))

    def clause_accept(self, clause: ast.AcceptClause) -> Doc:
        ranges = (f"{r.low}" if r.low == r.high else f"{r.low}..{r.high}" for r in clause.ranges)
        return Text("accept " + ", ".join(ranges))

    def clause_on_error(self, clause: ast.OnErrorClause) -> Doc:
        return Text(f"on error {clause.action}")

    def clause_compensate(self, clause: ast.CompensateClause) -> Doc:
        return concat("compensate ", self.block(clause, 0, clause.body))

    def policy(self, policy: ast.RetryPolicy) -> Doc:
        parts: list[Doc | str] = [self.expr(policy.count)]
        backoff = policy.backoff
        if backoff is not None:
            parts += [f" backoff {backoff.kind} ", self.expr(backoff.delay)]
            parts += self.optional(" max ", backoff.max) + self.optional(" factor ", backoff.factor)
        parts += [" jitter"] if policy.jitter else []
        return concat(*parts, *self.optional(" when ", policy.when))

    def optional(self, keyword: str, value: ast.Expr | None) -> list[Doc | str]:
        return [keyword, self.expr(value)] if value is not None else []

    def mixed(self, parts: Sequence[ast.Expr | str]) -> list[Doc | str]:
        return [p if isinstance(p, str) else self.expr(p) for p in parts]

    # ----------------------------------------------------------- statements

    def stmt(self, stmt: ast.Stmt) -> Doc:
        return self._stmt_printers[type(stmt)](stmt)

    def stmt_let(self, stmt: ast.LetStmt) -> Doc:
        keyword = "var" if stmt.mutable else "let"
        annotation = self.annotation(stmt.annotation)
        return concat(f"{keyword} {stmt.name}", annotation, " = ", self.value(stmt.value))

    def stmt_assign(self, stmt: ast.AssignStmt) -> Doc:
        return concat(f"{stmt.name} = ", self.value(stmt.value))

    def stmt_step(self, stmt: ast.StepStmt) -> Doc:
        result = concat(" -> ", self.type(stmt.result_type)) if stmt.result_type else EMPTY
        action = self.action(stmt.action)
        return concat(f"step {stmt.name} = ", action, result, self.clause_block(stmt, stmt.clauses))

    def action(self, action: ast.Action) -> Doc:
        if isinstance(action, ast.CallAction):
            args = [(None, self.arg(a)) for a in action.args]
            module = f"{action.module}." if action.module is not None else ""
            return concat(f"call {module}{action.flow}", self.commas(None, 0, "()", args))
        service = f" {action.service}" if action.service is not None else ""
        return concat(f"{action.method}{service} ", self.expr(action.target))

    def arg(self, arg: ast.Arg) -> Doc:
        name = f"{arg.name}: " if arg.name is not None else ""
        return concat(name, self.expr(arg.value))

    def stmt_if(self, stmt: ast.IfStmt) -> Doc:
        parts: list[Doc | str] = []
        for index, arm in enumerate(stmt.arms):
            keyword = "if " if index == 0 else " else if "
            parts += [keyword, self.expr(arm.cond), " ", self.block(stmt, index, arm.body)]
        if stmt.orelse is not None:
            parts += [" else ", self.block(stmt, len(stmt.arms), stmt.orelse)]
        return concat(*parts)

    def stmt_loop(self, stmt: ast.LoopStmt) -> Doc:
        return self.value(stmt.loop)

    def value(self, value: ast.Value) -> Doc:
        if isinstance(value, ast.ForLoop):
            return self.for_loop(value)
        if isinstance(value, ast.WhileLoop):
            limit = self.optional(" max ", value.max)
            return concat(
                "while ", self.expr(value.cond), *limit, " ", self.block(value, 0, value.body)
            )
        if isinstance(value, ast.WaitSignal):
            return concat(
                "wait signal ",
                self.expr(ast.Literal("string", value.signal, span=value.span)),
                " -> ",
                self.type(value.payload),
                " timeout ",
                self.expr(value.timeout),
            )
        return self.expr(value)

    def for_loop(self, loop: ast.ForLoop) -> Doc:
        names = f"{loop.index_var}, {loop.var}" if loop.index_var is not None else loop.var
        parts: list[Doc | str] = [f"for {names} in ", self.expr(loop.iterable)]
        if loop.parallel:
            parts.append(" parallel")
            if loop.limit is not None:
                parts += [" ", self.limit(loop.limit)]
        return concat(*parts, " ", self.block(loop, 0, loop.body))

    def limit(self, limit: ast.Expr) -> Doc:
        """``parallel N`` takes an int, a name or a select chain; anything else in parens."""
        return self.expr(limit) if _bare_limit(limit) else concat("(", self.expr(limit), ")")

    def stmt_parallel(self, stmt: ast.ParallelStmt) -> Doc:
        items: list[Item] = []
        for branch in stmt.branches:
            if branch.grouped or len(branch.body) != 1:
                items.append((branch, concat("branch ", self.block(branch, 0, branch.body))))
            else:
                items.append((branch.body[0], self.stmt(branch.body[0])))
        return concat("parallel ", self.vertical(stmt, 0, items))

    def stmt_try(self, stmt: ast.TryStmt) -> Doc:
        parts: list[Doc | str] = ["try ", self.block(stmt, 0, stmt.body)]
        index = 1
        for clause in stmt.catches:
            name = f" {clause.name}" if clause.name is not None else ""
            parts.append(f" catch{name} ")
            if clause.when is not None:
                parts += ["when ", self.expr(clause.when), " "]
            parts.append(self.block(stmt, index, clause.body))
            index += 1
        if stmt.finally_body is not None:
            parts += [" finally ", self.block(stmt, index, stmt.finally_body)]
        return concat(*parts)

    def stmt_retry(self, stmt: ast.RetryStmt) -> Doc:
        return concat("retry ", self.policy(stmt.policy), " ", self.block(stmt, 0, stmt.body))

    def stmt_timeout(self, stmt: ast.TimeoutStmt) -> Doc:
        return concat("timeout ", self.expr(stmt.duration), " ", self.block(stmt, 0, stmt.body))

    def stmt_keyword(self, stmt: ast.Stmt) -> Doc:
        """``sleep``, ``log``, ``fail``, ``yield``, ``return``, ``break``, ``continue``."""
        keyword, field = _KEYWORD_STATEMENTS[type(stmt)]
        value = getattr(stmt, field) if field is not None else None
        return concat(keyword, " ", self.value(value)) if value is not None else Text(keyword)

    def stmt_fail(self, stmt: ast.FailStmt) -> Doc:
        """``fail value`` or ``fail kind "message" [{status: N, data: D}]``."""
        if stmt.kind is None:
            return concat("fail ", self.expr(stmt.value))
        head = concat(f"fail {stmt.kind} ", self.expr(stmt.value))
        options = [
            concat(f"{key}: ", self.expr(value))
            for key, value in (("status", stmt.status), ("data", stmt.data))
            if value is not None
        ]
        return concat(head, " {", join(", ", options), "}") if options else head

    def stmt_assert(self, stmt: ast.AssertStmt) -> Doc:
        message = self.optional(", ", stmt.message)
        return concat("assert ", self.expr(stmt.cond), *message)


# --------------------------------------------------------------------------- helpers


def _grouped(previous: ast.Decl, decl: ast.Decl) -> bool:
    """Runs of imports, of types and of consts stay together; a blank line separates the rest."""
    return type(previous) is type(decl) and isinstance(decl, _ONE_LINERS)


_ONE_LINERS: Final = (ast.ImportDecl, ast.TypeDecl, ast.ConstDecl)


def _bare_limit(limit: ast.Expr) -> bool:
    if isinstance(limit, ast.Select):
        return _bare_limit(limit.operand)
    if isinstance(limit, ast.Name):
        return not limit.leading_dot
    if isinstance(limit, ast.Literal) and limit.kind == "int" and isinstance(limit.value, int):
        return limit.value >= 0
    return False


_KEYWORD_STATEMENTS: Final[dict[type, tuple[str, str | None]]] = {
    ast.SleepStmt: ("sleep", "duration"),
    ast.LogStmt: ("log", "value"),
    ast.YieldStmt: ("yield", "value"),
    ast.ReturnStmt: ("return", "value"),
    ast.BreakStmt: ("break", None),
    ast.ContinueStmt: ("continue", None),
}

_STATEMENTS: Final[dict[type, str]] = {
    ast.LetStmt: "let",
    ast.AssignStmt: "assign",
    ast.StepStmt: "step",
    ast.IfStmt: "if",
    ast.LoopStmt: "loop",
    ast.ParallelStmt: "parallel",
    ast.TryStmt: "try",
    ast.RetryStmt: "retry",
    ast.TimeoutStmt: "timeout",
    ast.AssertStmt: "assert",
    ast.FailStmt: "fail",
    **dict.fromkeys(_KEYWORD_STATEMENTS, "keyword"),
}
_CLAUSES: Final[dict[type, str]] = {
    ast.ValueClause: "value",
    ast.AuthClause: "auth",
    ast.RetryClause: "retry",
    ast.CircuitBreakerClause: "circuit_breaker",
    ast.RateLimitClause: "rate_limit",
    ast.AcceptClause: "accept",
    ast.OnErrorClause: "on_error",
    ast.CompensateClause: "compensate",
}
