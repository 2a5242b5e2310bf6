"""The step-list form: a flow definition (JSON/YAML data) to the `.flow` AST.

The document (``docs/definitions.md``) is one flow: ``name``, ``input``, ``steps``,
``output`` and the declarations it needs (``imports``, ``types``, ``services``).
Each step becomes the statement a `.flow` author would write:

=========  ===========================================================
step type  statement
=========  ===========================================================
http       ``step ID = METHOD [service] URL -> T { clauses }``
call       ``step ID = call flow(args) { clauses }``
parallel   ``parallel { ... }``: a step per branch, or ``branch { }``
foreach    ``for as in items { ... }``; with ``id``, ``let ID = for ...``
           whose body ends with ``yield OUTPUT``
switch     ``if ... else if ... else ...``
sleep      ``sleep D``
set        ``let ID = V`` (``var`` when ``mutable``), or ``NAME = V``
fail       ``fail V``
return     ``return V`` (the document's ``output`` is a last ``return``)
log        ``log V``
assert     ``assert C, M``
wait       not yet: E0507 (the language has no ``wait signal``)
=========  ===========================================================

and every step may carry ``condition`` (an ``if`` around it), ``timeout`` (a
``timeout`` block around it: the whole step, retries included) and, when it is
not an http or call step, ``retry`` (a ``retry`` block around it), nested in
that order: ``if { timeout { retry { step } } }``.

Names.  ``input.NAME`` is the flow's parameter ``NAME``, and ``ID.response`` of
an http or call step is its ``body``: both are rewritten so that the tree is the
one the `.flow` source would give.  Without an ``input`` section, each
``input.NAME`` read is a ``json`` parameter, in the order first read.

Clauses come in a fixed order, the request's first (as its keys are written) and
then the step's, so a `.flow` step's clauses may come back reordered after a
round trip; their order has no meaning.

``read_steplist`` returns the module, or None with the diagnostics when the
structure is wrong (``steplist_values`` says how structure is checked).  This
module reads the document and its declarations; ``steplist_steps`` the steps and
the names they use; ``steplist_values`` the values and settings.
"""

from __future__ import annotations

from flowc.compiler import ast, messages
from flowc.compiler.definitions.document import Document, Mapping, Node, Scalar, Sequence
from flowc.compiler.definitions.steplist_steps import (
    BLOCK_RETRY_STEPS,
    SERVICE_CLAUSE_READERS,
    STEP_TYPES,
    VALUED_STEPS,
    StepReader,
)
from flowc.compiler.diagnostics import Diagnostic


class StepListReader(StepReader):
    """Translates one step-list document; see the module docstring."""

    # ------------------------------------------------------------------ the document

    def read(self) -> ast.Module | None:
        root = self.mapping(self.document.root, "document")
        if root is None:
            return None
        for key in self.document.duplicate_keys:
            self.diagnostics.append(
                messages.DEFINITION_DUPLICATE_KEY(self.span(key), key=str(key.value))
            )
        self._collect_step_ids(root.get("steps"))
        decls: list[ast.Decl] = [*self.imports(root.get("imports")), *self.types(root.get("types"))]
        decls += self.constants(root.get("constants"))
        decls += self.services(root.get("services"))
        flow = self.flow(root)
        if flow is None or self.problems or any(d.is_error for d in self.diagnostics):
            return None
        decls.append(flow)
        return ast.Module(tuple(decls), span=self.span(root))

    def _collect_step_ids(self, node: Node | None) -> None:
        """The ids of every http and call step, however deeply nested."""
        if isinstance(node, Sequence):
            for item in node.items:
                self._collect_step_ids(item)
        elif isinstance(node, Mapping):
            kind, ident = node.get("type"), node.get("id")
            if (
                isinstance(kind, Scalar)
                and kind.value in VALUED_STEPS
                and isinstance(ident, Scalar)
                and isinstance(ident.value, str)
            ):
                self.step_ids.add(ident.value)
            for key in ("steps", "branches", "cases", "default", "compensate"):
                self._collect_step_ids(node.get(key))

    def imports(self, node: Node | None) -> list[ast.Decl]:
        items = self.sequence(node)
        decls: list[ast.Decl] = []
        for item in items.items if items else ():
            if isinstance(item, Scalar) and isinstance(item.value, str):
                decls.append(ast.ImportDecl(item.value, span=self.span(item)))
                continue
            entry = self.mapping(item, "import")
            if entry is None:
                continue
            path = self.text(entry.get("path"))
            alias = self.name(entry.get("as"), "module")
            if path is not None:
                alias_text = None if alias is None else str(alias.value)
                span = self.span(entry)
                decls.append(ast.ImportDecl(str(path.value), alias_text, span=span))
        return decls

    def types(self, node: Node | None) -> list[ast.Decl]:
        mapping = self.mapping(node)
        decls: list[ast.Decl] = []
        for key, value in mapping.entries if mapping else ():
            self.name(key, "type")
            type_expr = self.type_expr(value)
            if type_expr is not None:
                span = self.document.span_between(key, value)
                decl = ast.TypeDecl(str(key.value), type_expr, span=span, name_span=self.span(key))
                decls.append(decl)
        return decls

    def constants(self, node: Node | None) -> list[ast.Decl]:
        mapping = self.mapping(node)
        decls: list[ast.Decl] = []
        for key, value in mapping.entries if mapping else ():
            self.name(key, "constant")
            span = self.document.span_between(key, value)
            decl = ast.ConstDecl(
                str(key.value), self.value(value), span=span, name_span=self.span(key)
            )
            decls.append(decl)
        return decls

    def services(self, node: Node | None) -> list[ast.Decl]:
        mapping = self.mapping(node)
        decls: list[ast.Decl] = []
        for key, value in mapping.entries if mapping else ():
            self.name(key, "service")
            service = self.mapping(value, "service")
            if service is None:
                continue
            base_url = self.string_value(service.get("url"))
            clauses = self.clauses(service, SERVICE_CLAUSE_READERS)
            if base_url is not None:
                span = self.document.span_between(key, value)
                name_span = self.span(key)
                decls.append(
                    ast.ServiceDecl(
                        str(key.value), base_url, clauses=clauses, span=span, name_span=name_span
                    )
                )
        return decls

    def flow(self, root: Mapping) -> ast.FlowDecl | None:
        name = self.name(root.get("name"), "flow")
        params = self.declared_params(root.get("input"))
        body = list(self.steps(root.get("steps")))
        output = root.get("output")
        if output is not None:
            output_key = root.key("output")
            assert output_key is not None
            span = self.document.span_between(output_key, output)
            body.append(ast.ReturnStmt(self.value(output), span=span))
        if params is None:
            params = [
                ast.Param(name, ast.TypeName("json", span=span), span=span, name_span=span)
                for name, span in self.inferred_inputs.items()
            ]
        result = self.type_expr(root.get("output_type"))
        clauses: tuple[ast.Clause, ...] = ()
        timeout_key, timeout = root.key("timeout"), root.get("timeout")
        if timeout_key is not None and timeout is not None:
            clause = self.value_clause("timeout", timeout_key, timeout, self.duration(timeout))
            clauses = (clause,) if clause is not None else ()
        name_key = root.key("name")
        if name is None or name_key is None:
            return None
        return ast.FlowDecl(
            str(name.value),
            tuple(params),
            tuple(body),
            result,
            clauses,
            span=self.document.span_between(name_key, root),
            name_span=self.span(name),
        )

    def declared_params(self, node: Node | None) -> list[ast.Param] | None:
        if node is None:
            return None
        mapping = self.mapping(node)
        if mapping is None:
            return []
        self.declared_inputs = {str(key.value) for key, _ in mapping.entries}
        params = []
        for key, value in mapping.entries:
            self.name(key, "input")
            span = self.document.span_between(key, value)
            type_node: Node | None = value
            default = None
            if isinstance(value, Mapping):
                spec = self.mapping(value, "input_object")
                type_node = spec.get("type") if spec else None
                default_node = spec.get("default") if spec else None
                default = None if default_node is None else self.value(default_node)
            type_expr = (
                self.type_expr(type_node)
                if type_node is not None
                else ast.TypeName("json", span=span)
            )
            if type_expr is not None:
                param = ast.Param(
                    str(key.value), type_expr, default, span=span, name_span=self.span(key)
                )
                params.append(param)
        return params


def read_steplist(
    document: Document,
) -> tuple[ast.Module | None, list[Diagnostic], list[Diagnostic]]:
    """The module of a step-list document, its diagnostics, and the structural problems
    the translator saw (shown only when schema validation finds none)."""
    reader = StepListReader(document)
    module = reader.read()
    return module, reader.diagnostics + reader.scope_errors, reader.problems


__all__ = ["BLOCK_RETRY_STEPS", "STEP_TYPES", "StepListReader", "read_steplist"]
