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

from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

import trio

from flowc.compiler import Compilation
from flowc.compiler import compile_file as _check_file
from flowc.compiler import compile_source as _check_source
from flowc.compiler.diagnostics import Diagnostic, render
from flowc.compiler.ir import FlowIR, ProgramIR
from flowc.compiler.loader import ParseCache

if TYPE_CHECKING:
    from flowc.runtime.resolve import HostMap


class CompileError(Exception):
    """A program did not compile; ``diagnostics`` says why."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str]) -> None:
        self.diagnostics = diagnostics
        self.sources = sources
        errors = [d for d in diagnostics if d.is_error]
        text = "\n".join(render(d, sources.get(d.span.file)).rstrip() for d in errors[:5])
        super().__init__(f"{len(errors)} error(s):\n{text}")


class InputError(ValueError):
    """Inputs that do not fit a flow's parameters (nothing was sent)."""


class Program:
    """A compiled `.flow` program, ready to run."""

    def __init__(self, compilation: Compilation, program_ir: ProgramIR) -> None:
        self.compilation = compilation
        self.ir = program_ir

    @property
    def flow_names(self) -> list[str]:
        """The flows of the root file, in declaration order."""
        return [flow.name for flow in self.ir.flows_of(self.ir.root)]

    def flow(self, name: str | None = None) -> FlowIR:
        flows = self.ir.flows_of(self.ir.root)
        if name is None:
            if len(flows) == 1:
                return flows[0]
            names = ", ".join(f.name for f in flows) or "none"
            raise InputError(f"the file declares several flows ({names}); choose one with --flow")
        for flow in flows:
            if flow.name == name:
                return flow
        names = ", ".join(f.name for f in flows) or "none"
        raise InputError(f"no flow named `{name}` (the file declares: {names})")

    def prepare_inputs(self, flow: FlowIR, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Check inputs against the parameter types, converting JSON-like values."""
        from flowc.common.values import from_json
        from flowc.runtime.decode import DecodeError, validate

        known = {p.name: p for p in flow.params}
        unknown = sorted(set(inputs) - set(known))
        if unknown:
            raise InputError(unknown_parameters(flow, unknown))
        prepared: dict[str, Any] = {}
        for name, value in inputs.items():
            try:
                prepared[name] = validate(_as_value(value, from_json), known[name].type, f"${name}")
            except DecodeError as error:
                raise InputError(f"input `{name}`: {error}") from None
        missing = [p.name for p in flow.params if p.default is None and p.name not in prepared]
        if missing:
            raise InputError(
                f"flow `{flow.name}` needs input {', '.join(f'`{m}`' for m in missing)}"
            )
        return prepared

    async def run(
        self,
        flow: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        sequential: bool = False,
        trace: IO[str] | None = None,
        run_id: str | None = None,
        resolve: HostMap | None = None,
    ) -> Any:
        """Run a flow of this program inside the current trio run.

        ``resolve`` sends the requests for some hosts to other base URLs
        (``flowc.runtime.resolve``, ``flowc run --resolve``).
        """
        from flowc.runtime.http import HttpInvoker
        from flowc.runtime.journal import JsonLinesSink
        from flowc.runtime.session import RunSession

        chosen = self.flow(flow)
        prepared = self.prepare_inputs(chosen, inputs or {})
        async with HttpInvoker(resolve=resolve) as invoker:
            session = RunSession(self.ir, invoker, run_id=run_id, sequential=sequential)
            if trace is not None:
                session.tracer.sinks.append(JsonLinesSink(trace))
            return await session.execute(chosen, prepared)


def unknown_parameters(flow: FlowIR, names: list[str]) -> str:
    """The message for inputs that name no parameter of ``flow``."""
    listed = ", ".join(f"`{name}`" for name in names)
    parameters = ", ".join(p.name for p in flow.params) or "none"
    return f"flow `{flow.name}` has no parameter {listed} (its parameters: {parameters})"


def _as_value(value: Any, from_json: Any) -> Any:
    if isinstance(value, dict | list):
        return from_json(value)
    return value


def _program(compilation: Compilation) -> Program:
    if not compilation.ok:
        raise CompileError(compilation.diagnostics, compilation.sources)
    from flowc.compiler.lowering import lower_program

    return Program(compilation, lower_program(compilation.result))


def compile_file(path: str, *, parse_cache: ParseCache | None = None) -> Program:
    """Compile a `.flow` file and what it imports; ``CompileError`` on errors.

    ``parse_cache`` may be a ``flowc.compiler.parse_store.PersistentParseCache``
    to keep parsed files on disk between processes, as the command line does.
    """
    return _program(_check_file(path, cache=parse_cache))


def compile_source(text: str, name: str = "<input>.flow") -> Program:
    """Compile `.flow` source text; imports resolve from the working directory."""
    return _program(_check_source(text, name))


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
