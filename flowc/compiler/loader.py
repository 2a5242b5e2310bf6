"""Loading a program: a root file and everything it imports.

``load_program`` reads and parses the root file, then follows its ``import``
declarations depth first.  Paths are relative to the importing file's
directory and are normalised, so ``./a.flow`` and ``a.flow`` are one module,
and each file is parsed once however many files import it.

Import cycles are found with the classic three-colour depth-first search: a
module is *in progress* while its imports are being loaded, and meeting an
in-progress module again means a cycle, which is reported once at the import
that closes it, with the whole chain in the message.  The search keeps its
own stack, so a long chain of imports cannot exhaust the interpreter's.

Only ``.flow`` files are read (``is_flow_source``): an import of anything
else is refused before the file is opened, so no diagnostic ever quotes a
line of it.

The loader reads files through a ``SourceReader`` so that the language server
can supply unsaved editor buffers, and it accepts a ``ParseCache`` keyed by
path and text so that an edit re-parses only the file that changed.

Problems a user can cause — a missing or unreadable import, a file that is not
UTF-8, a syntax error — become diagnostics; the loader never raises for them.

A root file named ``*.json``, ``*.yaml`` or ``*.yml`` is a flow definition written
as data (``compiler/definitions``); it is read into the same AST, not parsed.
Imports are ``.flow`` files only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

import attrs

from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import Diagnostic, DiagnosticSink, ParseFailure

if TYPE_CHECKING:
    from flowc.contracts.openapi_store import ContractCache
    from flowc.contracts.proto_store import ProtoCache

MAX_SOURCE_BYTES: Final = 1024 * 1024
#: The file names the loader reads as flow source.
SOURCE_SUFFIXES: Final = (".flow",)
#: Root files may also be flow definitions written as data (``compiler/definitions``).
DEFINITION_SUFFIXES: Final = (".json", ".yaml", ".yml")


class SourceError(Exception):
    """A file could not be read as `.flow` source (a one-line message)."""


SourceReader = Callable[[str], str]


def is_flow_source(path: str) -> bool:
    """Whether the loader may read ``path`` as flow source: a ``.flow`` file.

    Every file the loader reads (a root file from disk, every import) passes
    this test first, so a diagnostic can never quote a line of some other file
    (``import "/etc/passwd"``).  Other definition formats would be allowed here.
    """
    return path.endswith(SOURCE_SUFFIXES)


def is_root_source(path: str) -> bool:
    """Whether ``path`` may be read as a root file: flow source or a flow definition."""
    return is_flow_source(path) or path.lower().endswith(DEFINITION_SUFFIXES)


def read_source_file(path: str) -> str:
    """Read a root file from disk, or raise ``SourceError`` saying why not."""
    if not is_root_source(path) or not is_root_source(os.path.realpath(path)):
        # a `.flow` link to another file too
        raise SourceError(f"{path}: not a .flow file (nor a .json/.yaml flow definition)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a .flow file") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read: {error.strerror or error}") from None
    return decode_source(path, data)


def decode_source(path: str, data: bytes) -> str:
    if len(data) > MAX_SOURCE_BYTES:
        limit = MAX_SOURCE_BYTES // (1024 * 1024)
        raise SourceError(f"{path}: file is larger than {limit} MiB; not a .flow source file?")
    if b"\x00" in data:
        raise SourceError(f"{path}: file contains NUL bytes; is it a binary file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SourceError(f"{path}:{line}: file is not valid UTF-8 (byte {error.start})") from None
    return text.removeprefix("\ufeff")


@attrs.define
class LoadedModule:
    path: str
    source: str
    module: ast.Module | None
    imports: dict[int, str] = attrs.field(factory=dict)  # id(ImportDecl) -> path


@attrs.define
class Program:
    root: str
    modules: dict[str, LoadedModule] = attrs.field(factory=dict)
    order: list[str] = attrs.field(factory=list)  # dependencies before dependents
    parse_cache: ParseCache | None = None  # the cache it was loaded with (and its documents)

    def module(self, path: str) -> LoadedModule:
        return self.modules[path]


class ParseCache:
    """Parsed modules by (path, text), so unchanged files are not re-parsed."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[str, ast.Module | None, Diagnostic | None]] = {}
        self._contracts: ContractCache | None = None
        self._protos: ProtoCache | None = None

    def parse(self, path: str, text: str) -> tuple[ast.Module | None, Diagnostic | None]:
        entry = self._entries.get(path)
        if entry is not None and entry[0] == text:
            return entry[1], entry[2]
        result = self.parse_uncached(path, text)
        self._entries[path] = (text, *result)
        return result

    def contracts(self) -> ContractCache:
        """The cache of OpenAPI documents that goes with this cache of parsed files."""
        if self._contracts is None:
            from flowc.contracts.openapi_store import ContractCache

            self._contracts = ContractCache()
        return self._contracts

    def protos(self) -> ProtoCache:
        """The cache of compiled ``.proto`` files that goes with this cache."""
        if self._protos is None:
            from flowc.contracts.proto_store import ProtoCache

            self._protos = ProtoCache()
        return self._protos

    def parse_uncached(self, path: str, text: str) -> tuple[ast.Module | None, Diagnostic | None]:
        """Parse ``text``; the parser (and Lark) is imported on the first call."""
        from flowc.compiler.parser import parse_module

        try:
            return parse_module(text, path), None
        except ParseFailure as failure:
            return None, failure.diagnostic


def normalise(path: str) -> str:
    return os.path.normpath(os.path.abspath(path)) if path not in ("-", "<stdin>") else path


def display_path(path: str) -> str:
    """A path as diagnostics show it: relative to the working directory when it
    lies inside it, absolute otherwise."""
    if path.startswith("<"):
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


class _Loader:
    """Loads modules depth first with an explicit stack (a chain of thousands
    of imports costs memory, not interpreter stack)."""

    def __init__(self, reader: SourceReader, sink: DiagnosticSink, cache: ParseCache) -> None:
        self.reader = reader
        self.sink = sink
        self.cache = cache
        self.in_progress: list[str] = []
        self.pending: list[tuple[LoadedModule, Iterator[ast.ImportDecl]]] = []

    def load(self, program: Program, path: str, text: str) -> None:
        self._enter(program, path, text)
        while self.pending:
            loaded, imports = self.pending[-1]
            decl = next(imports, None)
            if decl is None:
                self.pending.pop()
                self.in_progress.pop()
                program.order.append(loaded.path)
            else:
                self._follow(program, loaded, decl)

    def _enter(self, program: Program, path: str, text: str) -> None:
        """Parse a module; if it parsed, its imports are loaded next."""
        module, failures = self._parse(path, text)
        loaded = LoadedModule(path, text, module)
        program.modules[path] = loaded
        self.sink.extend(failures)
        if module is None:
            program.order.append(path)
            return
        imports = (d for d in module.decls if isinstance(d, ast.ImportDecl))
        self.in_progress.append(path)
        self.pending.append((loaded, imports))

    def _parse(self, path: str, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
        """A `.flow` file through the parse cache; a JSON or YAML flow definition
        (``compiler/definitions``, imported only then) through its reader."""
        shown = display_path(path)
        if path.lower().endswith(DEFINITION_SUFFIXES):
            from flowc.compiler.definitions import read_definition

            return read_definition(shown, text)
        module, failure = self.cache.parse(shown, text)
        return module, [] if failure is None else [failure]

    def _follow(self, program: Program, loaded: LoadedModule, decl: ast.ImportDecl) -> None:
        target = normalise(os.path.join(os.path.dirname(loaded.path), decl.path))
        if target in self.in_progress:
            self._report_cycle(decl, target)
            return
        if target not in program.modules:
            text = self._read_import(decl, target)
            if text is None:
                return
            self._enter(program, target, text)
        loaded.imports[id(decl)] = target

    def _read_import(self, decl: ast.ImportDecl, target: str) -> str | None:
        if not is_flow_source(target):
            reason = "only .flow files can be imported"
            self.sink.add(messages.IMPORT_UNREADABLE(decl.span, path=decl.path, reason=reason))
            return None
        try:
            return self.reader(target)
        except SourceError as error:
            reason = str(error).split(": ", 1)[-1]
            self.sink.add(messages.IMPORT_UNREADABLE(decl.span, path=decl.path, reason=reason))
            return None

    def _report_cycle(self, decl: ast.ImportDecl, target: str) -> None:
        start = self.in_progress.index(target)
        chain = [*self.in_progress[start:], target]
        shown = " -> ".join(os.path.basename(p) for p in chain)
        self.sink.add(messages.IMPORT_CYCLE(decl.span, chain=shown))


def load_program(
    root: str,
    *,
    sink: DiagnosticSink,
    source: str | None = None,
    reader: SourceReader = read_source_file,
    cache: ParseCache | None = None,
) -> Program:
    """Load ``root`` and its imports.  ``source`` overrides reading the root file.

    Raises ``SourceError`` only when the root file itself cannot be read.
    """
    path = normalise(root)
    program = Program(path)
    loader = _Loader(reader, sink, cache or ParseCache())
    program.parse_cache = loader.cache
    if source is None:
        source = reader(path)
    loader.load(program, path, source)
    return program
