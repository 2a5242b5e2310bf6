"""Loading OpenAPI documents once: ``ContractCache`` and its persistent store.

``ContractCache.load(path)`` returns a ``Loaded``: the ``Contract``, or the problems
that stopped it (unreadable file, syntax error, invalid OpenAPI), plus the texts
read, so diagnostics can point into them.  Contracts are remembered in memory by
path and the digests of every file they were built from (the language server keeps
one cache for a session, so an unchanged document is never read twice), and, in a
``PersistentContractCache``, on disk as well, the way ``compiler/parse_store.py``
keeps parsed flows:

``<cache>/flowc/openapi-<fingerprint>/<digest of path>.marshal`` holds a header --
the contract's state (``Contract.to_state``: the operation index, servers, security,
the SHA-256 of each file it was built from) and a table of where each piece's bytes
lie -- followed by the pieces.  Loading reads the header only; a piece is read
(``os.pread``) when a step first needs it, so a cached GitHub description costs
the digest of its 13 MB and a header of ~100 KB.  An entry is used only when every
file it was built from still has its digest.  ``marshal`` is used rather than
``pickle`` because the header is plain data and marshal reads it faster.  The
fingerprint is a digest of this
package's sources, so a changed loader never reads an older entry.  Only valid
documents are stored; a damaged or unreadable entry is a miss; writes are atomic.

Bounds: a document is at most ``MAX_DOCUMENT_BYTES``; at most ``MAX_FILES`` files
are followed through external ``$ref``s.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any, Final

import attrs

from flowc.contracts.openapi_document import (
    MAX_DOCUMENT_BYTES,
    DocumentSyntaxError,
    is_json_text,
    parse_document,
)
from flowc.contracts.openapi_model import (
    Contract,
    ContractInvalid,
    Pieces,
    Problem,
    build_contract,
    external_files,
    join_file,
)

MAX_FILES: Final = 50
_STORE_FORMAT: Final = 2
_HEADER_SIZE: Final = 8
_SOURCES: Final = ("openapi_document.py", "openapi_model.py", "openapi_store.py")


@attrs.define(eq=False)
class Loaded:
    contract: Contract | None
    problems: list[Problem]
    texts: dict[str, str]  # file -> text, for the files read in this load


class _Unreadable(Exception):
    pass


def read_document_text(path: str) -> tuple[str, str]:
    """A document's text and its digest (``_Unreadable`` with a reason)."""
    data, digest = read_document_bytes(path)
    return decode_document(data), digest


def read_document_bytes(path: str) -> tuple[bytes, str]:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
    except FileNotFoundError:
        raise _Unreadable("no such file") from None
    except IsADirectoryError:
        raise _Unreadable("is a directory") from None
    except OSError as error:
        raise _Unreadable(f"cannot read: {error.strerror or error}") from None
    if len(data) > MAX_DOCUMENT_BYTES:
        raise _Unreadable(f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB")
    return data, hashlib.sha256(data).hexdigest()


def decode_document(data: bytes) -> str:
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise _Unreadable(f"not valid UTF-8 (byte {error.start})") from None


def file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(MAX_DOCUMENT_BYTES + 1)).hexdigest()
    except OSError:
        return None


class ContractCache:
    """Loaded contracts by path, valid while their files' digests are unchanged."""

    def __init__(self) -> None:
        self._memory: dict[str, Contract] = {}

    def load(self, path: str) -> Loaded:
        try:
            data, digest = read_document_bytes(path)
            known = self._memory.get(path)
            if known is not None and _still_valid(known, path, digest):
                return Loaded(known, [], {})
            stored = self.read_store(path, digest)
            if stored is not None:
                self._memory[path] = stored
                return Loaded(stored, [], {})
            text = decode_document(data)
        except _Unreadable as error:
            return Loaded(None, [Problem(path, "", str(error), "unreadable")], {})
        loaded = _load_fresh(path, text, digest)
        if loaded.contract is not None:
            self._memory[path] = loaded.contract
            self.write_store(path, loaded.contract)
        return loaded

    def read_store(self, path: str, digest: str) -> Contract | None:
        return None

    def write_store(self, path: str, contract: Contract) -> None:
        return None


def _still_valid(contract: Contract, root: str, root_digest: str) -> bool:
    for file, digest in contract.digests.items():
        current = root_digest if file == root else file_digest(file)
        if current != digest:
            return False
    return True


def _load_fresh(root: str, text: str, digest: str) -> Loaded:
    texts = {root: text}
    documents: dict[str, Any] = {}
    digests = {root: digest}
    problems: list[Problem] = []
    pending = [root]
    while pending and not problems:
        file = pending.pop()
        if file in documents:
            continue
        if file not in texts:
            try:
                texts[file], digests[file] = read_document_text(file)
            except _Unreadable as error:
                problems.append(Problem(file, "", str(error), "unreadable"))
                break
        try:
            documents[file] = parse_document(texts[file])
        except DocumentSyntaxError as error:
            position = (error.line, error.col)
            problems.append(Problem(file, "", error.message, "syntax", position))
            break
        for location in external_files(texts[file], is_json_text(texts[file])):
            if "://" in location:
                continue
            target = join_file(file, location)
            if target not in documents and target not in pending:
                pending.append(target)
        if len(documents) + len(pending) > MAX_FILES:
            problems.append(
                Problem(file, "", f"the document references more than {MAX_FILES} files")
            )
    if problems:
        return Loaded(None, problems, texts)
    try:
        contract = build_contract(root, documents, digests)
    except ContractInvalid as invalid:
        return Loaded(None, invalid.problems, texts)
    except RecursionError:
        return Loaded(None, [Problem(root, "", "the document is nested too deeply")], texts)
    return Loaded(contract, [], texts)


class PersistentContractCache(ContractCache):
    """A ``ContractCache`` that also keeps valid contracts on disk (module docstring)."""

    def __init__(self, directory: str | None = None) -> None:
        super().__init__()
        if directory is None:
            from flowc.compiler.parse_store import cache_directory

            directory = cache_directory()
        self.store = None if directory is None else Path(directory) / f"openapi-{_fingerprint()}"

    def _entry(self, path: str) -> Path | None:
        if self.store is None:
            return None
        name = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.store / f"{name}.marshal"

    def read_store(self, path: str, digest: str) -> Contract | None:
        entry = self._entry(path)
        if entry is None:
            return None
        try:
            with open(entry, "rb") as handle:
                size = int.from_bytes(handle.read(_HEADER_SIZE), "little")
                stored_format, state, table = marshal.loads(handle.read(size))
            if stored_format != _STORE_FORMAT:
                return None
            pieces = StoredPieces(str(entry), _HEADER_SIZE + size, table)
            contract = Contract.from_state(state, pieces)
        except Exception:  # missing or damaged: a miss, rewritten after loading
            return None
        if contract.root != path or not _still_valid(contract, path, digest):
            return None
        return contract

    def write_store(self, path: str, contract: Contract) -> None:
        entry = self._entry(path)
        if entry is None:
            return
        from flowc.compiler.parse_store import write_atomically

        table: dict[str, dict[str, tuple[int, int]]] = {}
        chunks: list[bytes] = []
        offset = 0
        for file, pieces in contract.pieces.all().items():
            table[file] = {}
            for key, data in pieces.items():
                table[file][key] = (offset, len(data))
                chunks.append(data)
                offset += len(data)
        header = marshal.dumps((_STORE_FORMAT, contract.to_state(), table))
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            size = len(header).to_bytes(_HEADER_SIZE, "little")
            write_atomically(entry, b"".join([size, header, *chunks]))
        except (OSError, ValueError):
            return  # not storing only costs the next run its speed


class StoredPieces(Pieces):
    """Pieces read from a store entry when first asked for."""

    def __init__(self, entry: str, base: int, table: dict[str, dict[str, tuple[int, int]]]) -> None:
        super().__init__({})
        self.entry = entry
        self.base = base
        self.offsets = table

    def files(self) -> list[str]:
        return list(self.offsets)

    def has_file(self, file: str) -> bool:
        return file in self.offsets

    def keys(self, file: str) -> list[str]:
        return list(self.offsets.get(file, ()))

    def get(self, file: str, key: str) -> bytes:
        offset, length = self.offsets[file][key]
        with open(self.entry, "rb") as handle:
            data = os.pread(handle.fileno(), length, self.base + offset)
        if len(data) != length:
            raise KeyError(key)  # the entry changed under us: treated as a missing piece
        return data

    def all(self) -> dict[str, dict[str, bytes]]:
        return {f: {k: self.get(f, k) for k in keys} for f, keys in self.offsets.items()}


def _fingerprint() -> str:
    from flowc import __version__

    digest = hashlib.sha256(__version__.encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _SOURCES:
        try:
            digest.update(Path(here, name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:20]
