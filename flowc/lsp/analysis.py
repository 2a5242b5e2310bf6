"""Analysing a document: the checker run on editor buffers, and its result.

``Analyzer.analyze`` runs the same pipeline as ``compile_file`` — load the
root file and its imports, check them — with two differences that an editor
needs:

* files are read through an *overlay*: a document open in the editor is
  read from its buffer (unsaved text), any other file from disk.  So an edit
  to an imported file that is open shows up in its importers at once;
* parsing goes through one long-lived ``ChunkedParseCache``, so an unchanged
  import is never re-parsed and a changed file re-parses only the
  declarations that changed;
* the cyclic garbage collector is paused while the checker runs (it
  allocates many small objects and frees few), as the parser already does.

The result is a ``Snapshot``: the text that was analysed, its version, the
``Compilation`` (program, diagnostics, ``CheckInfo``) and a few indexes that
features build lazily and share (line indexes of each file, the symbols of
each declaring node).  A snapshot is never modified after it is published,
so the request handlers on the event loop may read one while the worker
thread builds the next.

A snapshot whose root module parsed is *good*; features fall back to the
last good snapshot of a document while its current text does not parse.

Paths.  The compiler names files in spans by their display path (relative to
the working directory when that is shorter); ``Snapshot.path_of`` turns a
span's file back into the absolute path, and ``uri_for_path`` into a URI —
the URI the editor used when the file is open.
"""

from __future__ import annotations

import functools
import gc
import os
import time
from collections.abc import Callable, Mapping

import attrs

from flowc.compiler import Compilation, ast
from flowc.compiler.checker import check_program
from flowc.compiler.diagnostics import DiagnosticSink
from flowc.compiler.loader import (
    LoadedModule,
    display_path,
    load_program,
    normalise,
    read_source_file,
)
from flowc.compiler.scope import Symbol
from flowc.compiler.symbols import ModuleSymbols
from flowc.lsp.chunks import ChunkedParseCache
from flowc.lsp.positions import UTF16, LineIndex


@attrs.define(eq=False)
class Snapshot:
    """One analysis of one document (and everything it imports)."""

    uri: str
    path: str  # absolute, normalised
    version: int | None
    text: str
    compilation: Compilation
    seconds: float = 0.0
    encoding: str = UTF16
    _indexes: dict[str, LineIndex] = attrs.field(factory=dict)
    _symbols_by_node: dict[int, list[Symbol]] | None = None

    # ----------------------------------------------------------- the root module

    @property
    def loaded(self) -> LoadedModule | None:
        return self.compilation.result.program.modules.get(self.path)

    @property
    def module(self) -> ast.Module | None:
        """The root file's syntax tree, or None when it does not parse."""
        loaded = self.loaded
        return loaded.module if loaded is not None else None

    @property
    def module_file(self) -> str:
        """How spans of the root file name it (its display path)."""
        return display_path(self.path)

    @property
    def symbols(self) -> ModuleSymbols | None:
        return self.compilation.result.modules.get(self.path)

    @property
    def good(self) -> bool:
        return self.module is not None

    @property
    def module_paths(self) -> list[str]:
        return list(self.compilation.result.program.modules)

    # ----------------------------------------------------------- files and positions

    def source_of(self, path: str) -> str | None:
        loaded = self.compilation.result.program.modules.get(path)
        return loaded.source if loaded is not None else None

    def index_of(self, path: str) -> LineIndex | None:
        """A line index of a file of the program (the root's own text for the root)."""
        found = self._indexes.get(path)
        if found is None:
            source = self.text if path == self.path else self.source_of(path)
            if source is None:
                return None
            found = self._indexes[path] = LineIndex(source, self.encoding)
        return found

    @property
    def index(self) -> LineIndex:
        found = self.index_of(self.path)
        assert found is not None
        return found

    def path_of(self, span_file: str) -> str:
        """The absolute path of a span's file (spans name files by display path)."""
        return normalise(span_file)

    # ----------------------------------------------------------- symbols

    def symbols_of(self, node: ast.Node) -> list[Symbol]:
        """The symbols a declaring node introduced (a loop declares two)."""
        if self._symbols_by_node is None:
            table: dict[int, list[Symbol]] = {}
            for symbol in self.compilation.result.info.symbols:
                if symbol.node is not None:
                    table.setdefault(id(symbol.node), []).append(symbol)
            self._symbols_by_node = table
        return self._symbols_by_node.get(id(node), [])

    def symbol_named(self, node: ast.Node, name: str) -> Symbol | None:
        for symbol in self.symbols_of(node):
            if symbol.name == name:
                return symbol
        return None


Overlay = Mapping[str, str]  # absolute path -> buffer text of an open document


def overlay_reader(overlay: Overlay) -> Callable[[str], str]:
    """Read a file from the editor's buffers when it is open, else from disk."""

    def read(path: str) -> str:
        text = overlay.get(path)
        return text if text is not None else read_source_file(path)

    return read


class Analyzer:
    """Runs the checker on documents, sharing one incremental parse cache.

    Not thread-safe: the server calls it from a single worker thread.
    """

    def __init__(self) -> None:
        self.cache = ChunkedParseCache()

    def analyze(
        self,
        uri: str,
        path: str,
        text: str,
        version: int | None,
        overlay: Overlay,
        encoding: str = UTF16,
    ) -> Snapshot:
        started = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()  # the checker allocates a lot and frees little: no GC pauses meanwhile
        try:
            sink = DiagnosticSink()
            program = load_program(
                path, sink=sink, source=text, reader=overlay_reader(overlay), cache=self.cache
            )
            result = check_program(program, sink)
        finally:
            if collecting:
                gc.enable()
        sources = {display_path(p): m.source for p, m in program.modules.items()}
        compilation = Compilation(result, sink.sorted(), sources)
        seconds = time.perf_counter() - started
        return Snapshot(uri, path, version, text, compilation, seconds, encoding)

    def forget(self, path: str) -> None:
        self.cache.forget(display_path(path))


@functools.lru_cache(maxsize=1024)
def uri_to_path(uri: str) -> str:
    """The absolute path of a document URI (a pseudo path for unsaved buffers)."""
    from pygls.uris import to_fs_path

    if uri.startswith("file:"):
        path = to_fs_path(uri)
        if path:
            return normalise(path)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in uri.rsplit("/", 1)[-1])
    if not name.endswith(".flow"):
        name += ".flow"
    return normalise(os.path.join(os.getcwd(), f".unsaved-{name}"))


def path_to_uri(path: str) -> str:
    from pygls.uris import from_fs_path

    return from_fs_path(path) or f"file://{path}"


__all__ = [
    "Analyzer",
    "Overlay",
    "Snapshot",
    "path_to_uri",
    "uri_to_path",
]
