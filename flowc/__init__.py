"""flowc: a compiled language for orchestrating HTTP APIs.

The Python API (see ``flowc.api`` and the README)::

    flowc.compile_file(path) -> Program          # CompileError on errors
    flowc.compile_source(text) -> Program
    await program.run("flow", {"x": 1})          # inside your trio program
    flowc.run_file(path, "flow", {"x": 1})       # from synchronous code
    async with flowc.Engine(store=flowc.open_store("sqlite:///runs.db")) as engine:
        await engine.run(program, "flow", {"x": 1})   # durable: journaled
        await engine.resume(run_id)                   # continues from the journal
    flowc.evaluate("size(xs) > 2", xs=[1, 2, 3])

Names are loaded lazily so that importing ``flowc`` (and starting the
``flowc`` command) stays cheap.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # `typing` costs 2-3 ms of the console script's start, before Ctrl-C is quiet
    from typing import Any

__version__ = "0.1.0"

__all__ = [
    "CompileError",
    "Engine",
    "EvalError",
    "ExpressionError",
    "FlowError",
    "InputError",
    "Program",
    "RunRefused",
    "__version__",
    "compile_expression",
    "compile_file",
    "compile_source",
    "evaluate",
    "open_store",
    "run_file",
]

_LAZY = {
    "CompileError": "flowc.api",
    "InputError": "flowc.api",
    "Program": "flowc.api",
    "compile_file": "flowc.api",
    "compile_source": "flowc.api",
    "run_file": "flowc.api",
    "Engine": "flowc.runtime.engine",
    "RunRefused": "flowc.runtime.engine",
    "open_store": "flowc.runtime.store",
    "FlowError": "flowc.common.errors",
    "EvalError": "flowc.common.values",
    "evaluate": "flowc.compiler.expressions",
    "compile_expression": "flowc.compiler.expressions",
    "ExpressionError": "flowc.compiler.expressions",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'flowc' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
