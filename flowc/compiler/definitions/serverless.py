"""Serverless Workflow 1.0 documents: recognised, validated, and checked statically.

A definition whose root has ``document: {dsl: '1.x.y'}`` is a CNCF Serverless
Workflow document (``docs/serverless-workflow.md``), not the step-list form.  It is
checked in two passes, both reporting every problem at once, positioned in the
JSON or YAML text:

1. against the specification's own JSON Schema (``serverless.schema.json``, the
   1.0.3 ``workflow.yaml`` converted to JSON, Apache-2.0, ``serverless.LICENSE``),
   with ``jsonschema-rs``: the schema is large (every task kind is a ``oneOf``
   branch with ``unevaluatedProperties``) and the pure-Python validator needs
   seconds for a 2,000-task document where jsonschema-rs needs milliseconds;
2. as far as static checking reaches: each task is a one-key mapping, task names
   are unique in their list, ``then`` names a task of the same list (or
   ``continue``, ``exit``, ``end``), ``use`` references (authentications, errors,
   retries, functions) exist, every jq expression parses (``serverless_jq``, one
   compile for the whole document), and tasks that flowc cannot run (``emit``,
   ``listen``, ``run: container|script|shell|workflow``, AsyncAPI, gRPC, OpenAPI, A2A, MCP,
   custom functions) are reported instead of failing at run time.

The runtime (``flowc/runtime/serverless*.py``) interprets the plain data of a
document that passed both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final

from flowc.compiler import messages
from flowc.compiler.definitions.document import Document, Mapping, Node, Scalar, Sequence
from flowc.compiler.definitions.schema import path_text
from flowc.compiler.diagnostics import Diagnostic

SCHEMA_PATH: Final = Path(__file__).with_name("serverless.schema.json")
FLOW_DIRECTIVES: Final = frozenset({"continue", "exit", "end"})
TASK_KINDS: Final = (
    "for", "try", "fork", "switch", "call", "do", "set", "raise", "wait", "run", "emit", "listen",
)  # fmt: skip
UNSUPPORTED_CALLS: Final = {
    "asyncapi": "an AsyncAPI call",
    "grpc": "a gRPC call",
    "openapi": "an OpenAPI call",
    "a2a": "an A2A call",
    "mcp": "an MCP call",
}
_EXPRESSION_KEYS: Final = {"if": None, "when": None, "while": None, "exceptWhen": None}
_PARENT_EXPRESSIONS: Final = {("input", "from"), ("output", "as"), ("export", "as"), ("for", "in")}


def is_workflow(root: Node) -> bool:
    """Whether a document's root is a Serverless Workflow 1.x document."""
    if not isinstance(root, Mapping):
        return False
    header = root.get("document")
    dsl = header.get("dsl") if isinstance(header, Mapping) else None
    return isinstance(dsl, Scalar) and isinstance(dsl.value, str) and dsl.value.startswith("1.")


@cache
def _validator() -> Any:
    import jsonschema_rs

    return jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def check_workflow(document: Document) -> list[Diagnostic]:
    """Every problem of a Serverless Workflow document: schema first, then static."""
    try:
        import jq  # noqa: F401
        import jsonschema_rs  # noqa: F401
    except ImportError as missing:
        span = document.span(document.root)
        install = "pip install 'flowc[serverless]'"
        return [messages.SW_NEEDS_PACKAGE(span, package=missing.name or "jq", install=install)]
    from flowc.compiler.definitions.document import to_plain

    violations = schema_diagnostics(document, to_plain(document.root))
    if violations:
        return violations
    checker = _Checker(document)
    checker.workflow()
    return sorted(checker.found, key=lambda d: (d.span.line, d.span.col))


def schema_diagnostics(document: Document, plain: object) -> list[Diagnostic]:
    """The schema's violations, one per place (the most specific message kept)."""
    validator = _validator()
    if validator.is_valid(plain):
        return []
    chosen: dict[tuple[str | int, ...], str] = {}
    for error in validator.iter_errors(plain):
        path = tuple(error.instance_path)
        summary = "is not valid under any of the schemas" in error.message
        if path not in chosen or (not summary and "any of the schemas" in chosen[path]):
            chosen[path] = error.message
    found = []
    for path, message in sorted(chosen.items(), key=lambda item: len(item[0]), reverse=True):
        if any(other[: len(path)] == path and other != path for other in chosen):
            continue  # a deeper error explains this one
        node, key = document.node_at(list(path))
        span = document.span(key if key is not None and "Unevaluated" not in message else node)
        place = path_text(path) or "the document"
        found.append(messages.SW_SCHEMA(span, place=place, problem=_shorter(message)))
    return sorted(found, key=lambda d: (d.span.line, d.span.col))


def _shorter(message: str) -> str:
    return message if len(message) <= 160 else message[:157] + "..."


class _Checker:
    """The static checks, one walk over the task lists."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.found: list[Diagnostic] = []
        self.expressions: list[tuple[str, tuple[str, ...], Node]] = []
        root = document.root
        assert isinstance(root, Mapping)
        self.root = root
        use = root.get("use")
        self.use = use if isinstance(use, Mapping) else None

    def workflow(self) -> None:
        for key in ("input", "output", "timeout", "schedule"):
            node = self.root.get(key)
            if node is not None:
                self.values(node, (), key)
        tasks = self.root.get("do")
        if tasks is not None:
            self.task_list(tasks, ())
        self.check_expressions()

    def report(self, diagnostic: Diagnostic) -> None:
        self.found.append(diagnostic)

    # ------------------------------------------------------------------ task lists

    def task_list(self, node: Node, scope: tuple[str, ...]) -> None:
        if not isinstance(node, Sequence):
            return
        names: dict[str, Scalar] = {}
        entries = []
        for item in node.items:
            if not isinstance(item, Mapping) or len(item.entries) != 1:
                self.report(messages.SW_BAD_TASK(self.document.span(item)))
                continue
            key, body = item.entries[0]
            name = str(key.value)
            if name in names:
                self.report(messages.SW_DUPLICATE_TASK(self.document.span(key), name=name))
            names[name] = key
            entries.append((key, body))
        for _key, body in entries:
            if isinstance(body, Mapping):
                self.task(body, scope, names)

    def then(self, body: Mapping, names: dict[str, Scalar]) -> None:
        target = body.get("then")
        if not isinstance(target, Scalar) or not isinstance(target.value, str):
            return
        if target.value not in FLOW_DIRECTIVES and target.value not in names:
            span = self.document.span(target)
            self.report(messages.SW_UNKNOWN_TARGET(span, target=target.value))

    def task(self, body: Mapping, scope: tuple[str, ...], names: dict[str, Scalar]) -> None:
        self.then(body, names)
        kind = next((k for k in TASK_KINDS if k in body), None)
        for key, value in body.entries:
            if key.value in ("do", "try", "catch", "fork", "switch", "then", "for"):
                continue
            self.values(value, scope, str(key.value))
        if kind == "for":
            loop = body.get("for")
            inner = scope
            if isinstance(loop, Mapping):
                self.values(loop, scope, "for")
                inner = (*scope, _name(loop, "each", "item"), _name(loop, "at", "index"))
            self.task_list(body.get("do") or Sequence([], 0, 0), inner)
        elif kind == "do":
            self.task_list(body.get("do") or Sequence([], 0, 0), scope)
        elif kind == "try":
            self.try_task(body, scope)
        elif kind == "fork":
            fork = body.get("fork")
            if isinstance(fork, Mapping):
                self.task_list(fork.get("branches") or Sequence([], 0, 0), scope)
        elif kind == "switch":
            self.switch(body, scope, names)
        elif kind is not None:
            self.leaf(kind, body)

    def try_task(self, body: Mapping, scope: tuple[str, ...]) -> None:
        self.task_list(body.get("try") or Sequence([], 0, 0), scope)
        catch = body.get("catch")
        if not isinstance(catch, Mapping):
            return
        inner = (*scope, _name(catch, "as", "error"))
        for key, value in catch.entries:
            if key.value == "retry":
                self.reference(value, "retry policy", "retries")
            elif key.value != "do":
                self.values(value, inner, str(key.value))
        self.task_list(catch.get("do") or Sequence([], 0, 0), inner)

    def switch(self, body: Mapping, scope: tuple[str, ...], names: dict[str, Scalar]) -> None:
        cases = body.get("switch")
        if not isinstance(cases, Sequence):
            return
        for case in cases.items:
            if isinstance(case, Mapping) and case.entries:
                inner = case.entries[0][1]
                if isinstance(inner, Mapping):
                    self.then(inner, names)
                    self.values(inner, scope, "case")

    def leaf(self, kind: str, body: Mapping) -> None:
        key = body.key(kind)
        value = body.get(kind)
        assert key is not None and value is not None
        if kind in ("emit", "listen"):
            self.report(messages.SW_UNSUPPORTED(self.document.span(key), what=f"`{kind}`"))
        elif kind == "run" and isinstance(value, Mapping):
            for other in ("container", "script", "shell", "workflow"):
                if other in value:
                    span = self.document.span(value.key(other) or value)
                    self.report(messages.SW_UNSUPPORTED(span, what=f"`run: {other}`"))
        elif kind == "call" and isinstance(value, Scalar):
            self.call(value)
        elif kind == "raise" and isinstance(value, Mapping):
            self.reference(value.get("error"), "error", "errors")

    def call(self, value: Scalar) -> None:
        called = str(value.value)
        span = self.document.span(value)
        if called in UNSUPPORTED_CALLS:
            self.report(messages.SW_UNSUPPORTED(span, what=UNSUPPORTED_CALLS[called]))
        elif called != "http" and self.reference(value, "function", "functions"):
            self.report(messages.SW_UNSUPPORTED(span, what="a custom function call"))

    def reference(self, node: Node | None, kind: str, section: str) -> bool:
        """Check a named reference to ``use.<section>``; True when it resolves."""
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            return False
        defined = self.use.get(section) if self.use is not None else None
        if isinstance(defined, Mapping) and node.value in defined:
            return True
        span = self.document.span(node)
        self.report(messages.SW_UNKNOWN_USE(span, kind=kind, name=node.value, section=section))
        return False

    # ------------------------------------------------------------------ values

    def values(self, node: Node, scope: tuple[str, ...], parent: str) -> None:
        """Collect the expressions of a value: ``${...}`` strings anywhere, bare strings
        where the specification wants an expression; ``use:`` references checked."""
        if isinstance(node, Scalar):
            self.scalar(node, scope, parent, "")
            return
        if isinstance(node, Sequence):
            for item in node.items:
                self.values(item, scope, parent)
            return
        if not isinstance(node, Mapping):
            return
        for key, value in node.entries:
            name = str(key.value)
            if name == "use" and parent == "authentication":
                self.reference(value, "authentication", "authentications")
            elif isinstance(value, Scalar):
                self.scalar(value, scope, parent, name)
            else:
                self.values(value, scope, name)

    def scalar(self, node: Scalar, scope: tuple[str, ...], parent: str, key: str) -> None:
        from flowc.compiler.definitions.serverless_jq import embedded

        if not isinstance(node.value, str):
            return
        expression = embedded(node.value)
        if expression is None and (key in _EXPRESSION_KEYS or (parent, key) in _PARENT_EXPRESSIONS):
            expression = node.value
        if expression is not None:
            self.expressions.append((expression, scope, node))

    def check_expressions(self) -> None:
        from flowc.compiler.definitions.serverless_jq import check_all

        wanted = [(text, scope) for text, scope, _ in self.expressions]
        for index, problem in check_all(wanted):
            span = self.document.span(self.expressions[index][2])
            self.report(messages.SW_BAD_EXPRESSION(span, problem=problem))


def _name(node: Mapping, key: str, default: str) -> str:
    value = node.get(key)
    return str(value.value) if isinstance(value, Scalar) and value.value else default


def walk_tasks(plain: object) -> Iterator[dict[str, Any]]:
    """Every task body of a plain task list, nested ones included (for tests, benches)."""
    if not isinstance(plain, list):
        return
    for item in plain:
        if isinstance(item, dict):
            for body in item.values():
                if isinstance(body, dict):
                    yield body
                    for key in ("do", "try"):
                        yield from walk_tasks(body.get(key))
