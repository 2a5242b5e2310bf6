"""Printing expressions and types, and the containers that hold anchors.

``ExpressionPrinter`` is the half of the printer that statements and
declarations build on (``printer.Printer`` extends it): expressions, types,
literal spelling in context, and the two kinds of container layout —
``vertical`` blocks (one element per line, always broken) and ``commas``
groups (one line when they fit, else one element per line with a trailing
comma).

Parentheses are not stored in the tree; the printer computes the minimal set
from CEL precedence (low to high: ``?:``, ``??``, ``||``, ``&&``, relations,
``+ -``, ``* / %``, unary, member access).  Binary operators associate to the
left, so a right operand of the same precedence keeps its parentheses
(``a - (b - c)``) and a left one loses them (``a - b - c``).  The condition
and the middle of ``?:`` need a tighter expression than ``?:`` itself; its
last operand does not (``a ? b : c ? d : e``).  A too-long chain of ``??``,
``||`` or ``&&`` breaks before each operator, a too-long ``?:`` before ``?``
and ``:``; other expressions never break.

A string token ends at the first unescaped quote of its own kind, so the
text of ``${...}`` cannot contain that quote at all, nor a line break.  The
printer tracks the quote kinds in use by the enclosing strings
(``forbidden_quotes``) while it prints an interpolated expression, writes
every string inside it with a quote kind not in use (escaping the other
kinds), and renders it on one line.  Two levels of interpolation use up both
kinds: a string literal inside ``"${'${...}'}"`` cannot be written, and
printing one raises ``ValueError``.

Comments.  The printer itself knows nothing of comments; it asks a
``Trivia`` object for the comments to put before and after each *anchor*
(declaration, statement, clause, map entry, list item, record field,
parameter, grouped parallel branch), after the opening bracket and before
the closing bracket of each *container* (a block, clause block, map, list,
record or parameter list, identified by its owner node and an index), and
whether a blank line precedes an anchor.  A container element becomes a
list of ``Entry`` lines: its leading comments, itself (with its separator
and first trailing comment), then any further trailing comments.  With the
default ``NO_TRIVIA`` the output depends on the tree alone.
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
    nest,
    render_flat,
)

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


class Entry(NamedTuple):
    """One line's worth of a container: an element or an own-line comment."""

    doc: Doc
    blank_before: bool


Item = tuple[ast.Node | None, Doc]  # an element and its document; None: not an anchor


class ExpressionPrinter:
    """Expressions, types and containers; one instance per print (it tracks quoting)."""

    def __init__(self, trivia: Trivia = NO_TRIVIA, *, from_parser: bool = False) -> None:
        self.trivia = trivia
        self.from_parser = from_parser  # literal spellings need no re-parse (reusable_raw)
        self.forbidden_quotes: frozenset[str] = frozenset()
        self._expr_printers = dispatch_table(self, "expr", _EXPRESSIONS)

    # ----------------------------------------------------------- containers

    def comment(self, line: CommentLine) -> Doc:
        return concat(line.text.rstrip(), BREAK_PARENT)

    def trailing(self, lines: Sequence[CommentLine]) -> Doc:
        return concat(Suffix("  " + lines[0].text.rstrip()), BREAK_PARENT) if lines else EMPTY

    def comment_entries(self, lines: Sequence[CommentLine]) -> list[Entry]:
        return [Entry(self.comment(c), c.blank_before) for c in lines]

    def item_entries(self, node: ast.Node | None, doc: Doc, suffix: Doc = EMPTY) -> list[Entry]:
        """An element with its leading comments before it and trailing ones after it."""
        if node is None:
            return [Entry(concat(doc, suffix), False)]
        trailing = self.trivia.trailing(node)
        entries = self.comment_entries(self.trivia.leading(node))
        main = concat(doc, suffix, self.trailing(trailing[:1]))
        entries.append(Entry(main, self.trivia.blank_before(node)))
        return entries + self.comment_entries(trailing[1:])

    def entries(
        self, owner: ast.Node | None, index: int, items: Sequence[Item], comma: bool
    ) -> tuple[Doc, list[Entry]]:
        """The comment after the opening bracket, and the lines of a container."""
        opener = self.trivia.opener(owner, index) if owner is not None else ()
        entries = self.comment_entries(opener[1:])
        for position, (node, doc) in enumerate(items):
            last = position == len(items) - 1
            suffix: Doc = (IfBreak(",") if last else Text(",")) if comma else EMPTY
            entries += self.item_entries(node, doc, suffix)
        if owner is not None:
            entries += self.comment_entries(self.trivia.closing(owner, index))
        return self.trailing(opener[:1]), entries

    def vertical(self, owner: ast.Node, index: int, items: Sequence[Item]) -> Doc:
        """A ``{ ... }`` block: one element per line."""
        head, entries = self.entries(owner, index, items, comma=False)
        if not entries and head is EMPTY:
            return Text("{}")
        lines = [concat(separator(e, i, HARDLINE), e.doc) for i, e in enumerate(entries)]
        return concat("{", head, nest(*lines), HARDLINE, "}")

    def commas(
        self, owner: ast.Node | None, index: int, brackets: str, items: Sequence[Item]
    ) -> Doc:
        """A bracketed, comma-separated group: one line, or one element per line."""
        head, entries = self.entries(owner, index, items, comma=True)
        if not entries and head is EMPTY:
            return Text(brackets)
        lines = [
            concat(separator(e, i, SOFTLINE if i == 0 else LINE), e.doc)
            for i, e in enumerate(entries)
        ]
        return group(brackets[0], head, nest(*lines), SOFTLINE, brackets[1])

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
        raw = (
            None if self.forbidden_quotes else lit.reusable_raw(expr, from_parser=self.from_parser)
        )
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
        raw = lit.reusable_raw(expr, from_parser=self.from_parser)
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


def separator(entry: Entry, position: int, line: Doc) -> Doc:
    return BLANKLINE if entry.blank_before and position > 0 else line


def _is_field_name(key: ast.Expr) -> bool:
    if not (isinstance(key, ast.Literal) and isinstance(key.value, str)):
        return False
    return key.value.isidentifier() and key.value.isascii() and key.value not in _LITERAL_WORDS


_LITERAL_WORDS: Final = frozenset({"true", "false", "null"})

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


def dispatch_table(
    printer: object, prefix: str, table: dict[type, str]
) -> dict[type, Callable[[Any], Doc]]:
    """``{node class: bound printing method}`` for one family of nodes."""
    return {cls: getattr(printer, f"{prefix}_{name}") for cls, name in table.items()}
