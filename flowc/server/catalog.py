"""The flows a server or a worker offers: every flow of the files it was given.

``flowc serve FILE|DIR...`` and ``flowc worker FILE|DIR...`` take files and
directories; a directory contributes its ``*.flow`` files (not its
sub-directories, which usually hold the files those import).  Each file is
compiled once; each flow its root file declares is offered under its own
name, so two files may not declare flows of one name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import attrs

from flowc.compiler import ir
from flowc.runtime.programs import LoadedProgram
from flowc.server import messages


class CatalogError(Exception):
    """The flows cannot be loaded (one line, or diagnostics in ``compile_error``)."""

    def __init__(self, message: str, compile_error: object = None) -> None:
        super().__init__(message)
        self.compile_error = compile_error


@attrs.frozen
class Offered:
    program: LoadedProgram
    flow: ir.FlowIR
    path: str


class Catalog:
    def __init__(self, offered: dict[str, Offered]) -> None:
        self.offered = offered

    @property
    def names(self) -> list[str]:
        return list(self.offered)

    def get(self, name: str) -> Offered | None:
        return self.offered.get(name)

    @property
    def flows(self) -> list[ir.FlowIR]:
        return [o.flow for o in self.offered.values()]


def flow_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        files += sorted(path.glob("*.flow")) if path.is_dir() else [path]
    return files


def load_catalog(paths: Sequence[str]) -> Catalog:
    import os

    from flowc.compiler import SourceError, compile_file
    from flowc.compiler.identity import program_identity
    from flowc.compiler.lowering import lower_program
    from flowc.compiler.parse_store import PersistentParseCache
    from flowc.runtime.programs import ProgramSource

    files = flow_files(paths)
    if not files:
        raise CatalogError(messages.NO_FLOWS.format(paths=", ".join(paths)))
    cache = PersistentParseCache()
    offered: dict[str, Offered] = {}
    for file in files:
        try:
            compilation = compile_file(str(file), cache=cache)
        except SourceError as error:
            raise CatalogError(str(error)) from None
        if not compilation.ok:
            raise CatalogError(f"{file} does not compile", compilation)
        source = ProgramSource(os.path.abspath(file), program_identity(compilation.result.program))
        program = LoadedProgram(lower_program(compilation.result), source)
        for flow in program.ir.flows_of(program.ir.root):
            if flow.name in offered:
                first = offered[flow.name].path
                raise CatalogError(
                    messages.DUPLICATE_FLOW.format(flow=flow.name, first=first, second=file)
                )
            offered[flow.name] = Offered(program, flow, str(file))
    return Catalog(offered)
