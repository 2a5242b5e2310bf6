"""What is at a position: from a cursor to the declaration or value it names.

``node_path`` descends from the module to the innermost node whose span
contains the position, keeping the chain of ancestors.  ``resolve`` then
walks that chain from the innermost node outwards and asks each node whether
the position is on a *name* it holds, and what the name means:

==============================  ==========================================
where the cursor is             target
==============================  ==========================================
a ``Name``, an assignment       ``SymbolTarget`` (from ``CheckInfo.references``)
``alias.CONST``                 ``SymbolTarget`` of the constant
the field of ``x.field``        ``FieldTarget`` with the field's type
a declaration's name            ``SymbolTarget`` / ``StepTarget`` /
                                ``FlowTarget`` / ``ServiceTarget`` /
                                ``TypeTarget`` of the declaration
a step's service, ``call f``    ``ServiceTarget`` / ``FlowTarget`` (from
                                ``CheckInfo.step_targets``)
a named call argument           ``SymbolTarget`` of the callee's parameter
a type name                     ``TypeTarget`` (``CheckInfo.type_references``)
an import's path                ``ImportTarget`` with the imported file
a function name                 ``FunctionTarget`` with the chosen overload
==============================  ==========================================

Some names have no node of their own (the service after ``GET``, the flow
after ``call``, a loop's index variable, a method name): their spans are
found in the source text, right after a position the tree does record.
Every target carries ``span``, the extent of the name under the cursor.
"""

from __future__ import annotations

import re
from typing import Final, TypeAlias

import attrs

from flowc.common.types import Type
from flowc.compiler import ast
from flowc.compiler.scope import Symbol
from flowc.compiler.symbols import FlowInfo, ServiceInfo
from flowc.lsp.analysis import Snapshot
from flowc.lsp.positions import LineIndex

SERVICE_AFTER_METHOD: Final = re.compile(r"[A-Z]+\s+([A-Za-z_]\w*)")
CALLED_FLOW: Final = re.compile(r"call\s+(?:([A-Za-z_]\w*)\s*\.\s*)?([A-Za-z_]\w*)")
LOOP_VARIABLES: Final = re.compile(r"for\s+([A-Za-z_]\w*)\s*(?:,\s*([A-Za-z_]\w*))?")
IDENTIFIER: Final = re.compile(r"[A-Za-z_]\w*")


@attrs.frozen
class SymbolTarget:
    span: ast.Span
    symbol: Symbol


@attrs.frozen
class StepTarget:
    span: ast.Span
    step: ast.StepStmt
    symbol: Symbol | None


@attrs.frozen
class ServiceTarget:
    span: ast.Span
    service: ServiceInfo


@attrs.frozen
class FlowTarget:
    span: ast.Span
    flow: FlowInfo


@attrs.frozen
class TypeTarget:
    span: ast.Span
    name: str
    decl: ast.TypeDecl | None


@attrs.frozen
class FieldTarget:
    span: ast.Span
    select: ast.Select
    type: Type | None
    operand: Type | None


@attrs.frozen
class ImportTarget:
    span: ast.Span
    decl: ast.ImportDecl
    path: str | None


@attrs.frozen
class FunctionTarget:
    span: ast.Span
    call: ast.Call
    signature: str | None


Target: TypeAlias = (
    SymbolTarget
    | StepTarget
    | ServiceTarget
    | FlowTarget
    | TypeTarget
    | FieldTarget
    | ImportTarget
    | FunctionTarget
)


def has_span(node: ast.Node) -> bool:
    return node.span.line > 0


def covers(node: ast.Node, line: int, col: int) -> bool:
    """Whether ``node`` holds the position (an ``if`` arm's span is only its header)."""
    if not has_span(node):
        return False
    if node.span.contains(line, col):
        return True
    return isinstance(node, ast.IfArm) and any(covers(s, line, col) for s in node.body)


def node_path(root: ast.Node, line: int, col: int) -> list[ast.Node]:
    """The chain from ``root`` to the innermost node containing (line, col)."""
    path = [root]
    node = root
    while True:
        for child in ast.iter_children(node):
            if covers(child, line, col):
                path.append(child)
                node = child
                break
        else:
            return path


class Resolver:
    """Finds the target at a position of a snapshot's root file."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.info = snapshot.compilation.result.info
        self.index = snapshot.index

    def resolve(self, line: int, col: int) -> Target | None:
        module = self.snapshot.module
        if module is None:
            return None
        path = node_path(module, line, col)
        for position in range(len(path) - 1, 0, -1):
            found = self._target(path[position], path[position - 1], line, col)
            if found is not None:
                return found
        return None

    # ----------------------------------------------------------- per node kind

    def _target(self, node: ast.Node, parent: ast.Node, line: int, col: int) -> Target | None:
        handler = getattr(self, "_on_" + type(node).__name__, None)
        if handler is None:
            return None
        found: Target | None = handler(node, parent, line, col)
        return found

    def _on_Name(self, node: ast.Name, parent: ast.Node, line: int, col: int) -> Target | None:
        symbol = self.info.references.get(id(node))
        return self.symbol_target(node.span, symbol) if symbol is not None else None

    def _on_Select(self, node: ast.Select, parent: ast.Node, line: int, col: int) -> Target | None:
        span = node.span
        field = ast.Span(
            span.file, span.end_line, span.end_col - len(node.field), span.end_line, span.end_col
        )
        if not field.contains(line, col):
            return None
        symbol = self.info.references.get(id(node))
        if symbol is not None:
            return self.symbol_target(field, symbol)
        return FieldTarget(
            field,
            node,
            self.info.expr_types.get(id(node)),
            self.info.expr_types.get(id(node.operand)),
        )

    def _on_Call(self, node: ast.Call, parent: ast.Node, line: int, col: int) -> Target | None:
        name = self.name_after(node.target.span if node.target else None, node.span, node.func)
        if name is None or not name.contains(line, col):
            return None
        overload = self.info.overloads.get(id(node))
        return FunctionTarget(name, node, overload.signature() if overload is not None else None)

    def _on_StepStmt(
        self, node: ast.StepStmt, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        if node.name_span.contains(line, col):
            return StepTarget(node.name_span, node, self.snapshot.symbol_named(node, node.name))
        return None

    def _on_HttpAction(
        self, node: ast.HttpAction, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        start = self.index.span_offsets(node.span)[0]
        text = self.index.text
        method = ast.Span(
            node.span.file,
            node.span.line,
            node.span.col,
            node.span.line,
            node.span.col + len(node.method),
        )
        if method.contains(line, col) and isinstance(parent, ast.StepStmt):
            return StepTarget(method, parent, self.snapshot.symbol_named(parent, parent.name))
        match = SERVICE_AFTER_METHOD.match(text, start)
        service = self.info.step_targets.get(id(node))
        if match is None or node.service is None or not isinstance(service, ServiceInfo):
            return None
        span = self.span_of(match.start(1), match.end(1))
        return ServiceTarget(span, service) if span.contains(line, col) else None

    def _on_CallAction(
        self, node: ast.CallAction, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        start = self.index.span_offsets(node.span)[0]
        match = CALLED_FLOW.match(self.index.text, start)
        if match is None:
            return None
        if match.group(1) is not None:
            alias_span = self.span_of(match.start(1), match.end(1))
            alias = self.alias_symbol(match.group(1))
            if alias is not None and alias_span.contains(line, col):
                return SymbolTarget(alias_span, alias)
        flow = self.info.step_targets.get(id(node))
        span = self.span_of(match.start(2), match.end(2))
        if isinstance(flow, FlowInfo) and span.contains(line, col):
            return FlowTarget(span, flow)
        return None

    def _on_Arg(self, node: ast.Arg, parent: ast.Node, line: int, col: int) -> Target | None:
        if node.name is None or not isinstance(parent, ast.CallAction):
            return None
        span = ast.Span(
            node.span.file,
            node.span.line,
            node.span.col,
            node.span.line,
            node.span.col + len(node.name),
        )
        flow = self.info.step_targets.get(id(parent))
        if not span.contains(line, col) or not isinstance(flow, FlowInfo):
            return None
        for param in flow.decl.params:
            if param.name == node.name:
                symbol = self.snapshot.symbol_named(param, param.name)
                return SymbolTarget(span, symbol) if symbol is not None else None
        return None

    def _on_LetStmt(
        self, node: ast.LetStmt, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        return self.declared(node, node.name_span, node.name, line, col)

    def _on_Param(self, node: ast.Param, parent: ast.Node, line: int, col: int) -> Target | None:
        return self.declared(node, node.name_span, node.name, line, col)

    def _on_ConstDecl(
        self, node: ast.ConstDecl, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        return self.declared(node, node.name_span, node.name, line, col)

    def _on_ForLoop(
        self, node: ast.ForLoop, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        for name, span in loop_variable_spans(node, self.index).items():
            if span.contains(line, col):
                symbol = self.snapshot.symbol_named(node, name)
                return SymbolTarget(span, symbol) if symbol is not None else None
        return None

    def _on_CatchClause(
        self, node: ast.CatchClause, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        symbol = self.info.error_symbols.get(id(node))
        if node.name is None or symbol is None or not node.name_span.contains(line, col):
            return None
        return SymbolTarget(node.name_span, symbol)

    def _on_AssignStmt(
        self, node: ast.AssignStmt, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        span = ast.Span(
            node.span.file,
            node.span.line,
            node.span.col,
            node.span.line,
            node.span.col + len(node.name),
        )
        symbol = self.info.references.get(id(node))
        if symbol is None or not span.contains(line, col):
            return None
        return self.symbol_target(span, symbol)

    def _on_TypeName(
        self, node: ast.TypeName, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        return TypeTarget(node.span, node.name, self.info.type_references.get(id(node)))

    def _on_TypeDecl(
        self, node: ast.TypeDecl, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        if node.name_span.contains(line, col):
            return TypeTarget(node.name_span, node.name, node)
        return None

    def _on_FlowDecl(
        self, node: ast.FlowDecl, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        symbols = self.snapshot.symbols
        flow = symbols.flows.get(node.name) if symbols is not None else None
        if flow is not None and flow.decl is node and node.name_span.contains(line, col):
            return FlowTarget(node.name_span, flow)
        return None

    def _on_ServiceDecl(
        self, node: ast.ServiceDecl, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        symbols = self.snapshot.symbols
        service = symbols.services.get(node.name) if symbols is not None else None
        if service is not None and service.decl is node and node.name_span.contains(line, col):
            return ServiceTarget(node.name_span, service)
        return None

    def _on_ImportDecl(
        self, node: ast.ImportDecl, parent: ast.Node, line: int, col: int
    ) -> Target | None:
        if node.alias is not None and node.name_span.contains(line, col):
            alias = self.alias_symbol(node.alias)
            return SymbolTarget(node.name_span, alias) if alias is not None else None
        loaded = self.snapshot.loaded
        target = loaded.imports.get(id(node)) if loaded is not None else None
        return ImportTarget(node.span, node, target)

    # ----------------------------------------------------------- helpers

    def symbol_target(self, span: ast.Span, symbol: Symbol) -> Target:
        if symbol.kind == "step" and isinstance(symbol.node, ast.StepStmt):
            return StepTarget(span, symbol.node, symbol)
        return SymbolTarget(span, symbol)

    def declared(
        self, node: ast.Node, name_span: ast.Span, name: str, line: int, col: int
    ) -> Target | None:
        if not name_span.contains(line, col):
            return None
        symbol = self.snapshot.symbol_named(node, name)
        return SymbolTarget(name_span, symbol) if symbol is not None else None

    def alias_symbol(self, alias: str) -> Symbol | None:
        symbols = self.snapshot.symbols
        entry = symbols.aliases.get(alias) if symbols is not None else None
        return entry.symbol if entry is not None else None

    def span_of(self, start: int, end: int) -> ast.Span:
        """A span of the root file from two offsets."""
        line, col = self.index.line_col(start)
        end_line, end_col = self.index.line_col(end)
        return ast.Span(
            self.snapshot.module_file, line + 1, col + 1, end_line + 1, end_col + 1, start, end
        )

    def name_after(self, before: ast.Span | None, whole: ast.Span, name: str) -> ast.Span | None:
        """Where ``name`` is written: after ``before`` (a receiver) or at ``whole``'s start."""
        text = self.index.text
        start = (
            self.index.span_offsets(before)[1]
            if before is not None
            else self.index.span_offsets(whole)[0]
        )
        match = IDENTIFIER.search(text, start)
        if match is None or match.group().lstrip(".") != name.lstrip("."):
            return None
        return self.span_of(match.start(), match.end())


def loop_variable_spans(loop: ast.ForLoop, index: LineIndex) -> dict[str, ast.Span]:
    """The spans of a ``for`` loop's variables (the tree records only the last one)."""
    spans = {loop.var: loop.name_span}
    if loop.index_var is None:
        return spans
    start = index.span_offsets(loop.span)[0]
    match = LOOP_VARIABLES.match(index.text, start)
    if match is not None and match.group(2) is not None:
        line, col = index.line_col(match.start(1))
        spans[loop.index_var] = ast.Span(
            loop.span.file,
            line + 1,
            col + 1,
            line + 1,
            col + 1 + len(loop.index_var),
            match.start(1),
            match.end(1),
        )
    return spans
