"""Go to definition, rename, and the outline of a document.

Definition.  The ``locate`` target under the cursor already knows what a
name refers to; its declaration is a span in some file of the program:

* a binding or constant — ``Symbol.span``, the declaration's name (a loop's
  index variable is found in the loop header: the checker gives both loop
  variables the span of the last one);
* a step's service, a ``call``'s flow, a type name — the name span of the
  ``ServiceDecl``/``FlowDecl``/``TypeDecl``, possibly in an imported file;
* an import's path — the start of the imported file;
* a record field — the field in its ``type`` declaration, when the record
  has a declared name.

Rename works on the bindings a flow declares (``let``, ``var``, parameters,
loop, ``catch`` and macro variables) and on steps.  Every reference is a
node whose ``CheckInfo.references`` entry is the renamed ``Symbol`` (names,
including those inside ``${...}``, and assignment targets); the declaration
adds its name span, and renaming a parameter also renames the matching named
arguments of ``call`` steps to that flow in the file.  Keywords, built-ins,
constants and names declared in other files are refused by
``prepare_rename``; a new name must be an identifier and not a reserved word.

Document symbols are the outline: flows with their steps as children,
services, types, constants and imports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from lsprotocol import types

from flowc.common.types import OptionalT, RecordT, Type
from flowc.compiler import ast
from flowc.compiler.scope import Symbol
from flowc.compiler.symbols import FlowInfo
from flowc.grammar.keywords import RESERVED
from flowc.lsp.analysis import Snapshot
from flowc.lsp.hover import service_target
from flowc.lsp.locate import (
    FieldTarget,
    FlowTarget,
    ImportTarget,
    ServiceTarget,
    StepTarget,
    SymbolTarget,
    Target,
    TypeTarget,
    loop_variable_spans,
)
from flowc.lsp.positions import LineIndex

RENAMEABLE: Final = frozenset({"let", "var", "param", "loop", "step", "catch", "macro"})
IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

UriOf = Callable[[str], str]  # absolute path -> the URI to report it under


# --------------------------------------------------------------------------- definition


def declaration_span(snapshot: Snapshot, symbol: Symbol) -> ast.Span | None:
    """Where a symbol's name is declared (None for built-ins)."""
    if isinstance(symbol.node, ast.ForLoop):
        found = loop_variable_spans(symbol.node, _index_for(snapshot, symbol.node.span))
        return found.get(symbol.name, symbol.span)
    if symbol.kind == "module" and isinstance(symbol.node, ast.ImportDecl):
        return ast.name_span_of(symbol.node)
    return symbol.span if symbol.span.line > 0 else None


def _index_for(snapshot: Snapshot, span: ast.Span) -> LineIndex:
    index = snapshot.index_of(snapshot.path_of(span.file))
    return index if index is not None else snapshot.index


def field_declaration(snapshot: Snapshot, operand: Type | None, field: str) -> ast.Span | None:
    """The field's declaration in a named record type, if it has one."""
    if isinstance(operand, OptionalT):
        operand = operand.inner
    if not isinstance(operand, RecordT) or operand.name is None:
        return None
    symbols = snapshot.symbols
    if symbols is None:
        return None
    entries = [symbols.types.get(operand.name)]
    entries += [entry.target.types.get(operand.name) for entry in symbols.imports]
    for entry in entries:
        if entry is not None and isinstance(entry.decl.type, ast.RecordType):
            for decl in entry.decl.type.fields:
                if decl.name == field:
                    return ast.Span(
                        decl.span.file,
                        decl.span.line,
                        decl.span.col,
                        decl.span.line,
                        decl.span.col + len(field),
                    )
    return None


def definition_span(snapshot: Snapshot, target: Target) -> tuple[str, ast.Span] | None:
    """The file (absolute path) and span a target is declared at."""
    span: ast.Span | None
    if isinstance(target, SymbolTarget):
        span = declaration_span(snapshot, target.symbol)
    elif isinstance(target, StepTarget):
        span = target.step.name_span
    elif isinstance(target, ServiceTarget):
        span = target.service.decl.name_span
    elif isinstance(target, FlowTarget):
        span = target.flow.decl.name_span
    elif isinstance(target, TypeTarget):
        span = target.decl.name_span if target.decl is not None else None
    elif isinstance(target, ImportTarget):
        return (target.path, ast.Span("", 1, 1, 1, 1)) if target.path else None
    elif isinstance(target, FieldTarget):
        span = field_declaration(snapshot, target.operand, target.select.field)
    else:
        span = None
    if span is None or span.line <= 0:
        return None
    return snapshot.path_of(span.file), span


def location(snapshot: Snapshot, path: str, span: ast.Span, uri_of: UriOf) -> types.Location:
    index = snapshot.index_of(path)
    if index is None or not span.file:
        start = types.Position(line=0, character=0)
        return types.Location(uri=uri_of(path), range=types.Range(start=start, end=start))
    return types.Location(uri=uri_of(path), range=index.span_range(span))


# --------------------------------------------------------------------------- rename


class RenameError(ValueError):
    """A rename that cannot be done (the message says why)."""


def rename_symbol(snapshot: Snapshot, target: Target | None) -> Symbol | None:
    """The symbol a rename at this target would change, or None if it cannot."""
    symbol = target.symbol if isinstance(target, StepTarget | SymbolTarget) else None
    if symbol is None or symbol.kind not in RENAMEABLE:
        return None
    if symbol.module_path != snapshot.path or declaration_span(snapshot, symbol) is None:
        return None
    if symbol.kind == "catch" and not _is_named_catch(snapshot, symbol):
        return None
    return symbol


def _is_named_catch(snapshot: Snapshot, symbol: Symbol) -> bool:
    """A ``catch`` variable can be renamed only when the user named it (not ``error``)."""
    module = snapshot.module
    return module is not None and any(
        isinstance(node, ast.CatchClause)
        and node.name == symbol.name
        and node.name_span == symbol.span
        for node in ast.walk(module)
    )


def reference_spans(snapshot: Snapshot, symbol: Symbol) -> list[ast.Span]:
    """Every place of the root file that names ``symbol``, its declaration included."""
    module = snapshot.module
    info = snapshot.compilation.result.info
    spans: list[ast.Span] = []
    declared = declaration_span(snapshot, symbol)
    if declared is not None:
        spans.append(declared)
    if module is None:
        return spans
    flow_decl = _declaring_flow(module, symbol) if symbol.kind == "param" else None
    for node in ast.walk(module):
        if info.references.get(id(node)) is symbol:
            if isinstance(node, ast.Name):
                spans.append(_name_part(node.span, node.id))
            elif isinstance(node, ast.AssignStmt):
                spans.append(_name_part(node.span, node.name))
        elif flow_decl is not None and isinstance(node, ast.CallAction):
            callee = info.step_targets.get(id(node))
            if isinstance(callee, FlowInfo) and callee.decl is flow_decl:
                spans += [
                    _name_part(a.span, symbol.name) for a in node.args if a.name == symbol.name
                ]
    unique = {(s.line, s.col, s.end_line, s.end_col): s for s in spans}
    return list(unique.values())


def _name_part(span: ast.Span, name: str) -> ast.Span:
    """The first ``len(name)`` characters of a span (a name at its start)."""
    return ast.Span(span.file, span.line, span.col, span.line, span.col + len(name))


def _declaring_flow(module: ast.Module, symbol: Symbol) -> ast.FlowDecl | None:
    for decl in module.decls:
        if isinstance(decl, ast.FlowDecl) and any(p is symbol.node for p in decl.params):
            return decl
    return None


def check_new_name(name: str) -> None:
    if not IDENTIFIER.match(name):
        raise RenameError(f"`{name}` is not a valid name")
    if name in RESERVED:
        raise RenameError(f"`{name}` is a reserved word")


def rename_edits(snapshot: Snapshot, symbol: Symbol, new_name: str) -> list[types.TextEdit]:
    check_new_name(new_name)
    index = snapshot.index
    return [
        types.TextEdit(range=index.span_range(span), new_text=new_name)
        for span in reference_spans(snapshot, symbol)
    ]


# --------------------------------------------------------------------------- document symbols


def _symbol(
    snapshot: Snapshot,
    name: str,
    kind: types.SymbolKind,
    node: ast.Node,
    detail: str | None = None,
    children: list[types.DocumentSymbol] | None = None,
) -> types.DocumentSymbol:
    index = snapshot.index
    whole = index.span_range(node.span)
    name_span = ast.name_span_of(node)
    return types.DocumentSymbol(
        name=name,
        kind=kind,
        range=whole,
        selection_range=index.span_range(name_span),
        detail=detail,
        children=children,
    )


def _excerpt(snapshot: Snapshot, node: ast.Node, limit: int = 60) -> str:
    text = " ".join(snapshot.index.slice(node.span).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _steps(snapshot: Snapshot, flow: ast.FlowDecl) -> list[types.DocumentSymbol]:
    found = []
    for node in ast.walk(flow):
        if isinstance(node, ast.StepStmt):
            found.append(
                _symbol(
                    snapshot,
                    node.name,
                    types.SymbolKind.Event,
                    node,
                    _excerpt(snapshot, node.action),
                )
            )
    return found


def document_symbols(snapshot: Snapshot) -> list[types.DocumentSymbol]:
    module = snapshot.module
    if module is None:
        return []
    found: list[types.DocumentSymbol] = []
    for decl in module.decls:
        if isinstance(decl, ast.FlowDecl):
            params = ", ".join(p.name for p in decl.params)
            found.append(
                _symbol(
                    snapshot,
                    decl.name,
                    types.SymbolKind.Function,
                    decl,
                    f"({params})",
                    _steps(snapshot, decl),
                )
            )
        elif isinstance(decl, ast.ServiceDecl):
            found.append(
                _symbol(
                    snapshot,
                    decl.name,
                    types.SymbolKind.Interface,
                    decl,
                    service_target(snapshot, decl),
                )
            )
        elif isinstance(decl, ast.TypeDecl):
            found.append(
                _symbol(
                    snapshot,
                    decl.name,
                    types.SymbolKind.Struct,
                    decl,
                    _excerpt(snapshot, decl.type),
                )
            )
        elif isinstance(decl, ast.ConstDecl):
            const = snapshot.symbol_named(decl, decl.name)
            detail = str(const.type) if const is not None else None
            found.append(_symbol(snapshot, decl.name, types.SymbolKind.Constant, decl, detail))
        elif isinstance(decl, ast.ImportDecl):
            name = decl.alias or decl.path
            found.append(_symbol(snapshot, name, types.SymbolKind.Module, decl, decl.path))
    return found
