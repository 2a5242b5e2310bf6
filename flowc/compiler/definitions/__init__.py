"""Flows written as data: JSON and YAML definitions read into the `.flow` AST, and back.

A root file whose name ends in ``.json``, ``.yaml`` or ``.yml`` is a *definition*
(``docs/definitions.md``).  The loader hands it to ``read_definition``, which
returns the same ``ast.Module`` a `.flow` file would give, so the checker,
lowering, runtime and journal treat both alike; only the spans point into the
JSON or YAML text.

The pieces, each reusable by other document kinds:

* ``document`` (+ ``yaml_reader``) — JSON and YAML read into a tree of nodes that
  know their offsets in the file;
* ``schema`` — validation of such a tree against a JSON Schema, each error with
  its JSON path and position;
* ``embedded`` — ``${...}`` strings to expressions whose spans point into the file;
* ``steplist`` (+ ``steplist_steps``, ``steplist_values``) — the step-list form to
  the AST, with the schema ``steplist.schema.json`` (printed by ``flowc schema``);
* ``serverless`` (+ ``serverless_jq``) — CNCF Serverless Workflow 1.0 documents
  (``document: {dsl: '1.0.x'}``), validated against the specification's schema and
  checked statically; the runtime interprets them;
* ``steplist_print`` (+ ``steplist_print_values``, ``emit``, ``convert``) — the AST
  back to the step-list form (``flowc convert``), reporting what it cannot hold.

ruamel.yaml and jsonschema are imported only when a definition is read (and
jsonschema only when its structure is wrong), so checking a `.flow` file never
pays for them.
"""

from __future__ import annotations

import gc
from typing import Final

from flowc.compiler import ast, messages
from flowc.compiler.definitions.document import DocumentError, DocumentKind, read_document
from flowc.compiler.diagnostics import Diagnostic

EXTENSIONS: Final[dict[str, DocumentKind]] = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}


def definition_kind(path: str) -> DocumentKind | None:
    """``json`` or ``yaml`` when ``path`` names a definition, else None."""
    for extension, kind in EXTENSIONS.items():
        if path.lower().endswith(extension):
            return kind
    return None


def schema_text() -> str:
    """The step-list JSON Schema, exactly as shipped."""
    from flowc.compiler.definitions.steplist_values import SCHEMA_PATH

    return SCHEMA_PATH.read_text(encoding="utf-8")


def read_definition(file: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """The module a definition stands for (None when it has errors) and its diagnostics.

    ``file`` is the name diagnostics show.  The collector is paused meanwhile, as the
    parser does: reading makes many small objects and keeps them all.
    """
    kind = definition_kind(file) or "json"
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read(kind, file, text)
    finally:
        if enabled:
            gc.enable()


def _read(kind: DocumentKind, file: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    from flowc.compiler.definitions.document import LineIndex
    from flowc.compiler.definitions.steplist import read_steplist

    try:
        document = read_document(kind, file, text)
    except DocumentError as error:
        span = LineIndex(text).span(file, error.start, max(error.end, error.start + 1))
        name = "JSON" if kind == "json" else "YAML"
        return None, [messages.DOCUMENT_SYNTAX(span, kind=name, problem=error.message)]
    from flowc.compiler.definitions.serverless import check_workflow, is_workflow

    if is_workflow(document.root):
        # A Serverless Workflow document: checked here, run by its own interpreter
        # (``flowc run`` sends it to ``flowc/runtime/serverless.py``); it declares
        # nothing another file could import, so its module is empty.
        found = check_workflow(document)
        return (None if found else ast.WorkflowModule((), span=document.span(document.root))), found
    module, diagnostics, problems = read_steplist(document)
    if problems:
        violations = schema_diagnostics(document)
        diagnostics = [*(violations or problems), *diagnostics]
    return module if not problems else None, diagnostics


def schema_diagnostics(document: object) -> list[Diagnostic]:
    """The step-list schema's violations by ``document``, as diagnostics."""
    from flowc.compiler.definitions.document import Document
    from flowc.compiler.definitions.schema import place, validate

    assert isinstance(document, Document)
    found = []
    for violation in validate(document, schema_text()):
        where = place(violation.path)
        if violation.kind == "unknown_key":
            found.append(
                messages.DEFINITION_UNKNOWN_KEY(
                    violation.span, key=violation.key, place=where, help=violation.help
                )
            )
        elif violation.kind == "missing_key":
            found.append(
                messages.DEFINITION_MISSING_KEY(violation.span, key=violation.key, place=where)
            )
        elif violation.kind == "wrong_value":
            found.append(
                messages.DEFINITION_WRONG_VALUE(
                    violation.span, place=where, expected=violation.expected, found=violation.found
                )
            )
        else:
            found.append(
                messages.DEFINITION_INVALID(violation.span, place=where, problem=violation.problem)
            )
    return found
