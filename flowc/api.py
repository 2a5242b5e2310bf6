"""The Python API for people who embed flowc.

::

    import flowc, trio

    program = flowc.compile_file("examples/user_registration.flow")
    result = trio.run(program.run, "user_registration", {"user_id": "u1", "name": "Ada"})
    # or, outside trio:
    result = flowc.run_file("examples/hello.flow", inputs={"name": "Ada"})
    flowc.evaluate("size(xs) > 2", xs=[1, 2, 3])   # True

``compile_file``/``compile_source`` raise ``CompileError`` (with the
diagnostics) when a program has errors; ``Program.run`` raises ``InputError``
for inputs that do not match the flow's parameters (before anything is sent)
and ``FlowError`` when the flow fails.  ``Program.run`` is an ``async``
function meant to be awaited inside the caller's own trio program; it opens
one HTTP connection pool for the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import IO, TYPE_CHECKING, Any

import trio

from flowc.compiler import Compilation
from flowc.compiler import compile_file as _check_file
from flowc.compiler import compile_source as _check_source
from flowc.compiler.diagnostics import Diagnostic, render
from flowc.compiler.ir import ProgramIR
from flowc.compiler.loader import ParseCache
from flowc.runtime.programs import (
    InputError,
    LoadedProgram,
    ProgramSource,
    unknown_parameters,
)

if TYPE_CHECKING:
    from flowc.runtime.hooks import Hook
    from flowc.runtime.store import Store

__all__ = [
    "CompileError",
    "InputError",
    "Program",
    "compile_file",
    "compile_source",
    "run_file",
    "unknown_parameters",
]


class CompileError(Exception):
    """A program did not compile; ``diagnostics`` says why."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
        self.diagnostics = diagnostics
        self.sources = sources
        errors = [d for d in diagnostics if d.is_error]
        text = "\n".join(render(d, sources.get(d.span.file)).rstrip() for d in errors[:5])
        super().__init__(f"{len(errors)} error(s):\n{text}")


class Program(LoadedProgram):
    """A compiled `.flow` program, ready to run."""

    def __init__(self, compilation: Compilation, program_ir: ProgramIR, path: str) -> None:
        from flowc.compiler.identity import program_identity

        super().__init__(
            program_ir, ProgramSource(path, program_identity(compilation.result.program))
        )
        self.compilation = compilation

    async def run(
        self,
        flow: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        sequential: bool = False,
        trace: IO[str] | None = None,
        run_id: str | None = None,
        store: Store | None = None,
        hooks: Iterable[Hook] = (),
    ) -> Any:
        """Run a flow of this program inside the current trio run.

        Without ``store`` the run is ephemeral; with one (``flowc.open_store(url)``) it
        is journaled and ``Engine.resume`` can continue it.  It opens one HTTP
        connection pool for the run; embedders running many flows share an ``Engine``.
        """
        from flowc.runtime.engine import Engine
        from flowc.runtime.trace import JsonLinesSink

        sinks: list[Hook] = list(hooks)
        if trace is not None:
            sinks.append(JsonLinesSink(trace))
        async with Engine(store=store) as engine:
            return await engine.run(
                self, flow, inputs, run_id=run_id, sequential=sequential, hooks=sinks
            )


def _program(compilation: Compilation, path: str) -> Program:
    if not compilation.ok:
        raise CompileError(compilation.diagnostics, compilation.sources)
    from flowc.compiler.lowering import lower_program

    return Program(compilation, lower_program(compilation.result), path)


def compile_file(path: str, *, parse_cache: ParseCache | None = None) -> Program:
    """Compile a `.flow` file and what it imports; ``CompileError`` on errors.

    ``parse_cache`` may be a ``flowc.compiler.parse_store.PersistentParseCache``
    to keep parsed files on disk between processes, as the command line does.
    """
    return _program(_check_file(path, cache=parse_cache), os.path.abspath(path))


def compile_source(text: str, name: str = "<input>.flow") -> Program:
    """Compile `.flow` source text; imports resolve from the working directory."""
    return _program(_check_source(text, name), name)


def run_file(
    path: str,
    flow: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    *,
    sequential: bool = False,
) -> Any:
    """Compile and run a flow from synchronous code (starts its own trio run)."""
    program = compile_file(path)
    return trio.run(lambda: program.run(flow, inputs, sequential=sequential))
