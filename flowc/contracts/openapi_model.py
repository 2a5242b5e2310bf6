"""An OpenAPI document as flowc needs it: ``Contract``.

``build_contract(files)`` takes the parsed documents of a service (the root and every
file its ``$ref``s reach) and returns a ``Contract`` or raises ``ContractInvalid``
with the problems found.  What is validated is what flowc relies on: the
``openapi`` version (3.0 or 3.1; Swagger 2.0 and others are rejected by name), the
``servers`` (URLs and variable defaults), the shape of ``paths`` (templates starting
with ``/``, path items, operations, their ``parameters``, ``requestBody`` and
``responses``) and the security schemes.  Schemas are not validated up front; they
are read when a step uses them, and a broken ``$ref`` met then is a diagnostic
pointing into the document.  (Full validation against the OpenAPI meta-schema
would take seconds on GitHub's description and would reject documents whose
flaws never matter to a flow.)

**Pieces.**  A contract keeps each document as JSON text cut into *pieces*: every
path item (``/paths/<template>``), every component (``/components/<kind>/<name>``)
and the rest of the document.  A piece is decoded the first time something inside
it is resolved.  This is what makes a cached contract cheap: the store writes the
operation index and the pieces' bytes, and a check decodes only the few pieces its
steps reach (GitHub's 13 MB description loads from the store in a few
milliseconds).

**References.**  ``resolve(node)`` follows ``$ref`` chains (bounded, cycles
reported) to a ``Located`` value: the value, the file it lives in and its JSON
pointer, so that every later problem can be shown at its place.  References to
other files are relative to the referring file; they are found when the document is
loaded (so they are part of the cache key) by scanning the text for ``$ref``
values.  URLs are not fetched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

import attrs

from flowc.contracts.openapi_document import pointer, pointer_parts

HTTP_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAMETER_PLACES: Final = ("path", "query", "header", "cookie")
MAX_REF_HOPS: Final = 64
MAX_PROBLEMS: Final = 20
_STATUS: Final = re.compile(r"^(?:[1-5](?:[0-9][0-9]|XX)|default)$", re.IGNORECASE)


@attrs.frozen(slots=True)
class Problem:
    """Something wrong in a document: where (file and JSON pointer) and what."""

    file: str
    pointer: str
    message: str
    kind: str = "invalid"  # invalid | version | ref | syntax | unreadable
    position: tuple[int, int] | None = None  # known already (syntax errors)


class ContractInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].message if problems else "invalid document")
        self.problems = problems


@attrs.frozen(slots=True)
class Located:
    """A value of a document with where it was found."""

    value: Any
    file: str
    pointer: str

    def child(self, *parts: str | int) -> Located:
        value = self.value
        for part in parts:
            if isinstance(value, list) and isinstance(part, int):
                value = value[part]
            else:
                value = value.get(part) if isinstance(value, dict) else None
        return Located(value, self.file, self.pointer + pointer(*parts))


@attrs.frozen(slots=True)
class Operation:
    """One operation of the index: enough to match steps and to complete paths."""

    method: str  # upper case, as a step writes it
    path: str  # the template, as the document writes it
    operation_id: str | None
    summary: str | None
    file: str  # the file and JSON pointer of the operation (path items may be `$ref`s)
    pointer: str


class Pieces:
    """The documents' pieces as JSON bytes, by file and piece pointer.

    In memory after a fresh load; a stored contract reads them from its store entry
    only when asked (``openapi_store.StoredPieces``).
    """

    def __init__(self, table: dict[str, dict[str, bytes]]) -> None:
        self.table = table

    def files(self) -> list[str]:
        return list(self.table)

    def get(self, file: str, key: str) -> bytes:
        return self.table[file][key]

    def has_file(self, file: str) -> bool:
        return file in self.table

    def keys(self, file: str) -> list[str]:
        return list(self.table.get(file, ()))

    def all(self) -> dict[str, dict[str, bytes]]:
        return self.table


class Contract:
    """A loaded OpenAPI document (see the module docstring)."""

    def __init__(
        self,
        root: str,
        version: str,
        title: str,
        servers: list[str],
        security: list[dict[str, list[str]]],
        operations: list[Operation],
        pieces: Pieces,
        digests: dict[str, str],
    ) -> None:
        self.root = root
        self.version = version
        self.title = title
        self.servers = servers
        self.security = security
        self.operations = operations
        self.pieces = pieces
        self.digests = digests  # file -> digest of its text (the cache key)
        self._decoded: dict[tuple[str, str], Any] = {}
        self.by_id = {op.operation_id: op for op in operations if op.operation_id}

    # ----------------------------------------------------------- serialisation

    def to_state(self) -> tuple[Any, ...]:
        """Everything but the pieces, as plain data (for the store)."""
        ops = [
            (o.method, o.path, o.operation_id, o.summary, o.file, o.pointer)
            for o in self.operations
        ]
        return (self.root, self.version, self.title, self.servers, self.security, ops, self.digests)

    @classmethod
    def from_state(cls, state: tuple[Any, ...], pieces: Pieces) -> Contract:
        root, version, title, servers, security, ops, digests = state
        operations = [Operation(*op) for op in ops]
        return cls(root, version, title, servers, security, operations, pieces, digests)

    # ----------------------------------------------------------- reading

    def value_at(self, file: str, where: str) -> Any:
        """The value at a JSON pointer of one of the contract's files (KeyError if none)."""
        parts = pointer_parts(where)
        key = _piece_key(parts)
        cached = self._decoded.get((file, key))
        if cached is None:
            cached = json.loads(self.pieces.get(file, key))
            self._decoded[(file, key)] = cached
        value = cached
        for part in parts[len(pointer_parts(key)) :]:
            if isinstance(value, dict):
                value = value[part]
            elif isinstance(value, list) and part.isdigit():
                value = value[int(part)]
            else:
                raise KeyError(part)
        return value

    def component_names(self, kind: str) -> list[str]:
        """The names of the root document's components of one kind (``securitySchemes``)."""
        prefix = pointer("components", kind)
        return [
            pointer_parts(key)[2]
            for key in self.pieces.keys(self.root)
            if key.startswith(prefix + "/") and len(pointer_parts(key)) == 3
        ]

    def located(self, file: str, where: str) -> Located:
        return Located(self.value_at(file, where), file, where)

    def operation(self, op: Operation) -> Located:
        return self.located(op.file, op.pointer)

    def resolve(self, node: Located) -> Located:
        """``node`` with its ``$ref`` chain followed (``RefError`` when broken)."""
        seen: set[tuple[str, str]] = set()
        hops = 0
        while isinstance(node.value, dict) and isinstance(node.value.get("$ref"), str):
            ref = node.value["$ref"]
            target_file, target_pointer = self.target_of(node.file, ref)
            key = (target_file, target_pointer)
            hops += 1
            if key in seen or hops > MAX_REF_HOPS:
                raise RefError(node, ref, "the reference chain loops")
            seen.add(key)
            try:
                node = Located(self.value_at(target_file, target_pointer), *key)
            except (KeyError, IndexError):
                raise RefError(node, ref, "nothing is there") from None
        return node

    def target_of(self, file: str, ref: str) -> tuple[str, str]:
        location, _, fragment = ref.partition("#")
        if location:
            if "://" in location:
                raise RefError(Located(None, file, ""), ref, "URLs are not fetched")
            target = join_file(file, location)
            if not self.pieces.has_file(target):
                raise RefError(Located(None, file, ""), ref, "the file is not available")
        else:
            target = file
        from urllib.parse import unquote

        return target, unquote(fragment)


class RefError(Exception):
    def __init__(self, node: Located, ref: str, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.ref = ref
        self.reason = reason

    def problem(self) -> Problem:
        return Problem(
            self.node.file,
            self.node.pointer,
            f'cannot resolve `$ref` "{self.ref}": {self.reason}',
            "ref",
        )


def join_file(base_file: str, location: str) -> str:
    import os.path
    from urllib.parse import unquote

    return os.path.normpath(os.path.join(os.path.dirname(base_file), unquote(location)))


def _piece_key(parts: list[str]) -> str:
    if len(parts) >= 2 and parts[0] == "paths":
        return pointer(*parts[:2])
    if len(parts) >= 3 and parts[0] == "components":
        return pointer(*parts[:3])
    return ""


def cut_pieces(document: Any) -> dict[str, bytes]:
    """A document as independently decodable JSON pieces (module docstring)."""
    if not isinstance(document, dict):
        return {"": json.dumps(document).encode()}
    rest = dict(document)
    pieces: dict[str, bytes] = {}
    paths = rest.pop("paths", None)
    components = rest.pop("components", None)
    if isinstance(paths, dict):
        rest["paths"] = {}
        for template, item in paths.items():
            pieces[pointer("paths", template)] = json.dumps(item).encode()
    elif paths is not None:
        rest["paths"] = paths
    if isinstance(components, dict):
        rest["components"] = {}
        for kind, entries in components.items():
            if isinstance(entries, dict):
                rest["components"][kind] = {}
                for name, value in entries.items():
                    pieces[pointer("components", kind, name)] = json.dumps(value).encode()
            else:
                rest["components"][kind] = entries
    pieces[""] = json.dumps(rest).encode()
    return pieces


# --------------------------------------------------------------------------- building


def build_contract(root: str, documents: dict[str, Any], digests: dict[str, str]) -> Contract:
    """Validate and index the root document (``ContractInvalid`` with the problems)."""
    builder = _Builder(root, documents)
    contract = builder.build(digests)
    if builder.problems:
        raise ContractInvalid(builder.problems)
    return contract


class _Builder:
    def __init__(self, root: str, documents: dict[str, Any]) -> None:
        self.root = root
        self.documents = documents
        self.problems: list[Problem] = []
        pieces = Pieces({file: cut_pieces(doc) for file, doc in documents.items()})
        self.contract = Contract(root, "", "", [], [], [], pieces, {})

    def problem(self, where: str, message: str, kind: str = "invalid") -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(self.root, where, message, kind))

    def build(self, digests: dict[str, str]) -> Contract:
        doc = self.documents[self.root]
        if not isinstance(doc, dict):
            self.problem("", "an OpenAPI document must be a mapping (an object)")
            return self.contract
        version = self._version(doc)
        if version is None:
            return self.contract
        info = doc.get("info")
        title = str(info.get("title", "")) if isinstance(info, dict) else ""
        contract = self.contract
        contract.version, contract.title, contract.digests = version, title, digests
        contract.servers = self._servers(doc.get("servers"), "/servers")
        contract.security = self._security(doc.get("security"), "/security")
        self._security_schemes(doc.get("components"))
        contract.operations = list(self._operations(doc, version))
        contract.by_id = {o.operation_id: o for o in contract.operations if o.operation_id}
        return contract

    def _version(self, doc: dict[str, Any]) -> str | None:
        version = doc.get("openapi")
        if version is None:
            if "swagger" in doc:
                self.problem(
                    "/swagger",
                    f"Swagger {doc['swagger']} documents are not supported; flowc reads "
                    "OpenAPI 3.0 and 3.1 (convert it, e.g. with swagger2openapi)",
                    "version",
                )
            else:
                self.problem("", "not an OpenAPI document: it has no `openapi` version field")
            return None
        text = str(version)
        if not re.match(r"^3\.[01](\.\d+)?(-[0-9A-Za-z.-]+)?$", text):
            self.problem(
                "/openapi",
                f"unsupported OpenAPI version {text}; flowc reads OpenAPI 3.0 and 3.1",
                "version",
            )
            return None
        return text

    def _servers(self, servers: Any, where: str) -> list[str]:
        if servers is None:
            return []
        if not isinstance(servers, list):
            self.problem(where, "`servers` must be a list")
            return []
        urls: list[str] = []
        for index, server in enumerate(servers):
            here = f"{where}/{index}"
            if not isinstance(server, dict) or not isinstance(server.get("url"), str):
                self.problem(here, "a server must be a mapping with a `url` string")
                continue
            urls.append(self._server_url(server, here))
        return urls

    def _server_url(self, server: dict[str, Any], where: str) -> str:
        variables = server.get("variables") or {}
        if not isinstance(variables, dict):
            self.problem(where + "/variables", "server `variables` must be a mapping")
            variables = {}

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            variable = variables.get(name)
            if not isinstance(variable, dict) or "default" not in variable:
                self.problem(
                    where + "/url", f"server variable `{name}` is not declared with a `default`"
                )
                return match.group(0)
            return str(variable["default"])

        url: str = server["url"]
        return re.sub(r"\{([^{}]*)\}", substitute, url)

    def _security(self, security: Any, where: str) -> list[dict[str, list[str]]]:
        if security is None:
            return []
        if not isinstance(security, list) or not all(isinstance(r, dict) for r in security):
            self.problem(where, "`security` must be a list of mappings")
            return []
        return [
            {str(k): list(v) if isinstance(v, list) else [] for k, v in r.items()} for r in security
        ]

    def _security_schemes(self, components: Any) -> None:
        if not isinstance(components, dict) or not isinstance(
            components.get("securitySchemes"), dict
        ):
            return
        for name, scheme in components["securitySchemes"].items():
            where = pointer("components", "securitySchemes", name)
            if isinstance(scheme, dict) and "$ref" in scheme:
                continue
            kind = scheme.get("type") if isinstance(scheme, dict) else None
            if kind not in ("apiKey", "http", "oauth2", "openIdConnect", "mutualTLS"):
                self.problem(where, f"security scheme `{name}` has no valid `type`")
            elif kind == "apiKey" and not isinstance(scheme.get("name"), str):
                self.problem(where, f"API key scheme `{name}` must name its parameter (`name`)")

    # ----------------------------------------------------------- paths

    def _operations(self, doc: dict[str, Any], version: str) -> Iterator[Operation]:
        paths = doc.get("paths")
        if paths is None:
            if version.startswith("3.0"):
                self.problem("", "an OpenAPI 3.0 document must have `paths`")
            return
        if not isinstance(paths, dict):
            self.problem("/paths", "`paths` must be a mapping")
            return
        for template, item in paths.items():
            where = pointer("paths", template)
            if not template.startswith("/"):
                if not template.startswith("x-"):
                    self.problem(where, f"path `{template}` must start with `/`")
                continue
            yield from self._path_item(template, item, where)

    def _path_item(self, template: str, item: Any, where: str) -> Iterator[Operation]:
        located = Located(item, self.root, where)
        try:
            resolved = self.contract.resolve(located)
        except RefError as error:
            self.problems.append(error.problem())
            return
        item = resolved.value
        if not isinstance(item, dict):
            self.problem(where, f"path item `{template}` must be a mapping")
            return
        self._parameters(item.get("parameters"), resolved.pointer + "/parameters")
        for method in HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            op_where = resolved.pointer + pointer(method)
            if not isinstance(operation, dict):
                self.problem(op_where, f"operation `{method.upper()} {template}` must be a mapping")
                continue
            self._operation_shape(operation, op_where)
            op_id = operation.get("operationId")
            summary = operation.get("summary")
            yield Operation(
                method.upper(),
                template,
                op_id if isinstance(op_id, str) else None,
                summary if isinstance(summary, str) else None,
                resolved.file,
                op_where,
            )

    def _operation_shape(self, operation: dict[str, Any], where: str) -> None:
        self._parameters(operation.get("parameters"), where + "/parameters")
        body = operation.get("requestBody")
        if body is not None and not isinstance(body, dict):
            self.problem(where + "/requestBody", "`requestBody` must be a mapping")
        responses = operation.get("responses")
        if responses is None:
            return  # optional in 3.1; a 3.0 operation without responses still runs
        if not isinstance(responses, dict):
            self.problem(where + "/responses", "`responses` must be a mapping")
            return
        for status in responses:
            if not _STATUS.match(str(status)) and not str(status).startswith("x-"):
                self.problem(
                    where + pointer("responses", status),
                    f"`{status}` is not a response status (`200`, `4XX` or `default`)",
                )

    def _parameters(self, parameters: Any, where: str) -> None:
        if parameters is None:
            return
        if not isinstance(parameters, list):
            self.problem(where, "`parameters` must be a list")
            return
        for index, parameter in enumerate(parameters):
            here = f"{where}/{index}"
            if not isinstance(parameter, dict):
                self.problem(here, "a parameter must be a mapping")
            elif "$ref" in parameter:
                continue
            elif not isinstance(parameter.get("name"), str):
                self.problem(here, "a parameter must have a `name`")
            elif parameter.get("in") not in PARAMETER_PLACES:
                self.problem(
                    here,
                    f"parameter `{parameter['name']}` must say where it goes "
                    "(`in`: path, query, header or cookie)",
                )


# --------------------------------------------------------------------------- external files


_JSON_REF: Final = re.compile(r'"\$ref"\s*:\s*"([^"#]+)(?:#[^"]*)?"')
_YAML_REF: Final = re.compile(r"""\$ref['"]?\s*:\s*['"]?([^'"#\s]+)""")


def external_files(text: str, is_json: bool) -> list[str]:
    """The file parts of the ``$ref`` values in a document's text (local or not)."""
    found = (_JSON_REF if is_json else _YAML_REF).findall(text)
    return sorted({f for f in found if f and not f.startswith("#")})
