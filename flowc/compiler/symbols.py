"""Module-level declarations: what each file defines and imports.

``ModuleSymbols`` is the environment of one file.  It is filled in two steps:

1. ``collect`` walks the file's declarations and files each under its
   namespace — types, constants, services, flows — reporting duplicates.  An
   ``import "x.flow"`` makes x's own declarations visible unqualified; an
   ``import "x.flow" as x`` makes them visible as ``x.name`` (``x.Type`` in a
   type, ``x.CONST`` in an expression, ``call x.flow(...)`` in a step).
2. ``resolve_type`` turns type syntax into semantic types on demand.  Type
   aliases resolve lazily with an in-progress mark, so declaration order does
   not matter and a recursive alias (``type N = {next: N?}``) is reported
   instead of looping.

Lookups record which import satisfied them, so unused imports can be
reported at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, TypeVar

import attrs

from flowc.common.types import (
    ERROR,
    PRIMITIVES,
    RUN_RECORD,
    TYPE,
    Field,
    ListT,
    MapT,
    OptionalT,
    RecordT,
    Type,
)
from flowc.compiler import ast, messages
from flowc.compiler.scope import CheckInfo, Symbol, suggest

T = TypeVar("T")

BUILTIN_TYPE_VALUES: Final = (
    "int",
    "uint",
    "double",
    "float",
    "bool",
    "string",
    "bytes",
    "list",
    "map",
    "null_type",
    "type",
    "duration",
    "timestamp",
)


@attrs.define(eq=False)
class ParamInfo:
    name: str
    type: Type
    default: ast.Expr | None
    span: ast.Span


@attrs.define(eq=False)
class FlowInfo:
    decl: ast.FlowDecl
    module: ModuleSymbols
    params: list[ParamInfo] = attrs.field(factory=list)
    declared_result: Type | None = None
    result: Type | None = None  # declared, or inferred once the body is checked
    state: str = "new"  # new -> checking -> done

    @property
    def name(self) -> str:
        return self.decl.name


@attrs.define(eq=False)
class ServiceInfo:
    decl: ast.ServiceDecl
    module: ModuleSymbols
    clauses: dict[str, ast.Clause] = attrs.field(factory=dict)
    # An OpenAPI service's loaded document (``contracts.openapi_service.ServiceContract``);
    # None for other services and for documents that failed to load.
    contract: Any = None

    @property
    def name(self) -> str:
        return self.decl.name


@attrs.define(eq=False)
class TypeEntry:
    decl: ast.TypeDecl
    resolved: Type | None = None
    resolving: bool = False


@attrs.define(eq=False)
class ImportInfo:
    decl: ast.ImportDecl
    target: ModuleSymbols
    symbol: Symbol | None  # the alias, for `import ... as x`
    used: bool = False


def builtin_values() -> dict[str, Symbol]:
    span = ast.NO_SPAN
    values = {name: Symbol(name, "builtin", TYPE, span, "") for name in BUILTIN_TYPE_VALUES}
    values["run"] = Symbol("run", "builtin", RUN_RECORD, span, "")
    return values


class ModuleSymbols:
    """The declarations of one file and what its imports make visible."""

    def __init__(self, path: str, module: ast.Module, info: CheckInfo) -> None:
        self.path = path
        self.module = module
        self.info = info
        self.types: dict[str, TypeEntry] = {}
        self.consts: dict[str, Symbol] = {}
        self.services: dict[str, ServiceInfo] = {}
        self.flows: dict[str, FlowInfo] = {}
        self.imports: list[ImportInfo] = []
        self.aliases: dict[str, ImportInfo] = {}
        self.builtins = builtin_values()

    # ----------------------------------------------------------- collecting

    def collect(self, targets: dict[int, ModuleSymbols]) -> None:
        seen: dict[str, ast.Decl] = {}
        for decl in self.module.decls:
            if isinstance(decl, ast.ImportDecl):
                self._collect_import(decl, targets.get(id(decl)))
                continue
            self._check_duplicate(decl, seen)
            if isinstance(decl, ast.TypeDecl):
                self.types[decl.name] = TypeEntry(decl)
            elif isinstance(decl, ast.ServiceDecl):
                self.services[decl.name] = ServiceInfo(decl, self)
            elif isinstance(decl, ast.FlowDecl):
                self.flows[decl.name] = FlowInfo(decl, self)

    def _check_duplicate(self, decl: ast.Decl, seen: dict[str, ast.Decl]) -> None:
        name: str = decl.name  # type: ignore[attr-defined]
        namespace = "type" if isinstance(decl, ast.TypeDecl) else "value"
        key = f"{namespace}:{name}"
        earlier = seen.get(key)
        if earlier is not None:
            note = messages.note(earlier.span, "first defined here")
            self.info.sink.add(messages.DUPLICATE_DECLARATION(decl.span, name=name, notes=[note]))
        seen[key] = decl

    def _collect_import(self, decl: ast.ImportDecl, target: ModuleSymbols | None) -> None:
        if target is None:
            return
        symbol = None
        if decl.alias is not None:
            symbol = Symbol(decl.alias, "module", ERROR, decl.span, self.path, node=decl)
            self.info.symbols.append(symbol)
        entry = ImportInfo(decl, target, symbol)
        self.imports.append(entry)
        if decl.alias is not None:
            self.aliases[decl.alias] = entry

    def declare_const(self, symbol: Symbol) -> None:
        self.consts[symbol.name] = symbol
        self.info.symbols.append(symbol)

    # ----------------------------------------------------------- lookups (ModuleEnv)

    def _star_imports(self) -> Iterator[ImportInfo]:
        return (entry for entry in self.imports if entry.symbol is None)

    def lookup_value(self, name: str) -> Symbol | None:
        found = self.consts.get(name)
        if found is not None:
            return found
        alias = self.aliases.get(name)
        if alias is not None:
            return alias.symbol
        for entry in self._star_imports():
            found = entry.target.consts.get(name)
            if found is not None:
                entry.used = True
                return found
        return self.builtins.get(name)

    def member(self, alias: str, name: str) -> Symbol | None:
        entry = self.aliases.get(alias)
        if entry is None:
            return None
        entry.used = True
        return entry.target.consts.get(name)

    def value_names(self) -> Iterable[str]:
        names = set(self.consts) | set(self.aliases) | set(self.builtins)
        for entry in self._star_imports():
            names |= set(entry.target.consts)
        return names

    def find_flow(self, name: str, alias: str | None) -> FlowInfo | None:
        return self._find(name, alias, flows_of)

    def find_service(self, name: str) -> ServiceInfo | None:
        return self._find(name, None, services_of)

    def _find(
        self, name: str, alias: str | None, table: Callable[[ModuleSymbols], Mapping[str, T]]
    ) -> T | None:
        if alias is not None:
            entry = self.aliases.get(alias)
            if entry is None:
                return None
            entry.used = True
            return table(entry.target).get(name)
        found = table(self).get(name)
        if found is not None:
            return found
        for entry in self._star_imports():
            found = table(entry.target).get(name)
            if found is not None:
                entry.used = True
                return found
        return None

    def names_of(self, table: Callable[[ModuleSymbols], Mapping[str, object]]) -> list[str]:
        """Visible names in one namespace (flows, services, types), for suggestions."""
        names = set(table(self))
        for entry in self._star_imports():
            names |= set(table(entry.target))
        return sorted(names)

    # ----------------------------------------------------------- types

    def resolve_type(self, texpr: ast.TypeExpr) -> Type:
        if isinstance(texpr, ast.TypeName):
            return self._resolve_name(texpr)
        if isinstance(texpr, ast.OptionalType):
            inner = self.resolve_type(texpr.inner)
            return inner if isinstance(inner, OptionalT) else OptionalT(inner)
        if isinstance(texpr, ast.ListType):
            return ListT(self.resolve_type(texpr.elem))
        if isinstance(texpr, ast.MapType):
            return MapT(self.resolve_type(texpr.key), self.resolve_type(texpr.value))
        assert isinstance(texpr, ast.RecordType)
        return self._resolve_record(texpr)

    def _resolve_record(self, texpr: ast.RecordType) -> RecordT:
        fields: list[Field] = []
        names: set[str] = set()
        for decl in texpr.fields:
            if decl.name in names:
                self.info.sink.add(messages.DUPLICATE_FIELD(decl.span, field=decl.name))
                continue
            names.add(decl.name)
            fields.append(Field(decl.name, self.resolve_type(decl.type), decl.optional))
        return RecordT(tuple(fields))

    def _resolve_name(self, texpr: ast.TypeName) -> Type:
        if texpr.module is not None:
            entry = self.aliases.get(texpr.module)
            if entry is None:
                return self._unknown_type(texpr, f"no import is named `{texpr.module}`")
            entry.used = True
            return entry.target.named_type(texpr, entry.target)
        primitive = PRIMITIVES.get(texpr.name)
        if primitive is not None:
            return primitive
        if texpr.name in self.types:
            return self.named_type(texpr, self)
        for entry in self._star_imports():
            if texpr.name in entry.target.types:
                entry.used = True
                return entry.target.named_type(texpr, entry.target)
        hint = suggest(texpr.name, [*PRIMITIVES, *self.names_of(types_of)])
        return self._unknown_type(texpr, f"did you mean `{hint}`?" if hint else None)

    def _unknown_type(self, texpr: ast.TypeName, help_text: str | None) -> Type:
        shown = f"{texpr.module}.{texpr.name}" if texpr.module else texpr.name
        self.info.sink.add(messages.UNKNOWN_TYPE(texpr.span, name=shown, help=help_text))
        return ERROR

    def named_type(self, texpr: ast.TypeName, owner: ModuleSymbols) -> Type:
        entry = owner.types.get(texpr.name)
        if entry is None:
            return owner._unknown_type(texpr, None)
        self.info.type_references[id(texpr)] = entry.decl
        if entry.resolved is not None:
            return entry.resolved
        if entry.resolving:
            self.info.sink.add(messages.RECURSIVE_TYPE(texpr.span, name=texpr.name))
            return ERROR
        entry.resolving = True
        resolved = owner.resolve_type(entry.decl.type)
        entry.resolving = False
        if isinstance(resolved, RecordT):
            resolved = RecordT(resolved.fields, name=texpr.name)
        entry.resolved = resolved
        return resolved

    def resolve_all_types(self) -> None:
        for name, entry in self.types.items():
            self.named_type(ast.TypeName(name, span=entry.decl.span), self)


def flows_of(module: ModuleSymbols) -> Mapping[str, FlowInfo]:
    return module.flows


def services_of(module: ModuleSymbols) -> Mapping[str, ServiceInfo]:
    return module.services


def types_of(module: ModuleSymbols) -> Mapping[str, TypeEntry]:
    return module.types
