"""Hover: what a name means, as Markdown with a ```flow code block.

``hover_markdown`` renders the ``locate`` target under the cursor:

* a binding — its kind, name and type, as the user would declare it:
  ``let user: User``, ``param limit: int``, ``const PAGE_SIZE: int``,
  ``loop item: string``, ``catch err: Error``;
* a step (its name, or a reference to it) — the step's header, its value
  type (the ``Step`` record spelled out, ``body`` included), and for an HTTP
  step its method, service and path, for a ``call`` step the called flow;
* a service — its header and base URL expression, then each setting
  (timeout, retry, circuit breaker, rate limit, concurrency, headers, auth)
  as written, on one line each;
* a type name — its definition; a field after ``.`` — the field's type and
  the record it belongs to; a flow — its signature; a function — the
  overload the checker chose; an import — the file it resolves to.

Source excerpts (a path expression, a clause) are sliced from the file that
declares them and collapsed onto one line, shortened when long.
"""

from __future__ import annotations

import os
from typing import Final

from flowc.common.types import RecordT, Type
from flowc.compiler import ast
from flowc.compiler.scope import Symbol
from flowc.compiler.symbols import FlowInfo, ServiceInfo
from flowc.lsp.analysis import Snapshot
from flowc.lsp.locate import (
    FieldTarget,
    FlowTarget,
    FunctionTarget,
    ImportTarget,
    ServiceTarget,
    StepTarget,
    SymbolTarget,
    Target,
    TypeTarget,
)

MAX_EXCERPT: Final = 120

KIND_WORDS: Final = {
    "param": "param",
    "let": "let",
    "var": "var",
    "step": "step",
    "loop": "loop",
    "catch": "catch",
    "macro": "macro",
    "const": "const",
    "builtin": "builtin",
}


def code(text: str) -> str:
    return f"```flow\n{text}\n```"


def service_target(snapshot: Snapshot, decl: ast.ServiceDecl) -> str:
    """What a service declaration says it talks to: its base URL or its document."""
    if decl.base_url is None:
        return f'openapi "{decl.openapi}"'
    return excerpt(snapshot, decl.base_url)


def excerpt(snapshot: Snapshot, node: ast.Node) -> str:
    """The source text of ``node`` on one line, shortened when long."""
    path = snapshot.path_of(node.span.file)
    index = snapshot.index_of(path)
    if index is None:
        return "…"
    text = " ".join(index.slice(node.span).split())
    return text if len(text) <= MAX_EXCERPT else text[: MAX_EXCERPT - 1] + "…"


def record_text(t: Type) -> str:
    """A record type with its fields spelled out even when it has a name."""
    if not isinstance(t, RecordT):
        return str(t)
    fields = ", ".join(f"{f.name}{'?' if f.optional else ''}: {f.type}" for f in t.fields)
    return "{" + fields + "}"


class HoverRenderer:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.info = snapshot.compilation.result.info

    def render(self, target: Target) -> str | None:
        if isinstance(target, StepTarget):
            return self.step(target.step)
        if isinstance(target, SymbolTarget):
            return self.symbol(target.symbol)
        if isinstance(target, ServiceTarget):
            return self.service(target.service)
        if isinstance(target, FlowTarget):
            return self.flow(target.flow)
        if isinstance(target, TypeTarget):
            return self.type(target)
        if isinstance(target, FieldTarget):
            return self.field(target)
        if isinstance(target, FunctionTarget):
            return self.function(target)
        return self.import_(target)

    # ----------------------------------------------------------- bindings

    def symbol(self, symbol: Symbol) -> str:
        if symbol.kind == "step" and isinstance(symbol.node, ast.StepStmt):
            return self.step(symbol.node)
        if symbol.kind == "module" and isinstance(symbol.node, ast.ImportDecl):
            return code(excerpt(self.snapshot, symbol.node)) + "\n\nan imported module"
        word = KIND_WORDS.get(symbol.kind, symbol.kind)
        text = code(f"{word} {symbol.name}: {symbol.type}")
        if symbol.kind == "const" and isinstance(symbol.node, ast.ConstDecl):
            text += f"\n\n`= {excerpt(self.snapshot, symbol.node.value)}`"
        elif symbol.kind == "param" and isinstance(symbol.node, ast.Param):
            default = symbol.node.default
            if default is not None:
                text += f"\n\ndefault: `{excerpt(self.snapshot, default)}`"
        return text

    # ----------------------------------------------------------- steps

    def step(self, step: ast.StepStmt) -> str:
        symbol = self.snapshot.symbol_named(step, step.name)
        body = self.info.step_body_types.get(id(step))
        header = f"step {step.name} = {excerpt(self.snapshot, step.action)}"
        if step.result_type is not None:
            header += f" -> {excerpt(self.snapshot, step.result_type)}"
        lines = [code(header)]
        if symbol is not None:
            lines.append(f"value: `{symbol.type}` — `{record_text(symbol.type)}`")
        action = step.action
        if isinstance(action, ast.HttpAction):
            service = f" · service: `{action.service}`" if action.service else ""
            path = excerpt(self.snapshot, action.target)
            lines.append(f"method: `{action.method}`{service} · path: `{path}`")
        else:
            called = self.info.step_targets.get(id(action))
            if isinstance(called, FlowInfo):
                lines.append(f"calls: `{self.signature(called)}`")
        if body is not None:
            lines.append(f"body: `{body}`")
        return "\n\n".join(lines)

    # ----------------------------------------------------------- services and flows

    def contract(self, service: ServiceInfo) -> str:
        """An OpenAPI service's document: title, version, operations, base URL."""
        found = service.contract
        if found is None:
            return f"document: `{service.decl.openapi}` (not loaded)"
        contract = found.contract
        title = contract.title or os.path.basename(found.document)
        lines = [
            f"OpenAPI {contract.version}: {title}, {len(contract.operations)} operations",
        ]
        if found.base_url is not None:
            lines.append(f"base URL: `{found.base_url}`")
        return "\n\n".join(lines)

    def service(self, service: ServiceInfo) -> str:
        decl = service.decl
        base = service_target(self.snapshot, decl)
        lines = [code(f"service {decl.name} {base}")]
        lines.append(f"base URL: `{base}`" if decl.base_url is not None else self.contract(service))
        settings = [f"- `{excerpt(self.snapshot, clause)}`" for clause in decl.clauses]
        if settings:
            lines.append("settings:\n" + "\n".join(settings))
        else:
            lines.append("settings: none (defaults apply)")
        lines.append(self.where(service.module.path))
        return "\n\n".join(line for line in lines if line)

    def signature(self, flow: FlowInfo) -> str:
        params = []
        for param in flow.params:
            text = f"{param.name}: {param.type}"
            if param.default is not None:
                text += f" = {excerpt(self.snapshot, param.default)}"
            params.append(text)
        result = flow.result if flow.result is not None else flow.declared_result
        arrow = f" -> {result}" if result is not None else ""
        return f"flow {flow.name}({', '.join(params)}){arrow}"

    def flow(self, flow: FlowInfo) -> str:
        return "\n\n".join(
            x for x in (code(self.signature(flow)), self.where(flow.module.path)) if x
        )

    def where(self, path: str) -> str:
        if path == self.snapshot.path:
            return ""
        return f"from `{os.path.relpath(path, os.path.dirname(self.snapshot.path))}`"

    # ----------------------------------------------------------- types, fields, functions

    def type(self, target: TypeTarget) -> str | None:
        if target.decl is None:
            from flowc.common.types import PRIMITIVES

            if target.name in PRIMITIVES:
                return code(target.name) + "\n\nbuilt-in type"
            return None
        text = code(excerpt(self.snapshot, target.decl))
        where = self.where(self.snapshot.path_of(target.decl.span.file))
        return text + (f"\n\n{where}" if where else "")

    def field(self, target: FieldTarget) -> str | None:
        if target.type is None:
            return None
        text = code(f"{target.select.field}: {target.type}")
        if target.operand is not None:
            text += f"\n\nfield of `{record_text(target.operand)}`"
        return text

    def function(self, target: FunctionTarget) -> str:
        if target.signature is not None:
            return code(target.signature) + "\n\nbuilt-in function"
        return code(f"{target.call.func}(...)") + "\n\nbuilt-in function"

    def import_(self, target: ImportTarget) -> str:
        text = code(excerpt(self.snapshot, target.decl))
        if target.path is None:
            return text + "\n\nthe file could not be loaded"
        return text + f"\n\nresolves to `{target.path}`"


def hover_markdown(snapshot: Snapshot, target: Target) -> str | None:
    return HoverRenderer(snapshot).render(target)
