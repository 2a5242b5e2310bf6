"""The printer: an AST back to canonical `.flow` source.

``print_module`` is the inverse of ``parse_module`` up to layout:
``parse(print(t)) == t`` for every tree the parser can produce (spans and
``raw`` spellings are not part of equality), and printing is a fixed point:
``print(parse(print(t))) == print(t)``.  The formatter (``formatter.py``) is
this printer plus the comments and blank lines of the original file.

Algorithm.  Each node becomes a layout document (``printer_layout``): text
joined with possible line breaks and groups.  Statements, clauses and
declarations are separated by hard breaks, one per line; blocks open with
``{`` at the end of their header line and close with ``}`` on a line of its
own, indented by four spaces per level.  Comma-separated lists — list and
map literals, record types, call arguments, flow parameters — are groups:
on one line when they fit in the width (100 columns), else one element per
line with a trailing comma.  A too-long chain of ``??``, ``||`` or ``&&``
breaks before each operator, and a too-long ``?:`` before ``?`` and ``:``,
continuation lines indented one level; other expressions never break.

Parentheses are not stored in the tree; the printer computes the minimal set
from CEL precedence (low to high: ``?:``, ``??``, ``||``, ``&&``, relations,
``+ -``, ``* / %``, unary, member access).  Binary operators associate to the
left, so a right operand of the same precedence keeps its parentheses
(``a - (b - c)``) and a left one loses them (``a - b - c``).  The condition
and the middle of ``?:`` need a tighter expression than ``?:`` itself; its
last operand does not (``a ? b : c ? d : e``).

A string token ends at the first unescaped quote of its own kind, so the
text of ``${...}`` cannot contain that quote at all, nor a line break.  The
printer tracks the quote kinds in use by the enclosing strings
(``forbidden_quotes``) while it prints an interpolated expression, writes
every string inside it with a quote kind not in use, and renders it on one
line.  Two levels of interpolation use up both kinds: a string literal inside
``"${'${...}'}"`` cannot be written, and printing one raises ``ValueError``.

Comments.  The printer itself knows nothing of comments; it asks a
``Trivia`` object for the comments to put before and after each *anchor*
(declaration, statement, clause, map entry, list item, record field,
parameter, grouped parallel branch), after the opening bracket and before
the closing bracket of each *container* (a block, clause block, map, list,
record or parameter list, identified by its owner node and an index), and
whether a blank line precedes an anchor.  With the default ``NO_TRIVIA`` the
output depends on the tree alone.  Container indices: a node's brace blocks
are numbered in source order from 0 (``if``/``else if``/``else`` arms, then
``try``/``catch``/``finally``, ...); a flow's parameter list is
``PARAMS_INDEX``.

Trees the parser never produces are printed as faithfully as the syntax
allows: a negative number literal prints as ``-5`` (it reads back as a unary
minus), an optional of an optional prints once (``T?``), a field-style map
key that is not an identifier prints as a string key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple, Protocol

from flowc.compiler import ast
from flowc.compiler import printer_literals as lit
from flowc.compiler.printer_layout import (
    BLANKLINE,
    BREAK_PARENT,
    EMPTY,
    HARDLINE,
    LINE,
    SOFTLINE,
    Doc,
    IfBreak,
    Suffix,
    Text,
    concat,
    group,
    join,
    nest,
    render,
    render_flat,
)

WIDTH: Final = 100
PARAMS_INDEX: Final = -1

CONDITIONAL: Final = 1
UNARY: Final = 8
MEMBER: Final = 9
PRIMARY: Final = 10
BREAKABLE_PRECEDENCE: Final = 4  # `?:`, `??`, `||` and `&&` may break before their operator
BINARY_PRECEDENCE: Final = {
    "??": 2,
    "||": 3,
    "&&": 4,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in"), 5),
    **dict.fromkeys(("+", "-"), 6),
    **dict.fromkeys(("*", "/", "%"), 7),
}


# --------------------------------------------------------------------------- comments interface


class CommentLine(NamedTuple):
    """One comment to print, and whether a blank line precedes it."""

    text: str
    blank_before: bool = False


class Trivia(Protocol):
    """Where comments and blank lines go; see the module docstring."""

    def leading(self, node: ast.Node) -> Sequence[CommentLine]: ...

    def trailing(self, node: ast.Node) -> Sequence[CommentLine]: ...

    def blank_before(self, node: ast.Node) -> bool: ...

    def opener(self, owner: ast.Node, index: int) -> Sequence[CommentLine]: ...

    def closing(self, owner: ast.Node, index: int) -> Sequence[CommentLine]: ...


class NoTrivia:
    """No comments, no blank lines: the canonical layout of the tree alone."""

    def leading(self, node: ast.Node) -> Sequence[CommentLine]:
        return ()

    trailing = leading

    def blank_before(self, node: ast.Node) -> bool:
        return False

    def opener(self, owner: ast.Node, index: int) -> Sequence[CommentLine]:
        return ()

    closing = opener


NO_TRIVIA: Final = NoTrivia()


# --------------------------------------------------------------------------- public API


def print_module(module: ast.Module, trivia: Trivia = NO_TRIVIA, width: int = WIDTH) -> str:
    """Canonical source text of ``module`` (ending with a newline unless empty)."""
    return render(Printer(trivia).module(module), width)


def print_expr(expr: ast.Expr, width: int = WIDTH) -> str:
    return render(Printer().expr(expr), width)


def print_type(type_expr: ast.TypeExpr, width: int = WIDTH) -> str:
    return render(Printer().type(type_expr), width)


def precedence(expr: ast.Expr) -> int:
    """How tightly ``expr`` binds, from ``CONDITIONAL`` (loosest) to ``PRIMARY``."""
    if isinstance(expr, ast.Binary):
        if expr.op not in BINARY_PRECEDENCE:
            raise ValueError(f"unknown binary operator {expr.op!r}")
        return BINARY_PRECEDENCE[expr.op]
    if isinstance(expr, ast.Conditional):
        return CONDITIONAL
    if isinstance(expr, ast.Unary) or _is_negative_literal(expr):
        return UNARY
    if isinstance(expr, ast.Select | ast.Index):
        return MEMBER
    if isinstance(expr, ast.Call) and expr.target is not None:
        return MEMBER
    return PRIMARY


def _is_negative_literal(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.DurationLit):
        return expr.nanos < 0
    if isinstance(expr, ast.Literal) and expr.kind in ("int", "uint", "float"):
        return str(lit.number_text(expr)).startswith("-")
    return False


# --------------------------------------------------------------------------- the printer


class _Entry(NamedTuple):
    """One line's worth of a container: an element or an own-line comment."""

    doc: Doc
    blank_before: bool


Item = tuple[ast.Node | None, Doc]  # an element and its document; None: not an anchor


class Printer:
    """Builds layout documents; one instance per print (it tracks quoting state)."""

    def __init__(self, trivia: Trivia = NO_TRIVIA) -> None:
        self.trivia = trivia
        self.forbidden_quotes: frozenset[str] = frozenset()
        self._stmt_printers = _dispatch(self, "stmt", _STATEMENTS)
        self._clause_printers = _dispatch(self, "clause", _CLAUSES)
        self._expr_printers = _dispatch(self, "expr", _EXPRESSIONS)

    # ----------------------------------------------------------- containers

    def comment(self, line: CommentLine) -> Doc:
        return concat(line.text.rstrip(), BREAK_PARENT)

    def trailing(self, lines: Sequence[CommentLine]) -> Doc:
        return concat(Suffix("  " + lines[0].text.rstrip()), BREAK_PARENT) if lines else EMPTY

    def comment_entries(self, lines: Sequence[CommentLine]) -> list[_Entry]:
        return [_Entry(self.comment(c), c.blank_before) for c in lines]

    def item_entries(self, node: ast.Node | None, doc: Doc, suffix: Doc = EMPTY) -> list[_Entry]:
        """An element with its leading comments before it and trailing ones after it."""
        if node is None:
            return [_Entry(concat(doc, suffix), False)]
        trailing = self.trivia.trailing(node)
        entries = self.comment_entries(self.trivia.leading(node))
        main = concat(doc, suffix, self.trailing(trailing[:1]))
        entries.append(_Entry(main, self.trivia.blank_before(node)))
        return entries + self.comment_entries(trailing[1:])

    def entries(
        self, owner: ast.Node | None, index: int, items: Sequence[Item], comma: bool
    ) -> tuple[Doc, list[_Entry]]:
        """The comment after the opening bracket, and the lines of a container."""
        trivia = self.trivia if owner is not None else NO_TRIVIA
        opener = trivia.opener(owner, index)  # type: ignore[arg-type]
        entries = self.comment_entries(opener[1:])
        for position, (node, doc) in enumerate(items):
            last = position == len(items) - 1
            suffix: Doc = (IfBreak(",") if last else Text(",")) if comma else EMPTY
            entries += self.item_entries(node, doc, suffix)
        entries += self.comment_entries(trivia.closing(owner, index))  # type: ignore[arg-type]
        return self.trailing(opener[:1]), entries

    def vertical(self, owner: ast.Node, index: int, items: Sequence[Item]) -> Doc:
        """A ``{ ... }`` block: one element per line."""
        head, entries = self.entries(owner, index, items, comma=False)
        if not entries and head is EMPTY:
            return Text("{}")
        lines = [concat(_separator(e, i, HARDLINE), e.doc) for i, e in enumerate(entries)]
        return concat("{", head, nest(*lines), HARDLINE, "}")

    def commas(
        self, owner: ast.Node | None, index: int, brackets: str, items: Sequence[Item]
    ) -> Doc:
        """A bracketed, comma-separated group: one line, or one element per line."""
        head, entries = self.entries(owner, index, items, comma=True)
        if not entries and head is EMPTY:
            return Text(brackets)
        lines = [
            concat(_separator(e, i, SOFTLINE if i == 0 else LINE), e.doc)
            for i, e in enumerate(entries)
        ]
        return group(brackets[0], head, nest(*lines), SOFTLINE, brackets[1])

    def block(self, owner: ast.Node, index: int, body: Sequence[ast.Stmt]) -> Doc:
        return self.vertical(owner, index, [(s, self.stmt(s)) for s in body])

    # ----------------------------------------------------------- declarations

    def module(self, module: ast.Module) -> Doc:
        entries: list[_Entry] = []
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
        lines = [concat(_separator(e, i, HARDLINE), e.doc) for i, e in enumerate(entries)]
        return concat(entries[0].doc, *lines[1:], HARDLINE)

    def decl(self, decl: ast.Decl) -> Doc:
        if isinstance(decl, ast.FlowDecl):
            return self.flow(decl)
        if isinstance(decl, ast.ServiceDecl):
            clauses = self.clause_block(decl, decl.clauses)
            return concat(f"service {decl.name} ", self.expr(decl.base_url), clauses)
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
        header += [nest(_separator(e, 1, HARDLINE), e.doc) for e in clause_items]
        return concat(group(*header, LINE), self.block(flow, 0, flow.body))

    def param(self, param: ast.Param) -> Doc:
        default = concat(" = ", self.expr(param.default)) if param.default is not None else EMPTY
        return concat(f"{param.name}: ", self.type(param.type), default)

    def annotation(self, type_expr: ast.TypeExpr | None) -> Doc:
        return concat(": ", self.type(type_expr)) if type_expr is not None else EMPTY

    # ----------------------------------------------------------- types

    def type(self, type_expr: ast.TypeExpr) -> Doc:
        if isinstance(type_expr, ast.TypeName):
            module = f"{type_expr.module}." if type_expr.module is not None else ""
            return Text(module + type_expr.name)
        if isinstance(type_expr, ast.OptionalType):
            inner = type_expr.inner
            while isinstance(inner, ast.OptionalType):
                inner = inner.inner
            return concat(self.type(inner), "?")
        if isinstance(type_expr, ast.ListType):
            return concat("list[", self.type(type_expr.elem), "]")
        if isinstance(type_expr, ast.MapType):
            return concat("map[", self.type(type_expr.key), ", ", self.type(type_expr.value), "]")
        if isinstance(type_expr, ast.RecordType):
            fields = [(f, self.field_decl(f)) for f in type_expr.fields]
            return self.commas(type_expr, 0, "{}", fields)
        raise TypeError(f"cannot print {type(type_expr).__name__}")

    def field_decl(self, field: ast.FieldDecl) -> Doc:
        return concat(field.name, "?" if field.optional else "", ": ", self.type(field.type))

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
        return concat(f"auth {clause.scheme} ", join(", ", map(self.expr, clause.args)))

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
        if stmt.catch_body is not None:
            name = f" {stmt.catch_name}" if stmt.catch_name is not None else ""
            parts += [f" catch{name} ", self.block(stmt, index, stmt.catch_body)]
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

    def stmt_assert(self, stmt: ast.AssertStmt) -> Doc:
        message = self.optional(", ", stmt.message)
        return concat("assert ", self.expr(stmt.cond), *message)

    # ----------------------------------------------------------- expressions

    def expr(self, expr: ast.Expr, min_precedence: int = 0) -> Doc:
        doc: Doc = self._expr_printers[type(expr)](expr)
        return concat("(", doc, ")") if precedence(expr) < min_precedence else doc

    def expr_binary(self, expr: ast.Binary) -> Doc:
        level = precedence(expr)
        if level > BREAKABLE_PRECEDENCE:
            left, right = self.expr(expr.left, level), self.expr(expr.right, level + 1)
            return concat(left, f" {expr.op} ", right)
        first, rest = self.operator_chain(expr, level)
        return group(first, nest(*(concat(LINE, f"{op} ", operand) for op, operand in rest)))

    def operator_chain(self, expr: ast.Binary, level: int) -> tuple[Doc, list[tuple[str, Doc]]]:
        """``a || b || c`` as ``a`` and ``[("||", b), ("||", c)]``, without recursion."""
        rest: list[tuple[str, Doc]] = []
        left: ast.Expr = expr
        while isinstance(left, ast.Binary) and precedence(left) == level:
            rest.append((left.op, self.expr(left.right, level + 1)))
            left = left.left
        rest.reverse()
        return self.expr(left, level), rest

    def expr_conditional(self, expr: ast.Conditional) -> Doc:
        cond, then = self.expr(expr.cond, CONDITIONAL + 1), self.expr(expr.then, CONDITIONAL + 1)
        orelse = self.expr(expr.orelse, CONDITIONAL)
        return group(cond, nest(LINE, "? ", then, LINE, ": ", orelse))

    def expr_unary(self, expr: ast.Unary) -> Doc:
        return concat(expr.op, self.expr(expr.operand, UNARY))

    def expr_select(self, expr: ast.Select) -> Doc:
        return concat(self.expr(expr.operand, MEMBER), f".{expr.field}")

    def expr_index(self, expr: ast.Index) -> Doc:
        return concat(self.expr(expr.operand, MEMBER), "[", self.expr(expr.index), "]")

    def expr_call(self, expr: ast.Call) -> Doc:
        target = concat(self.expr(expr.target, MEMBER), ".") if expr.target is not None else EMPTY
        args = [(None, self.expr(a)) for a in expr.args]
        return concat(target, expr.func, self.commas(None, 0, "()", args))

    def expr_name(self, expr: ast.Name) -> Doc:
        return Text(("." if expr.leading_dot else "") + expr.id)

    def expr_list(self, expr: ast.ListLit) -> Doc:
        return self.commas(expr, 0, "[]", [(item, self.expr(item)) for item in expr.items])

    def expr_map(self, expr: ast.MapLit) -> Doc:
        return self.commas(expr, 0, "{}", [(e, self.map_entry(e)) for e in expr.entries])

    def map_entry(self, entry: ast.MapEntry) -> Doc:
        key, style = entry.key, entry.key_style
        if style == "field" and _is_field_name(key):
            key_doc: Doc = Text(str(key.value))  # type: ignore[attr-defined]
        elif style == "computed":
            key_doc = concat("(", self.expr(key), ")")
        else:
            key_doc = self.expr(key)
        return concat(key_doc, ": ", self.expr(entry.value))

    def expr_literal(self, expr: ast.Literal) -> Doc:
        if expr.kind in ("bool", "null"):
            return Text("null" if expr.value is None else "true" if expr.value else "false")
        raw = lit.reusable_raw(expr) if not self.forbidden_quotes else None
        if raw is not None:
            return Text(raw)
        if isinstance(expr.value, str):
            quote = self.quote(lit.preferred_quote([expr.value]))
            return Text(lit.string_text(expr.value, quote, self.enclosing_quotes()))
        if isinstance(expr.value, bytes):
            quote = self.quote(lit.bytes_quote(expr.value))
            return Text(lit.bytes_text(expr.value, quote, self.enclosing_quotes()))
        return Text(lit.number_text(expr))

    def enclosing_quotes(self) -> str:
        return "".join(sorted(self.forbidden_quotes))

    def quote(self, preferred: str) -> str:
        """``preferred``, unless an enclosing string uses it."""
        if preferred not in self.forbidden_quotes:
            return preferred
        if len(self.forbidden_quotes) == 2:
            raise ValueError("no quote kind is left for a string this deep inside `${...}`")
        return lit.other_quote(preferred)

    def expr_duration(self, expr: ast.DurationLit) -> Doc:
        raw = lit.reusable_raw(expr)
        return Text(raw if raw is not None else lit.duration_text(expr.nanos))

    def expr_template(self, expr: ast.Template) -> Doc:
        quote, triple = self.template_form(expr)
        pieces: list[str] = []
        last = len(expr.parts) - 1
        for position, part in enumerate(expr.parts):
            if isinstance(part, str):
                at_end = position == last
                also = self.enclosing_quotes()
                pieces.append(lit.escape_text(part, quote, triple=triple, at_end=at_end, also=also))
            else:
                pieces.append("${" + self.embedded(part, quote) + "}")
        delimiter = quote * 3 if triple else quote
        return Text(delimiter + "".join(pieces) + delimiter)

    def template_form(self, expr: ast.Template) -> tuple[str, bool]:
        """The quote character, and whether to keep the source's triple quotes."""
        preferred = lit.preferred_quote([p for p in expr.parts if isinstance(p, str)])
        if self.forbidden_quotes:
            return self.quote(preferred), False
        raw = (expr.raw or "").lstrip("rRbB")
        if raw.startswith(('"""', "'''")):
            return raw[0], True
        return preferred, False

    def embedded(self, expr: ast.Expr, quote: str) -> str:
        """An interpolated expression: one line, strings in another quote kind."""
        saved = self.forbidden_quotes
        self.forbidden_quotes = saved | {quote}
        try:
            return render_flat(self.expr(expr))
        finally:
            self.forbidden_quotes = saved


# --------------------------------------------------------------------------- helpers


def _separator(entry: _Entry, position: int, line: Doc) -> Doc:
    return BLANKLINE if entry.blank_before and position > 0 else line


def _grouped(previous: ast.Decl, decl: ast.Decl) -> bool:
    """Consecutive imports stay together; other declarations get a blank line."""
    return isinstance(previous, ast.ImportDecl) and isinstance(decl, ast.ImportDecl)


def _bare_limit(limit: ast.Expr) -> bool:
    if isinstance(limit, ast.Select):
        return _bare_limit(limit.operand)
    if isinstance(limit, ast.Name):
        return not limit.leading_dot
    if isinstance(limit, ast.Literal) and limit.kind == "int" and isinstance(limit.value, int):
        return limit.value >= 0
    return False


def _is_field_name(key: ast.Expr) -> bool:
    if not (isinstance(key, ast.Literal) and isinstance(key.value, str)):
        return False
    return key.value.isidentifier() and key.value.isascii() and key.value not in _LITERAL_WORDS


_LITERAL_WORDS: Final = frozenset({"true", "false", "null"})

_KEYWORD_STATEMENTS: Final[dict[type, tuple[str, str | None]]] = {
    ast.SleepStmt: ("sleep", "duration"),
    ast.LogStmt: ("log", "value"),
    ast.FailStmt: ("fail", "value"),
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
_EXPRESSIONS: Final[dict[type, str]] = {
    ast.Binary: "binary",
    ast.Conditional: "conditional",
    ast.Unary: "unary",
    ast.Select: "select",
    ast.Index: "index",
    ast.Call: "call",
    ast.Name: "name",
    ast.ListLit: "list",
    ast.MapLit: "map",
    ast.Literal: "literal",
    ast.DurationLit: "duration",
    ast.Template: "template",
}


def _dispatch(
    printer: Printer, prefix: str, table: dict[type, str]
) -> dict[type, Callable[[Any], Doc]]:
    """``{node class: bound printing method}`` for one family of nodes."""
    return {cls: getattr(printer, f"{prefix}_{name}") for cls, name in table.items()}
