"""Converting a root file between `.flow` source and the step-list form, through the AST.

``convert(file, text, target)`` reads ``text`` (a `.flow` file, or a JSON or YAML
definition, by the name of ``file``) into its AST and writes that AST as
``target``: ``flow`` (canonical `.flow` source), ``yaml`` or ``json``.  Nothing
is checked beyond what reading needs (imports are not followed): a conversion
changes the notation, not the program.  What the target cannot hold is reported
(``steplist_print``) and nothing is written.

A definition's ``description`` is not part of the AST; it travels as the comment
lines right above the `flow` declaration in `.flow` source, and those comments
become the ``description`` when converting the other way.
"""

from __future__ import annotations

from typing import Final, Literal

from flowc.compiler import ast, messages
from flowc.compiler.definitions import definition_kind, read_definition
from flowc.compiler.diagnostics import Diagnostic

Target = Literal["flow", "yaml", "json"]
TARGETS: Final = ("flow", "yaml", "json")


def convert(file: str, text: str, target: Target) -> tuple[str | None, list[Diagnostic]]:
    """``text`` written as ``target``, or None and the diagnostics that prevent it."""
    module, description, diagnostics = read_root(file, text)
    if module is None:
        return None, diagnostics
    if target == "flow":
        if definition_kind(file) is None:
            from flowc.compiler.formatter import format_source

            return format_source(text, file), []
        return flow_source(module, description), []
    from flowc.compiler.definitions.emit import to_json, to_yaml
    from flowc.compiler.definitions.steplist_print import print_steplist

    data, problems = print_steplist(module, description)
    if data is None:
        return None, problems
    return (to_json(data) if target == "json" else to_yaml(data)), []


def read_root(file: str, text: str) -> tuple[ast.Module | None, str | None, list[Diagnostic]]:
    """The module of one file, its description, and the diagnostics of reading it."""
    if definition_kind(file) is not None:
        module, diagnostics = read_definition(file, text)
        errors = [d for d in diagnostics if d.is_error]
        if isinstance(module, ast.WorkflowModule):
            return None, None, [messages.SW_NOT_CONVERTIBLE(module.span)]
        return (module if not errors else None), _definition_description(file, text), errors
    from flowc.compiler.loader import ParseCache

    module, failure = ParseCache().parse_uncached(file, text)
    if module is None:
        return None, None, [failure] if failure is not None else []
    return module, _comment_description(module), []


def _definition_description(file: str, text: str) -> str | None:
    from flowc.compiler.definitions.document import Mapping, Scalar, read_document

    kind = definition_kind(file) or "json"
    root = read_document(kind, file, text).root
    found = root.get("description") if isinstance(root, Mapping) else None
    if isinstance(found, Scalar) and isinstance(found.value, str):
        return found.value.rstrip("\n")
    return None


def _comment_description(module: ast.Module) -> str | None:
    """The comment lines right above the (first) flow declaration, as text."""
    flow = next((d for d in module.decls if isinstance(d, ast.FlowDecl)), None)
    if flow is None:
        return None
    by_line = {c.span.line: c.text for c in module.comments}
    lines = []
    line = flow.span.line - 1
    while line in by_line:
        lines.append(by_line[line])
        line -= 1
    if not lines:
        return None
    return "\n".join(_uncomment(text) for text in reversed(lines))


def _uncomment(text: str) -> str:
    body = text[1:] if text.startswith("#") else text
    return body[1:] if body.startswith(" ") else body


def flow_source(module: ast.Module, description: str | None) -> str:
    """Canonical `.flow` source of ``module``, ``description`` as comments above the flow."""
    from flowc.compiler.printer import print_module

    source = print_module(module)
    if not description:
        return source
    comments = "".join(f"# {line}".rstrip() + "\n" for line in description.splitlines())
    lines = source.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("flow "):
            return "".join([*lines[:index], comments, *lines[index:]])
    return comments + source
