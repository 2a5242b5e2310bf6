"""Files flowc keeps between runs: where its caches live, and how they are written.

Three caches share one per-user directory, ``$XDG_CACHE_HOME/flowc`` (else
``~/.cache/flowc``, else the system's temporary directory): the parser snapshot
(``compiler/parser_tables.py``), the parse store (``compiler/parse_store.py``) and
the contract stores of OpenAPI documents and ``.proto`` files (``contracts/``).
Each is rebuilt when missing, so the directory may be deleted at any time.

Every entry is written with ``write_atomically``: through a private temporary file
renamed into place, so a concurrent process reads the old entry or the new one,
never half of one.  The helpers live in the shared vocabulary because both the
compiler and the contract documents below it write caches.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def cache_directory() -> str | None:
    """The per-user directory for flowc's caches (None when nothing is writable)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    directory = os.path.join(base, "flowc")
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        directory = tempfile.gettempdir()
    return directory if os.access(directory, os.W_OK) else None


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place, so a
    concurrent reader sees the old file or the new one, never half of one.  The
    file is private to the user (``mkstemp`` makes it 0600); on failure the
    temporary file is removed and the ``OSError`` raised."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
