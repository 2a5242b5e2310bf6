"""A program's identity: one digest per declaration, to tell what changed.

A durable run remembers the program it ran (``runtime.engine``).  When it is
resumed, the program is compiled again from its files, and replaying its
journal is only sound if the code did not change under it.  ``program_identity``
gives each top-level declaration (``flow f``, ``service api``, ``type User``,
``const LIMIT``, ``import ...``) a digest of its source text, keyed by the
declaration and, for an imported file, the file's path relative to the root
file's directory (so moving the whole project keeps the keys).  Comparing two
identities names the declarations that changed, which is what a user needs
to hear when a resume is refused.

The digest is over the declaration's text with runs of white space folded, so
re-indenting a file does not count as a change; comments inside a
declaration do count (they are rare, and being strict here is safe).
"""

from __future__ import annotations

import hashlib
import os
import re
from typing import Final

from flowc.compiler import ast
from flowc.compiler.loader import Program

_SPACE: Final = re.compile(r"\s+")


def program_identity(program: Program) -> dict[str, str]:
    """Declaration key -> digest of its text, for every module of ``program``."""
    base = os.path.dirname(os.path.abspath(program.root))
    identity: dict[str, str] = {}
    for path in program.order or list(program.modules):
        loaded = program.modules[path]
        if loaded.module is None:
            continue
        prefix = "" if path == program.root else f"{os.path.relpath(path, base)}: "
        for decl in loaded.module.decls:
            text = loaded.source[decl.span.start : decl.span.end]
            digest = hashlib.sha256(_SPACE.sub(" ", text).strip().encode()).hexdigest()[:16]
            identity[prefix + declaration_key(decl)] = digest
    return identity


def declaration_key(decl: ast.Decl) -> str:
    if isinstance(decl, ast.FlowDecl):
        return f"flow {decl.name}"
    if isinstance(decl, ast.ServiceDecl):
        return f"service {decl.name}"
    if isinstance(decl, ast.TypeDecl):
        return f"type {decl.name}"
    if isinstance(decl, ast.ConstDecl):
        return f"const {decl.name}"
    if isinstance(decl, ast.ImportDecl):
        return f"import {decl.path!r}"
    name = getattr(decl, "name", "")
    return f"{type(decl).__name__} {name}".strip()


def program_digest(identity: dict[str, str]) -> str:
    """One digest for the whole program."""
    digest = hashlib.sha256()
    for key in sorted(identity):
        digest.update(f"{key}\0{identity[key]}\n".encode())
    return digest.hexdigest()[:20]


def changed_declarations(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The declarations of ``before`` that ``after`` changed or removed.

    Declarations added since do not count: nothing the run executed can have
    referred to them.
    """
    changed = [key for key in before if key in after and before[key] != after[key]]
    removed = [f"{key} (removed)" for key in before if key not in after]
    return changed + removed
