"""Parsed modules kept on disk between runs: ``PersistentParseCache``.

Parsing is the one front-end phase whose result depends on nothing but the
file's text, so it is the phase worth remembering across processes, the way
Python keeps compiled bytecode in ``__pycache__``.  When every file of a program
is in the store, a ``flowc check`` or ``flowc run`` never imports the parser or
Lark at all: about 30 ms of a ~250 ms start on the reference machine (importing
Lark, loading the parser tables, parsing).  Everything after parsing -- resolving,
type checking, lowering -- runs as always, so the diagnostics and the program
are exactly what a fresh parse would give.

Layout.  ``<cache>/flowc/ast-<fingerprint>/<digest of path>.pickle``, one file
per source path as the diagnostics show it (the AST's spans carry that name),
each holding the pickled pair ``(digest of the text, module)``.  An entry is
used only when the text's digest matches.  The *fingerprint* is a digest of
flowc's version, Python's version and the parser's own source files (the
grammar, the builder, the AST classes), so a changed parser never meets a tree
an older one built; directories of other fingerprints are removed when a new
one is made.  Only successful parses are stored: a file with a syntax error is
parsed again, so its message is always the current parser's.

Size.  Only files of up to 4 MiB are stored (``MAX_STORED_SOURCE``).  An
entry takes about 8 bytes of pickle per byte of source and loads at about
0.4 s per MiB of source (against about 4 s to parse it), but writing it costs
a quarter of the parse again, and an entry for a 32 MiB file would be a
quarter of a GiB; larger files are parsed every time.  The collector is paused
while an entry is pickled or unpickled: both make millions of objects it would
otherwise rescan, seven times over for a large entry.

Failures are misses.  A damaged or unreadable entry is parsed again and
rewritten; with no writable cache directory nothing is stored.  Writes go to a
temporary file renamed into place, so a concurrent process sees the old entry
or the new one, never half of one.  Entries are private to the user (mode
0600, as ``mkstemp`` makes them) and trusted as much as the rest of the user's
cache directory; they hold syntax trees of source text, never run-time values
such as secrets.
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from flowc.common.files import cache_directory, write_atomically
from flowc.compiler import ast
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.loader import MIB, ParseCache, collector_paused, exceeds

if TYPE_CHECKING:
    from flowc.contracts.openapi_store import ContractCache
    from flowc.contracts.proto_store import ProtoCache

_PACKAGE: Final = Path(__file__).resolve().parent.parent
_PARSER_SOURCES: Final = (
    "grammar/flow.lark",
    "grammar/keywords.py",
    "compiler/ast.py",
    "common/span.py",
    "compiler/ast_builder.py",
    "compiler/lexical.py",
    "compiler/parser.py",
    "compiler/parser_tables.py",
)
MAX_STORED_SOURCE: Final = 4 * MIB


def parser_fingerprint() -> str:
    """A digest that changes whenever the parser could build a different tree."""
    from flowc import __version__

    digest = hashlib.sha256(f"{__version__}\0{sys.version}".encode())
    for name in _PARSER_SOURCES:
        try:
            digest.update((_PACKAGE / name).read_bytes())
        except OSError:
            digest.update(f"missing {name}".encode())
    return digest.hexdigest()[:20]


class PersistentParseCache(ParseCache):
    """A ``ParseCache`` that also keeps successful parses on disk (module docstring)."""

    def __init__(self, directory: str | None = None) -> None:
        super().__init__()
        base = directory if directory is not None else cache_directory()
        self.store = None if base is None else Path(base) / f"ast-{parser_fingerprint()}"

    def contracts(self) -> ContractCache:
        """OpenAPI documents are kept beside the parsed files (``openapi_store``)."""
        if self._contracts is None:
            from flowc.contracts.openapi_store import ContractCache, PersistentContractCache

            base = None if self.store is None else str(self.store.parent)
            self._contracts = PersistentContractCache(base) if base else ContractCache()
        return self._contracts

    def protos(self) -> ProtoCache:
        """Compiled ``.proto`` files are kept beside the parsed files (``proto_store``)."""
        if self._protos is None:
            from flowc.contracts.proto_store import PersistentProtoCache, ProtoCache

            base = None if self.store is None else str(self.store.parent)
            self._protos = PersistentProtoCache(base) if base else ProtoCache()
        return self._protos

    def parse_uncached(self, path: str, text: str) -> tuple[ast.Module | None, Diagnostic | None]:
        if self.store is None or exceeds(text, MAX_STORED_SOURCE):
            return super().parse_uncached(path, text)
        text_digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
        entry = self.store / _entry_name(path)
        module = _read_entry(entry, text_digest)
        if module is not None:
            return module, None
        result = super().parse_uncached(path, text)
        if result[0] is not None:
            self._write_entry(entry, text_digest, result[0])
        return result

    def _write_entry(self, entry: Path, text_digest: bytes, module: ast.Module) -> None:
        assert self.store is not None
        try:
            if not self.store.is_dir():
                self.store.mkdir(parents=True, exist_ok=True)
                _remove_other_generations(self.store)
            with collector_paused():
                data = pickle.dumps((text_digest, module), protocol=pickle.HIGHEST_PROTOCOL)
            write_atomically(entry, data)
        except (OSError, pickle.PicklingError, RecursionError):
            return  # not storing only costs the next run its speed


def _entry_name(path: str) -> str:
    return hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".pickle"


def _read_entry(entry: Path, text_digest: bytes) -> ast.Module | None:
    try:
        with open(entry, "rb") as file, collector_paused():
            stored_digest, module = pickle.load(file)
    except Exception:  # missing or damaged: a miss (a damaged one is rewritten after parsing)
        return None
    if stored_digest != text_digest or not isinstance(module, ast.Module):
        return None
    return module


def _remove_other_generations(store: Path) -> None:
    for sibling in store.parent.glob("ast-*"):
        if sibling != store and sibling.is_dir():
            shutil.rmtree(sibling, ignore_errors=True)
