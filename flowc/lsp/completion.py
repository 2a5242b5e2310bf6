"""Completion: keywords the grammar allows, names in scope, fields after a dot.

``complete`` looks at the text before the cursor (the current buffer, which
need not parse) and combines two sources:

* the *grammar* (``cursor.cursor_context``): which terminals may come next.
  Where a statement may start, the statement keywords; inside a clause block,
  the clause words that belong to its owner (an HTTP step, a ``call`` step, a
  service, a flow header — ``clausecheck`` says which); after an HTTP method,
  the services; after ``call``, the flows; in a type, the type names;
  elsewhere the words the grammar accepts (``in``, ``max``, ``backoff``...);
* the *last good analysis* (a ``Snapshot``, possibly of an older text): the
  names in scope at the cursor (``scopes.bindings_at``; the cursor is mapped
  into the old text with ``positions.TextChange``, so only bindings declared
  before the point being edited are offered), module constants, imports and
  built-in functions, each with its type; and after ``x.``, the members of the
  type of ``x``.

The type before a dot is found in two ways.  If the expression before the
dot is unchanged since the analysis (typing ``.`` after ``check.body``), its
node in the old tree has a recorded type — exact, narrowing included.
Otherwise the expression is read as a chain ``name(.field|[index])*`` and its
type followed from the binding's type, field by field.
"""

from __future__ import annotations

import re
from typing import Final

from lsprotocol import types

from flowc.common.types import (
    ERROR_RECORD,
    JSON,
    PRIMITIVES,
    SECRET,
    STRING,
    ListT,
    MapT,
    OptionalT,
    RecordT,
    Type,
)
from flowc.compiler import ast
from flowc.compiler.clausecheck import (
    CALL_STEP_CLAUSES,
    FLOW_CLAUSES,
    HTTP_STEP_CLAUSES,
    SERVICE_CLAUSES,
)
from flowc.compiler.symbols import ModuleSymbols, flows_of, services_of, types_of
from flowc.grammar.keywords import (
    BUILTIN_FUNCTIONS,
    DECLARATION_KEYWORDS,
    HTTP_METHODS,
    LITERAL_KEYWORDS,
    STATEMENT_CLAUSE_KEYWORDS,
    STATEMENT_KEYWORDS,
)
from flowc.lsp.analysis import Snapshot
from flowc.lsp.cursor import (
    CursorContext,
    cursor_context,
    interpolation_open,
    trivia_at,
    word_start,
)
from flowc.lsp.hover import HoverRenderer, service_target
from flowc.lsp.positions import TextChange
from flowc.lsp.scopes import Binding, bindings_at

CLAUSES_OF: Final = {
    "step": HTTP_STEP_CLAUSES,
    "call step": CALL_STEP_CLAUSES,
    "service": SERVICE_CLAUSES,
    "flow": FLOW_CLAUSES,
}
CLAUSE_WORDS: Final = frozenset(w.split()[0] for c in CLAUSES_OF.values() for w in c)
STATEMENT_WORDS: Final = frozenset(STATEMENT_KEYWORDS) | frozenset(STATEMENT_CLAUSE_KEYWORDS)
EXPRESSION_STARTS: Final = frozenset({"INT", "STRING", "FLOAT", "DURATION"})
NEW_NAME_AFTER: Final = frozenset(
    {"let", "var", "step", "for", "catch", "as", "flow", "service", "type", "const", "import"}
)
TYPE_AFTER: Final = frozenset({":", "->", "[", "?"})
MEMBER_FUNCTIONS: Final = {
    "string": ("contains", "startsWith", "endsWith", "matches", "size"),
    "list": ("size", "all", "exists", "exists_one", "map", "filter"),
    "map": ("size", "all", "exists", "exists_one", "map", "filter"),
}
BINDING_KINDS: Final = {
    "param": types.CompletionItemKind.Variable,
    "let": types.CompletionItemKind.Variable,
    "var": types.CompletionItemKind.Variable,
    "loop": types.CompletionItemKind.Variable,
    "catch": types.CompletionItemKind.Variable,
    "macro": types.CompletionItemKind.Variable,
    "step": types.CompletionItemKind.Event,
    "const": types.CompletionItemKind.Constant,
    "module": types.CompletionItemKind.Module,
    "builtin": types.CompletionItemKind.Variable,
}
RECEIVER_ONLY: Final = frozenset(
    {"all", "exists", "exists_one", "map", "filter", "contains", "startsWith", "endsWith"}
)
CHAIN: Final = re.compile(r"[A-Za-z_]\w*|\.|\[[^\]]*\]")

Items = list[types.CompletionItem]


def keyword_item(word: str, rank: str = "1") -> types.CompletionItem:
    label = "on error" if word == "on" else word
    return types.CompletionItem(
        label=label, kind=types.CompletionItemKind.Keyword, sort_text=f"{rank}{label}"
    )


def receiver_start(text: str, dot: int) -> int:
    """Where the expression ending just before ``dot`` starts (``a.b[0].c``)."""
    position = dot
    while position > 0:
        char = text[position - 1]
        if char.isalnum() or char == "_" or char == ".":
            position -= 1
        elif char in ")]":
            opener = "(" if char == ")" else "["
            depth = 0
            while position > 0:
                position -= 1
                if text[position] == char:
                    depth += 1
                elif text[position] == opener:
                    depth -= 1
                    if depth == 0:
                        break
        else:
            break
    return position


def members(t: Type | None) -> Items:
    """The fields and receiver functions of a value of type ``t``."""
    if isinstance(t, OptionalT):
        t = t.inner
    items: Items = []
    if isinstance(t, RecordT):
        for field in t.fields:
            shown = f"{field.type}{'?' if field.optional else ''}"
            items.append(
                types.CompletionItem(
                    label=field.name,
                    kind=types.CompletionItemKind.Field,
                    detail=shown,
                    sort_text=f"0{field.name}",
                )
            )
    family = (
        "string"
        if t in (STRING, SECRET)
        else "list"
        if isinstance(t, ListT)
        else "map"
        if isinstance(t, MapT)
        else None
    )
    for name in MEMBER_FUNCTIONS.get(family or "", ()):
        items.append(
            types.CompletionItem(
                label=name, kind=types.CompletionItemKind.Method, sort_text=f"1{name}"
            )
        )
    return items


def follow(t: Type | None, path: list[str]) -> Type | None:
    """The type reached from ``t`` by fields and indexes (``["body", "[", "id"]``)."""
    for step in path:
        if isinstance(t, OptionalT):
            t = t.inner
        if step == "[":
            t = t.elem if isinstance(t, ListT) else t.value if isinstance(t, MapT) else None
        elif isinstance(t, RecordT):
            field = t.field(step)
            t = field.type if field is not None else None
        elif isinstance(t, MapT):
            t = t.value
        else:
            return None
    return t


class Completer:
    """Completion at one offset of the current buffer, from the last good analysis."""

    def __init__(self, text: str, offset: int, snapshot: Snapshot | None) -> None:
        self.text = text
        self.offset = offset
        self.snapshot = snapshot
        self.change = TextChange(snapshot.text, text) if snapshot is not None else None
        self.start = word_start(text, offset)

    @property
    def symbols(self) -> ModuleSymbols | None:
        return self.snapshot.symbols if self.snapshot is not None else None

    def complete(self) -> Items:
        trivia = trivia_at(self.text, self.start)
        if trivia == "comment":
            return []
        if trivia == "string":
            if not interpolation_open(self.text, self.start):
                return []
            if self.start > 0 and self.text[self.start - 1] == ".":
                return self.after_dot()
            return self.values()
        if self.start > 0 and self.text[self.start - 1] == ".":
            return self.after_dot()
        context = cursor_context(self.text, self.start)
        if not context.parsed:
            return [keyword_item(w) for w in sorted(STATEMENT_WORDS)] + self.values()
        return self.from_grammar(context)

    # ----------------------------------------------------------- grammar contexts

    def from_grammar(self, context: CursorContext) -> Items:
        words = context.words()
        last = context.last
        if last in HTTP_METHODS:
            return self.services()
        if last == "call":
            return self.flows(None) + self.modules()
        if words & frozenset(DECLARATION_KEYWORDS) and not words & STATEMENT_WORDS:
            return [keyword_item(w) for w in sorted(words)]
        if "let" in words:  # a statement may start here
            keywords = [keyword_item(w, "0") for w in sorted(words & STATEMENT_WORDS - {"in"})]
            return keywords + self.values(mutable_only=True)
        if context.owner is not None and words & CLAUSE_WORDS:
            return self.clauses(words, context)
        if "NAME" in context.accepts and not context.accepts & EXPRESSION_STARTS:
            named = self.name_without_expression(context)
            if named is not None:
                return named
        items = [keyword_item(w) for w in sorted(words - frozenset(LITERAL_KEYWORDS))]
        if context.accepts & EXPRESSION_STARTS:
            items += self.values()
            items += [keyword_item(w, "3") for w in sorted(words & frozenset(LITERAL_KEYWORDS))]
        return items

    def name_without_expression(self, context: CursorContext) -> Items | None:
        """Where only a name fits: a new binding's (nothing to offer) or a type's."""
        if context.last in NEW_NAME_AFTER or context.open_bracket() == "(":
            return []
        if context.last in TYPE_AFTER or context.open_bracket() == "[":
            return self.type_names()
        return None

    def clauses(self, words: set[str], context: CursorContext) -> Items:
        owner = context.owner if context.open_bracket() == "{" else "flow"
        allowed = CLAUSES_OF.get(owner or "", frozenset())
        offered = {w for w in words if w in allowed or (w == "on" and "on error" in allowed)}
        return [keyword_item(w, "0") for w in sorted(offered)]

    # ----------------------------------------------------------- names

    def bindings(self) -> dict[str, Binding]:
        snapshot = self.snapshot
        if snapshot is None or self.change is None:
            return {}
        old = self.change.to_old(self.start)
        line, col = snapshot.index.line_col(old)
        return bindings_at(snapshot, (line + 1, col + 1))

    def values(self, mutable_only: bool = False) -> Items:
        items: Items = []
        for name, binding in self.bindings().items():
            if mutable_only and binding.kind != "var":
                continue  # at a statement start, only a `var` can be assigned
            symbol = binding.symbol
            detail = str(symbol.type) if symbol is not None and binding.kind != "module" else None
            rank = {"builtin": "2", "const": "1", "module": "1"}.get(binding.kind, "0")
            items.append(
                types.CompletionItem(
                    label=name,
                    kind=BINDING_KINDS.get(binding.kind, types.CompletionItemKind.Variable),
                    detail=f"{binding.kind} {detail}" if detail else binding.kind,
                    sort_text=f"{rank}{name}",
                )
            )
        if not mutable_only:
            known = {item.label for item in items}
            items += [
                types.CompletionItem(
                    label=name,
                    kind=types.CompletionItemKind.Function,
                    detail="built-in function",
                    sort_text=f"2{name}",
                )
                for name in sorted(set(BUILTIN_FUNCTIONS) - RECEIVER_ONLY)
                if name not in known
            ]
        return items

    def services(self) -> Items:
        symbols = self.symbols
        if symbols is None:
            return []
        items = []
        for name in symbols.names_of(services_of):
            service = symbols.find_service(name)
            detail = None
            if service is not None and self.snapshot is not None:
                detail = f"service {service_target(self.snapshot, service.decl)}"
            items.append(
                types.CompletionItem(
                    label=name, kind=types.CompletionItemKind.Interface, detail=detail
                )
            )
        return items

    def flows(self, target: ModuleSymbols | None) -> Items:
        symbols = target or self.symbols
        if symbols is None:
            return []
        names = sorted(symbols.flows) if target is not None else symbols.names_of(flows_of)
        items = []
        for name in names:
            flow = symbols.flows.get(name) or symbols.find_flow(name, None)
            detail = None
            if flow is not None and self.snapshot is not None:
                detail = HoverRenderer(self.snapshot).signature(flow)
            items.append(
                types.CompletionItem(
                    label=name, kind=types.CompletionItemKind.Function, detail=detail
                )
            )
        return items

    def modules(self) -> Items:
        symbols = self.symbols
        if symbols is None:
            return []
        return [
            types.CompletionItem(
                label=alias, kind=types.CompletionItemKind.Module, detail=entry.decl.path
            )
            for alias, entry in symbols.aliases.items()
        ]

    def type_names(self, target: ModuleSymbols | None = None) -> Items:
        symbols = target or self.symbols
        names = set(symbols.names_of(types_of) if target is None and symbols else ())
        if target is not None:
            names = set(target.types)
        items = [
            types.CompletionItem(label=n, kind=types.CompletionItemKind.Struct, sort_text=f"0{n}")
            for n in sorted(names)
        ]
        if target is None:
            items += [
                types.CompletionItem(
                    label=n, kind=types.CompletionItemKind.TypeParameter, sort_text=f"1{n}"
                )
                for n in sorted({*PRIMITIVES, "list", "map"})
            ]
            items += self.modules()
        return items

    # ----------------------------------------------------------- after a dot

    def after_dot(self) -> Items:
        dot = self.start - 1
        begin = receiver_start(self.text, dot)
        receiver = self.text[begin:dot]
        if not receiver:
            return []
        module = self.module_alias(receiver)
        if module is not None:
            before = self.text[:begin].rstrip()
            if before.endswith("call"):
                return self.flows(module)
            if before.endswith((":", "->", "[", ",")):
                return self.type_names(module)
            return [
                types.CompletionItem(
                    label=name, kind=types.CompletionItemKind.Constant, detail=str(symbol.type)
                )
                for name, symbol in sorted(module.consts.items())
            ]
        return members(self.receiver_type(begin, dot, receiver))

    def module_alias(self, receiver: str) -> ModuleSymbols | None:
        symbols = self.symbols
        if symbols is None or not receiver.isidentifier():
            return None
        entry = symbols.aliases.get(receiver)
        return entry.target if entry is not None else None

    def receiver_type(self, begin: int, dot: int, receiver: str) -> Type | None:
        recorded = self.recorded_type(begin, dot, receiver)
        if recorded is not None:
            return recorded
        parts = CHAIN.findall(receiver)
        if not parts or not parts[0].isidentifier():
            return None
        root = self.root_type(parts[0])
        path = ["[" if p.startswith("[") else p for p in parts[1:] if p != "."]
        return follow(root, path)

    def root_type(self, name: str) -> Type | None:
        binding = self.bindings().get(name)
        if binding is not None and binding.symbol is not None and binding.kind != "module":
            return binding.symbol.type
        if name == "error":
            return ERROR_RECORD
        return None

    def recorded_type(self, begin: int, dot: int, receiver: str) -> Type | None:
        """The checker's type of the receiver, if it is unchanged since the analysis."""
        snapshot, change = self.snapshot, self.change
        if snapshot is None or change is None or snapshot.module is None:
            return None
        old_begin, old_end = change.to_old(begin), change.to_old(dot)
        if snapshot.text[old_begin:old_end] != receiver:
            return None
        index = snapshot.index
        start = index.line_col(old_begin)
        end = index.line_col(old_end)
        wanted = (start[0] + 1, start[1] + 1, end[0] + 1, end[1] + 1)
        info = snapshot.compilation.result.info
        for node in ast.walk(snapshot.module):
            span = node.span
            if (span.line, span.col, span.end_line, span.end_col) == wanted:
                found = info.expr_types.get(id(node))
                if found is not None and found != JSON:
                    return found
        return None


def complete(text: str, offset: int, snapshot: Snapshot | None) -> Items:
    return Completer(text, offset, snapshot).complete()
