"""Programs ready to run: a lowered program, where it came from, its inputs.

``LoadedProgram`` is what the engine runs: the lowered IR, the program's
source (its root file and its identity, ``compiler.identity``), and the two
questions every start asks before anything is sent — which flow
(``flow(name)``) and whether the inputs fit its parameters
(``prepare_inputs``, which converts JSON-like values and raises
``InputError`` with a message that names the input).  The Python API's
``Program`` is a ``LoadedProgram`` that also keeps its ``Compilation``.

``load_program`` compiles a file for the engine (a stored run being resumed,
a worker loading its flows) and reports a program that no longer compiles as
one clear line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from flowc.compiler import ir
from flowc.compiler.identity import program_digest


class InputError(ValueError):
    """Inputs that do not fit a flow's parameters (nothing was sent)."""


class ProgramError(Exception):
    """A program that cannot be loaded: unreadable, or no longer compiling."""


@attrs.frozen
class ProgramSource:
    """Where a program came from, and its identity (``compiler.identity``)."""

    path: str
    identity: dict[str, str] = attrs.field(factory=dict)

    @property
    def digest(self) -> str:
        return program_digest(self.identity)


class LoadedProgram:
    """A lowered program with its source, ready for ``Engine.run``."""

    def __init__(self, program_ir: ir.ProgramIR, source: ProgramSource) -> None:
        self.ir = program_ir
        self.source = source

    @property
    def flow_names(self) -> list[str]:
        """The flows of the root file, in declaration order."""
        return [flow.name for flow in self.ir.flows_of(self.ir.root)]

    def flow(self, name: str | None = None) -> ir.FlowIR:
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

    def prepare_inputs(self, flow: ir.FlowIR, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Check inputs against the parameter types, converting JSON-like values."""
        from flowc.common.values import EvalError, from_json
        from flowc.runtime.decode import DecodeError, validate

        known = {p.name: p for p in flow.params}
        unknown = sorted(set(inputs) - set(known))
        if unknown:
            raise InputError(unknown_parameters(flow, unknown))
        prepared: dict[str, Any] = {}
        for name, value in inputs.items():
            try:
                # JSON-like data is made of `.flow` values (an int beyond int64 becomes a
                # double, one beyond any double is refused, as in a response body).
                json_like = isinstance(value, dict | list) or type(value) is int
                plain = from_json(value) if json_like else value
                prepared[name] = validate(plain, known[name].type, f"${name}")
            except EvalError as error:
                raise InputError(f"input `{name}`: {error.message}") from None
            except DecodeError as error:
                raise InputError(f"input `{name}`: {error}") from None
        missing = [p.name for p in flow.params if p.default is None and p.name not in prepared]
        if missing:
            raise InputError(
                f"flow `{flow.name}` needs input {', '.join(f'`{m}`' for m in missing)}"
            )
        return prepared


def unknown_parameters(flow: ir.FlowIR, names: list[str]) -> str:
    """The message for inputs that name no parameter of ``flow``."""
    listed = ", ".join(f"`{name}`" for name in names)
    parameters = ", ".join(p.name for p in flow.params) or "none"
    return f"flow `{flow.name}` has no parameter {listed} (its parameters: {parameters})"


def load_program(path: str) -> LoadedProgram:
    """Compile ``path`` for the engine (``ProgramError`` if it cannot be)."""
    from flowc.compiler import SourceError, compile_file
    from flowc.compiler.identity import program_identity
    from flowc.compiler.lowering import lower_program

    try:
        compilation = compile_file(path)
    except SourceError as error:
        raise ProgramError(f"cannot read the program: {error}") from None
    if not compilation.ok:
        first = next(d for d in compilation.diagnostics if d.is_error)
        raise ProgramError(f"the program does not compile: {first.span}: {first.message}")
    identity = program_identity(compilation.result.program)
    return LoadedProgram(lower_program(compilation.result), ProgramSource(path, identity))
