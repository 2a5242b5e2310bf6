"""Which names are in scope at a position of a flow.

The checker's scopes are gone once it has run, so this module re-derives the
part completion needs from the syntax tree and the symbols the checker
recorded, following the same rules as ``stmtcheck.FlowChecker``:

* a flow's parameters are visible in its whole body;
* in a block, a statement that *ends before* the position contributes its
  bindings (``let``/``var``/``step``); one that *starts after* it is not
  considered (names declared later are not in scope); the statement that
  contains the position is entered;
* ``parallel`` branches, ``retry`` and ``timeout`` blocks are transparent:
  the bindings inside a finished one are visible after it, as the checker
  exports them; ``if``, loop and ``try`` bodies are not;
* entering a ``for`` body adds the loop variables; a ``catch`` block adds
  its variable (``error`` when unnamed); a ``retry ... when`` condition adds
  ``error``; a step's ``compensate`` block sees the step itself; a macro's
  variable (``xs.map(x, ...)``) is visible in the macro's later arguments.

Which block of a ``try`` the position is in is decided from the source text
(the tree keeps the statements of each block, but an empty block has no
position): the ``catch`` and ``finally`` words at the statement's own brace
depth separate them.

Module-level names — constants (own and star-imported), import aliases and
the built-ins — come from the module's ``ModuleSymbols``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

import attrs

from flowc.compiler import ast
from flowc.compiler.exprcheck import MACROS, TWO_VAR_MACROS
from flowc.compiler.scope import Symbol
from flowc.compiler.symbols import ModuleSymbols
from flowc.lsp.analysis import Snapshot
from flowc.lsp.chunks import string_regions_pattern
from flowc.lsp.locate import loop_variable_spans

Point = tuple[int, int]  # 1-based line and column

BLOCK_WORDS: Final = re.compile(r"[{}]|\b(?:catch|finally|else)\b")


@attrs.frozen
class Binding:
    """A name in scope: what it is called, and the symbol the checker made for it."""

    name: str
    kind: str  # param let var step loop catch macro const module builtin
    symbol: Symbol | None


def start_of(span: ast.Span) -> Point:
    return span.line, span.col


def end_of(span: ast.Span) -> Point:
    return span.end_line, span.end_col


def enclosing_flow(module: ast.Module, point: Point) -> ast.FlowDecl | None:
    for decl in module.decls:
        if isinstance(decl, ast.FlowDecl) and start_of(decl.span) < point <= end_of(decl.span):
            return decl
    return None


class ScopeWalker:
    """Collects the bindings visible at ``point`` inside one flow."""

    def __init__(self, snapshot: Snapshot, point: Point) -> None:
        self.snapshot = snapshot
        self.info = snapshot.compilation.result.info
        self.point = point
        self.found: dict[str, Binding] = {}

    # ----------------------------------------------------------- entry

    def flow(self, flow: ast.FlowDecl) -> dict[str, Binding]:
        for param in flow.params:
            self.add(param.name, "param", param)
        self.block(flow.body)
        self.macro_variables(flow)
        return self.found

    def add(self, name: str, kind: str, node: ast.Node) -> None:
        self.found[name] = Binding(name, kind, self.snapshot.symbol_named(node, name))

    def add_symbol(self, symbol: Symbol | None, name: str) -> None:
        if symbol is not None:
            self.found[name] = Binding(name, symbol.kind, symbol)

    def inside(self, span: ast.Span) -> bool:
        return start_of(span) < self.point <= end_of(span)

    # ----------------------------------------------------------- blocks

    def block(self, stmts: tuple[ast.Stmt, ...]) -> None:
        for stmt in stmts:
            if start_of(stmt.span) >= self.point:
                return
            if end_of(stmt.span) < self.point:
                self.exported(stmt)
                continue
            self.enter(stmt)
            return

    def exported(self, stmt: ast.Stmt) -> None:
        """The bindings a finished statement leaves in scope."""
        if isinstance(stmt, ast.LetStmt):
            self.add(stmt.name, "var" if stmt.mutable else "let", stmt)
        elif isinstance(stmt, ast.StepStmt):
            self.add(stmt.name, "step", stmt)
        elif isinstance(stmt, ast.ParallelStmt):
            for branch in stmt.branches:
                for inner in branch.body:
                    self.exported(inner)
        elif isinstance(stmt, ast.RetryStmt | ast.TimeoutStmt):
            for inner in stmt.body:
                self.exported(inner)

    def enter(self, stmt: ast.Stmt) -> None:
        handler = getattr(self, "_enter_" + type(stmt).__name__, None)
        if handler is not None:
            handler(stmt)

    def value(self, value: ast.Value | None) -> None:
        if isinstance(value, ast.ForLoop | ast.WhileLoop) and self.inside(value.span):
            self.loop(value)

    def _enter_LetStmt(self, stmt: ast.LetStmt) -> None:
        self.value(stmt.value)

    def _enter_AssignStmt(self, stmt: ast.AssignStmt) -> None:
        self.value(stmt.value)

    def _enter_ReturnStmt(self, stmt: ast.ReturnStmt) -> None:
        self.value(stmt.value)

    def _enter_LoopStmt(self, stmt: ast.LoopStmt) -> None:
        self.loop(stmt.loop)

    def loop(self, loop: ast.Loop) -> None:
        if isinstance(loop, ast.ForLoop):
            if end_of(loop.iterable.span) >= self.point:
                return
            for name in loop_variable_spans(loop, self.snapshot.index):
                self.add(name, "loop", loop)
        self.block(loop.body)

    def _enter_StepStmt(self, stmt: ast.StepStmt) -> None:
        for clause in stmt.clauses:
            if not self.inside(clause.span):
                continue
            if isinstance(clause, ast.CompensateClause):
                self.add(stmt.name, "step", stmt)
                self.block(clause.body)
            elif isinstance(clause, ast.RetryClause):
                self.retry_policy(clause.policy)

    def retry_policy(self, policy: ast.RetryPolicy) -> None:
        when = policy.when
        if when is not None and start_of(when.span) <= self.point <= end_of(when.span):
            self.add_symbol(self.info.error_symbols.get(id(policy)), "error")

    def _enter_IfStmt(self, stmt: ast.IfStmt) -> None:
        region = len(self.words_before(stmt, "else"))
        if region < len(stmt.arms):
            arm = stmt.arms[region]
            if end_of(arm.span) < self.point:
                self.block(arm.body)
        elif stmt.orelse is not None:
            self.block(stmt.orelse)

    def _enter_ParallelStmt(self, stmt: ast.ParallelStmt) -> None:
        for branch in stmt.branches:
            if self.inside(branch.span):
                self.block(branch.body)
                return

    def _enter_RetryStmt(self, stmt: ast.RetryStmt) -> None:
        if self.inside(stmt.policy.span):
            self.retry_policy(stmt.policy)
        else:
            self.block(stmt.body)

    def _enter_TimeoutStmt(self, stmt: ast.TimeoutStmt) -> None:
        self.block(stmt.body)

    def _enter_TryStmt(self, stmt: ast.TryStmt) -> None:
        words = self.words_before(stmt, "catch", "finally")
        region = words[-1] if words else "try"
        catches = words.count("catch")
        if region == "catch" and 0 < catches <= len(stmt.catches):
            clause = stmt.catches[catches - 1]
            self.add_symbol(self.info.error_symbols.get(id(clause)), clause.name or "error")
            self.block(clause.body)
        elif region == "finally" and stmt.finally_body is not None:
            self.block(stmt.finally_body)
        else:
            self.block(stmt.body)

    def words_before(self, stmt: ast.Stmt, *wanted: str) -> list[str]:
        """``wanted`` words at the statement's own brace depth, before the position.

        They tell which block of an ``if`` (each ``else``) or a ``try`` (``catch``,
        ``finally``) the position is in.
        """
        index = self.snapshot.index
        start, end = index.span_offsets(stmt.span)
        cursor = index.offset(self.point[0] - 1, self.point[1] - 1)
        return [w for w in top_level_words(index.text, start, min(end, cursor)) if w in wanted]

    # ----------------------------------------------------------- macros

    def macro_variables(self, flow: ast.FlowDecl) -> None:
        for node in ast.walk(flow):
            if not isinstance(node, ast.Call) or node.target is None:
                continue
            if not self.inside(node.span):
                continue
            count = 2 if node.func in TWO_VAR_MACROS and len(node.args) >= 3 else 1
            if node.func not in MACROS and count == 1:
                continue
            variables = node.args[:count]
            if not variables or not all(isinstance(v, ast.Name) for v in variables):
                continue
            if end_of(variables[-1].span) < self.point:
                for variable in variables:
                    assert isinstance(variable, ast.Name)
                    self.add_symbol(self.info.references.get(id(variable)), variable.id)


def top_level_words(text: str, start: int, end: int) -> Iterator[str]:
    """``else``/``catch``/``finally`` at brace depth 0 in ``text[start:end]``, outside strings."""
    skipped = [m.span() for m in string_regions_pattern().finditer(text, start, end)]
    depth = 0
    for match in BLOCK_WORDS.finditer(text, start, end):
        position = match.start()
        if any(a <= position < b for a, b in skipped):
            continue
        word = match.group()
        if word == "{":
            depth += 1
        elif word == "}":
            depth -= 1
        elif depth == 0:
            yield word


def module_bindings(symbols: ModuleSymbols | None) -> dict[str, Binding]:
    """Constants (own and star-imported), import aliases and built-in values."""
    found: dict[str, Binding] = {}
    if symbols is None:
        return found
    for name, symbol in symbols.builtins.items():
        found[name] = Binding(name, "builtin", symbol)
    for entry in symbols.imports:
        if entry.symbol is None:
            for name, symbol in entry.target.consts.items():
                found[name] = Binding(name, "const", symbol)
    for alias, entry in symbols.aliases.items():
        found[alias] = Binding(alias, "module", entry.symbol)
    for name, symbol in symbols.consts.items():
        found[name] = Binding(name, "const", symbol)
    return found


def bindings_at(snapshot: Snapshot, point: Point) -> dict[str, Binding]:
    """Every name in scope at ``point`` of the snapshot's root file, innermost last."""
    found = module_bindings(snapshot.symbols)
    module = snapshot.module
    flow = enclosing_flow(module, point) if module is not None else None
    if flow is not None:
        found.update(ScopeWalker(snapshot, point).flow(flow))
    return found
