"""Reading a ``.proto`` file: the protocol buffer compiler's descriptors, or its errors.

``compile_proto(path)`` runs ``protoc`` -- the one that ``grpcio-tools`` ships, as
``python -m grpc_tools.protoc`` -- on the file, with the file's own directory as
the import root and the well-known types (``google/protobuf/*.proto``) that
``grpcio-tools`` bundles, and returns a ``Compiled``: the serialized
``FileDescriptorSet`` of the file and everything it imports, and the files of
the import root that were read (with their SHA-256, for the store), or the
problems ``protoc`` reported, each with its file, line and column.

Why the real compiler, in a process of its own: the ``.proto`` language
(imports, options, proto2 and proto3 and editions, extensions) is large, and
``protoc``'s answer is the one the service's own build sees.  In a separate
process its diagnostics (written to its standard error) are ours to parse and
a crash in it cannot take the checker down; it costs ~0.2 s, paid once, since
the result is stored (``proto_store``).  ``grpcio-tools`` is optional
(``pip install 'flowc[grpc]'``): without it a gRPC service's ``.proto`` file
is a clear problem, never an import error.

Bounds: a ``.proto`` file is at most ``MAX_PROTO_BYTES``, ``protoc`` runs at
most ``PROTOC_SECONDS`` and its descriptor set may hold at most
``MAX_DESCRIPTOR_BYTES``; at most ``MAX_PROBLEMS`` problems are kept.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
from typing import Final

import attrs

MAX_PROTO_BYTES: Final = 4 * 1024 * 1024
MAX_DESCRIPTOR_BYTES: Final = 32 * 1024 * 1024
PROTOC_SECONDS: Final = 60.0
MAX_PROBLEMS: Final = 20
_LOCATED: Final = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")
_FILE_MESSAGE: Final = re.compile(r"^(?P<file>[^:\n]+\.proto): (?P<message>.+)$")


@attrs.frozen(slots=True)
class ProtoProblem:
    """Something wrong with a ``.proto`` file: where and what."""

    file: str  # absolute path
    message: str
    kind: str = "syntax"  # syntax | unreadable
    position: tuple[int, int] | None = None  # 1-based line and column


@attrs.frozen(slots=True)
class Compiled:
    """``protoc``'s answer for one file."""

    descriptors: bytes | None  # a serialized FileDescriptorSet, imports included
    digests: dict[str, str]  # file of the import root -> SHA-256, for every file read
    problems: tuple[ProtoProblem, ...] = ()


def file_digest(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read(MAX_PROTO_BYTES + 1)).hexdigest()
    except OSError:
        return None


def read_proto_text(path: str) -> str | None:
    """A ``.proto`` file's text for rendering diagnostics (None when unreadable)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_PROTO_BYTES).decode("utf-8", "replace")
    except OSError:
        return None


def compile_proto(path: str) -> Compiled:
    """Run ``protoc`` on ``path`` (absolute); see the module docstring."""
    unreadable = _unreadable(path)
    if unreadable is not None:
        return Compiled(None, {}, (ProtoProblem(path, unreadable, "unreadable"),))
    root, name = os.path.split(path)
    with tempfile.TemporaryDirectory(prefix="flowc-protoc-") as scratch:
        output = os.path.join(scratch, "descriptors.pb")
        command = [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"--proto_path={root}",
            f"--descriptor_set_out={output}",
            "--include_imports",
            name,
        ]
        try:
            finished = subprocess.run(
                command,
                cwd=root,
                capture_output=True,
                timeout=PROTOC_SECONDS,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            message = f"protoc did not finish within {PROTOC_SECONDS:g} s"
            return Compiled(None, {}, (ProtoProblem(path, message, "unreadable"),))
        except OSError as error:
            message = f"cannot run protoc: {error.strerror or error}"
            return Compiled(None, {}, (ProtoProblem(path, message, "unreadable"),))
        errors = finished.stderr.decode("utf-8", "replace")
        if finished.returncode != 0 or not os.path.exists(output):
            return Compiled(None, {}, tuple(_problems(errors, root, path)))
        if os.path.getsize(output) > MAX_DESCRIPTOR_BYTES:
            message = f"its descriptors are larger than {MAX_DESCRIPTOR_BYTES // 2**20} MiB"
            return Compiled(None, {}, (ProtoProblem(path, message, "unreadable"),))
        with open(output, "rb") as handle:
            descriptors = handle.read()
    return Compiled(descriptors, _digests(descriptors, root))


def _unreadable(path: str) -> str | None:
    """Why ``path`` cannot be compiled before ``protoc`` is asked (None: try it)."""
    if not os.path.exists(path):
        return "no such file"
    if os.path.isdir(path):
        return "is a directory"
    if os.path.getsize(path) > MAX_PROTO_BYTES:
        return f"larger than {MAX_PROTO_BYTES // 2**20} MiB"
    if importlib.util.find_spec("grpc_tools") is None:
        return "compiling .proto files needs grpcio-tools: pip install 'flowc[grpc]'"
    return None


def _problems(errors: str, root: str, path: str) -> list[ProtoProblem]:
    """``protoc``'s standard error as problems (``file:line:col: message`` lines)."""
    found: list[ProtoProblem] = []
    for line in errors.splitlines():
        line = line.strip()
        located = _LOCATED.match(line)
        if located is not None:
            if located["message"].startswith("warning:"):
                continue
            file = os.path.normpath(os.path.join(root, located["file"]))
            position = (int(located["line"]), int(located["col"]))
            found.append(ProtoProblem(file, located["message"], "syntax", position))
        elif line and not line.startswith("warning:"):
            named = _FILE_MESSAGE.match(line)
            file = os.path.normpath(os.path.join(root, named["file"])) if named else path
            message = named["message"] if named else line
            found.append(ProtoProblem(file, message, "syntax", None))
        if len(found) >= MAX_PROBLEMS:
            break
    if not found:
        found.append(ProtoProblem(path, "protoc failed without a message", "unreadable"))
    return found


def _digests(descriptors: bytes, root: str) -> dict[str, str]:
    """The SHA-256 of every file of the import root the descriptors were built from
    (the bundled well-known types are not among them: the store's fingerprint names
    the grpcio-tools version that ships them)."""
    from google.protobuf import descriptor_pb2

    files = descriptor_pb2.FileDescriptorSet.FromString(descriptors)
    digests = {}
    for proto in files.file:
        candidate = os.path.normpath(os.path.join(root, proto.name))
        if not candidate.startswith(root + os.sep) and candidate != root:
            continue
        digest = file_digest(candidate)
        if digest is not None:
            digests[candidate] = digest
    return digests
