"""Compiling ``.proto`` files once: ``ProtoCache`` and its persistent store.

``ProtoCache.load(path)`` returns a ``LoadedProto``: the ``ProtoContract`` of the
file, or the problems ``protoc`` reported.  Like OpenAPI documents
(``openapi_store``), contracts are remembered in memory by path and the digests of
every file they were built from (the language server keeps one cache per session),
and a ``PersistentProtoCache`` keeps them on disk as well:

``<cache>/flowc/proto-<fingerprint>/<digest of path>.marshal`` holds the file's
path, the SHA-256 of every file of its import root that ``protoc`` read, and the
serialized ``FileDescriptorSet`` -- a few kilobytes, read in one go.  An entry is
used only when every file it was built from still has its digest, so an edited
import is noticed.  The fingerprint is a digest of flowc's version, the
grpcio-tools version (whose ``protoc`` and bundled well-known types made the
descriptors) and this package's proto sources.  Only successful compilations
are stored; a damaged entry is a miss; writes are atomic (``common/files.py``).
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Final

import attrs

from flowc.contracts.proto_document import ProtoProblem, compile_proto, file_digest
from flowc.contracts.proto_model import ProtoContract

_STORE_FORMAT: Final = 1
_SOURCES: Final = ("proto_document.py", "proto_model.py", "proto_store.py")


@attrs.define(eq=False)
class LoadedProto:
    contract: ProtoContract | None
    problems: list[ProtoProblem]


class ProtoCache:
    """Compiled ``.proto`` files by path, valid while their files' digests hold."""

    def __init__(self) -> None:
        self._memory: dict[str, ProtoContract] = {}

    def load(self, path: str) -> LoadedProto:
        known = self._memory.get(path)
        if known is not None and _still_valid(known.digests):
            return LoadedProto(known, [])
        stored = self.read_store(path)
        if stored is not None:
            self._memory[path] = stored
            return LoadedProto(stored, [])
        compiled = compile_proto(path)
        if compiled.descriptors is None:
            return LoadedProto(None, list(compiled.problems))
        try:
            contract = ProtoContract.from_descriptors(path, compiled.descriptors, compiled.digests)
        except Exception as error:  # protoc's own output should always read
            problem = ProtoProblem(path, f"unreadable descriptors: {error}", "unreadable")
            return LoadedProto(None, [problem])
        self._memory[path] = contract
        self.write_store(path, contract)
        return LoadedProto(contract, [])

    def read_store(self, path: str) -> ProtoContract | None:
        return None

    def write_store(self, path: str, contract: ProtoContract) -> None:
        return None


def _still_valid(digests: dict[str, str]) -> bool:
    return bool(digests) and all(file_digest(f) == d for f, d in digests.items())


class PersistentProtoCache(ProtoCache):
    """A ``ProtoCache`` that also keeps compiled files on disk (module docstring)."""

    def __init__(self, directory: str | None = None) -> None:
        super().__init__()
        if directory is None:
            from flowc.common.files import cache_directory

            directory = cache_directory()
        self.store = None if directory is None else Path(directory) / f"proto-{_fingerprint()}"

    def _entry(self, path: str) -> Path | None:
        if self.store is None:
            return None
        name = hashlib.sha256(path.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.store / f"{name}.marshal"

    def read_store(self, path: str) -> ProtoContract | None:
        entry = self._entry(path)
        if entry is None:
            return None
        try:
            with open(entry, "rb") as handle:
                stored_format, root, digests, descriptors = marshal.loads(handle.read())
            if stored_format != _STORE_FORMAT or root != path or not _still_valid(digests):
                return None
            return ProtoContract.from_descriptors(root, descriptors, digests)
        except Exception:  # missing or damaged: a miss, rewritten after compiling
            return None

    def write_store(self, path: str, contract: ProtoContract) -> None:
        entry = self._entry(path)
        if entry is None:
            return
        from flowc.common.files import write_atomically

        data = marshal.dumps((_STORE_FORMAT, path, contract.digests, contract.descriptors))
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(entry, data)
        except (OSError, ValueError):
            return  # not storing only costs the next check its speed


def _fingerprint() -> str:
    from importlib import metadata

    from flowc import __version__

    try:
        tools = metadata.version("grpcio-tools")
    except metadata.PackageNotFoundError:
        tools = "none"
    digest = hashlib.sha256(f"{__version__}\0{tools}".encode())
    here = os.path.dirname(os.path.abspath(__file__))
    for name in _SOURCES:
        try:
            digest.update(Path(here, name).read_bytes())
        except OSError:
            digest.update(name.encode())
    return digest.hexdigest()[:20]
