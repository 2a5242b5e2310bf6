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

Size.  No file larger than the *source limit* is parsed: 32 MiB unless
``--max-source-mib`` or ``$FLOWC_MAX_SOURCE_MIB`` says otherwise
(``source_limit``).  ``read_source_file`` reads at most one byte more than
the limit and refuses the file; text that comes from elsewhere (``source=``,
an editor's buffer through a custom reader) gets an E0020 diagnostic instead.
The front end is linear in the size of its input, so the limit only bounds
how long and how much memory one file may cost: parsing and checking take
about 3.5 s of CPU and 50 MiB per MiB of flow code on the reference machine,
lowering another 1 s and 50 MiB (``bench/compile.py --sections size``), and
text that is not flow code fails at its first token.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final

import attrs

from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import Diagnostic, DiagnosticSink, ParseFailure

if TYPE_CHECKING:
    from flowc.contracts.openapi_store import ContractCache
    from flowc.contracts.proto_store import ProtoCache

MIB: Final = 1024 * 1024
DEFAULT_SOURCE_LIMIT_MIB: Final = 32
SOURCE_LIMIT_VARIABLE: Final = "FLOWC_MAX_SOURCE_MIB"
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


def source_limit(mebibytes: int | None = None) -> int:
    """The largest source file accepted, in bytes: ``mebibytes`` when given (the
    ``--max-source-mib`` option), else ``$FLOWC_MAX_SOURCE_MIB``, else 32 MiB.

    Raises ``SourceError`` for a malformed ``$FLOWC_MAX_SOURCE_MIB``.
    """
    if mebibytes is None:
        setting = os.environ.get(SOURCE_LIMIT_VARIABLE, "").strip()
        if not setting:
            return DEFAULT_SOURCE_LIMIT_MIB * MIB
        if not setting.isdigit() or int(setting) < 1:
            raise SourceError(
                f"{SOURCE_LIMIT_VARIABLE} must be a whole number of MiB, at least 1,"
                f" not {setting[:20]!r}"
            )
        mebibytes = int(setting)
    return mebibytes * MIB


def source_reader(limit: int) -> SourceReader:
    """``read_source_file`` with a size limit other than ``source_limit()``'s."""

    def read(path: str) -> str:
        return read_source_file(path, limit=limit)

    return read


def read_source_file(path: str, *, limit: int | None = None) -> str:
    """Read a root file from disk, or raise ``SourceError`` saying why not.

    Files larger than ``limit`` bytes (default ``source_limit()``) are refused
    after reading one byte more than the limit, never the whole file.
    """
    limit = source_limit() if limit is None else limit
    if not is_root_source(path) or not is_root_source(os.path.realpath(path)):
        # a `.flow` link to another file too
        raise SourceError(f"{path}: not a .flow file (nor a .json/.yaml flow definition)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{path}: is a directory, not a .flow file") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read: {error.strerror or error}") from None
    return decode_source(path, data, limit=limit)


def decode_source(path: str, data: bytes, *, limit: int | None = None) -> str:
    """Source text from a file's bytes, or ``SourceError``: too large (more than
    ``limit`` bytes, default ``source_limit()``), binary, or not UTF-8."""
    limit = source_limit() if limit is None else limit
    if len(data) > limit:
        raise SourceError(
            f"{path}: file is larger than {_size(limit)}, the limit for source files"
            f" ({RAISE_LIMIT})"
        )
    if b"\x00" in data:
        raise SourceError(f"{path}: file contains NUL bytes; is it a binary file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise SourceError(f"{path}:{line}: file is not valid UTF-8 (byte {error.start})") from None
    return text.removeprefix("\ufeff")


RAISE_LIMIT: Final = f"--max-source-mib or {SOURCE_LIMIT_VARIABLE} raise the limit"


def _size(size: int) -> str:
    return f"{size // MIB} MiB" if size % MIB == 0 else f"{size:,} bytes"


def exceeds(text: str, limit: int) -> bool:
    """Whether ``text`` takes more than ``limit`` bytes in UTF-8 (encoding it only
    when its length leaves the answer open)."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (if it runs) for the duration.

    The front end's phases build large, long-lived structures and free little;
    collections meanwhile only traverse what was built so far, again and again
    (lowering a 16,000-step flow took 2.2 s with them, 0.5 s without, a final
    full collection included).  The parser pauses it the same way.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


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

    def __init__(
        self, reader: SourceReader, sink: DiagnosticSink, cache: ParseCache, limit: int
    ) -> None:
        self.reader = reader
        self.sink = sink
        self.cache = cache
        self.limit = limit
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
        if exceeds(text, self.limit):
            start = ast.Span(shown, 1, 1, 1, 1)
            size = f"{len(text.encode('utf-8', 'surrogatepass')) / MIB:.1f} MiB"
            too_large = messages.SOURCE_TOO_LARGE
            return None, [too_large(start, size=size, limit=_size(self.limit), help=RAISE_LIMIT)]
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
    reader: SourceReader | None = None,
    cache: ParseCache | None = None,
    limit: int | None = None,
) -> Program:
    """Load ``root`` and its imports.  ``source`` overrides reading the root file;
    ``reader`` reading files (default ``read_source_file`` with ``limit``);
    ``limit`` is the source limit in bytes (default ``source_limit()``).

    Raises ``SourceError`` only when the root file itself cannot be read (or
    ``$FLOWC_MAX_SOURCE_MIB`` is malformed).
    """
    limit = source_limit() if limit is None else limit
    path = normalise(root)
    program = Program(path)
    reader = reader if reader is not None else source_reader(limit)
    loader = _Loader(reader, sink, cache or ParseCache(), limit)
    program.parse_cache = loader.cache
    if source is None:
        source = reader(path)
    loader.load(program, path, source)
    return program
