"""Run the cel-spec conformance cases through flowc's parser, checker and evaluator.

Usage::

    python bench/conformance.py            # the table for every file
    python bench/conformance.py -v         # ... and every failing case with its reason
    python bench/conformance.py core.json  # one file
    python bench/conformance.py --timings  # ... and microseconds per evaluation

The cases are the JSON files in ``tests/data/cel`` (a verbatim copy of the
shared ``conformance/cel`` yardstick, with its attribution README; override
the directory with ``FLOWC_CEL_CONFORMANCE``); their README states the scoring, which is what
cel-go's conformance runner does and what ``run_case`` implements:

* a parse error fails the case;
* a check error fails it unless the case sets ``disable_check`` (the checker
  still runs then, because the evaluator compiles from its facts; its errors are
  ignored and the unchecked parts are dispatched at run time);
* where an error is expected, any evaluation error passes;
* results compare exactly by kind (``1`` is not ``1u`` is not ``1.0``), maps
  without regard to order, ``NaN`` equal to ``NaN``;
* ``type_env`` idents give the bindings' static types (``list(int)``), other
  bindings are ``json``; ``container`` makes ``y`` mean ``com.example.y`` when
  that is declared, while ``.y`` always means the root ``y``;
* nothing is skipped: a case that cannot be run (``disable_macros``,
  ``check_only``) counts as a failure with the reason ``unsupported``.

``tests/test_conformance.py`` imports this module and asserts pass-rate floors.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import math
import operator
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import attrs

from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    FLOAT,
    INT,
    JSON,
    NULL,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    Field,
    ListT,
    MapT,
    RecordT,
    Type,
    step_record,
)
from flowc.common.values import (
    TYPE_IDENTIFIERS,
    BoolKey,
    CelType,
    EvalError,
    UInt,
    build_map,
    parse_duration,
    parse_timestamp,
)
from flowc.compiler.diagnostics import DiagnosticSink, ParseFailure
from flowc.compiler.evaluator import compile_expr
from flowc.compiler.exprcheck import ExprChecker
from flowc.compiler.expressions import compile_expression
from flowc.compiler.ir import Compiled
from flowc.compiler.parser import parse_expression
from flowc.compiler.scope import CheckInfo, Scope, Symbol
from flowc.compiler.symbols import builtin_values

DATA_DIR: Final = Path(
    os.environ.get("FLOWC_CEL_CONFORMANCE", Path(__file__).resolve().parents[1] / "tests/data/cel")
)
FILES: Final = (
    "core.json",
    "time.json",
    "ext_bindings_ext.json",
    "ext_encoders_ext.json",
    "ext_macros2.json",
    "ext_math_ext.json",
    "ext_optionals.json",
    "ext_string_ext.json",
)


@attrs.frozen
class Outcome:
    """The result of one case: ``reason`` says why it failed (empty if it passed)."""

    file: str
    group: str
    section: str
    name: str
    expr: str
    passed: bool
    reason: str
    json_core: bool


# --------------------------------------------------------------------------- types and values

_SIMPLE_TYPES: Final[dict[str, Type]] = {
    "int": INT,
    "uint": UINT,
    "double": FLOAT,
    "bool": BOOL,
    "string": STRING,
    "bytes": BYTES,
    "null_type": NULL,
    "dyn": JSON,
    "type": TYPE,
    "google.protobuf.Timestamp": TIMESTAMP,
    "google.protobuf.Duration": DURATION,
}


def parse_type(text: str) -> Type:
    """A CEL type as the case files write it (``map(string, list(int))``)."""
    text = text.strip()
    if text in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[text]
    if text.startswith("list(") and text.endswith(")"):
        return ListT(parse_type(text[5:-1]))
    if text.startswith("map(") and text.endswith(")"):
        key, value = _split_pair(text[4:-1])
        return MapT(parse_type(key), parse_type(value))
    return JSON


def _split_pair(text: str) -> tuple[str, str]:
    depth = 0
    for index, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            return text[:index], text[index + 1 :]
    return text, "dyn"


def decode(tagged: Mapping[str, Any]) -> object:
    """A `.flow` value from a TAGGED value of the case files."""
    ((tag, payload),) = tagged.items()
    if tag == "int":
        return int(payload)
    if tag == "uint":
        return UInt(int(payload))
    if tag == "double":
        return float(payload)  # "NaN", "Infinity" and "-Infinity" parse as such
    if tag == "bytes":
        return base64.b64decode(payload)
    if tag in ("string", "bool"):
        return payload
    if tag == "null":
        return None
    if tag == "list":
        return [decode(item) for item in payload]
    if tag == "map":
        return build_map((decode(key), decode(value)) for key, value in payload)
    if tag == "type":
        return TYPE_IDENTIFIERS.get(payload, CelType(payload))
    if tag == "timestamp":
        return parse_timestamp(payload)
    if tag == "duration":
        return parse_duration(payload)
    raise ValueError(f"unknown tag {tag!r}")


def same_value(expected: object, actual: object) -> bool:
    """Exact equality by kind; maps unordered; NaN equals NaN."""
    if type(expected) is not type(actual):
        return False
    if type(expected) is float:
        both_nan = math.isnan(expected) and math.isnan(actual)  # type: ignore[arg-type]
        return both_nan or expected == actual
    if type(expected) is list:
        return len(expected) == len(actual) and all(  # type: ignore[arg-type]
            same_value(e, a)
            for e, a in zip(expected, actual, strict=True)  # type: ignore[call-overload]
        )
    if type(expected) is dict:
        return _same_map(expected, actual)  # type: ignore[arg-type]
    return bool(expected == actual)


def _same_map(expected: dict[object, object], actual: dict[object, object]) -> bool:
    if len(expected) != len(actual):
        return False
    actual_keys = {(type(key), key if type(key) is not BoolKey else id(key)) for key in actual}
    for key, value in expected.items():
        marker = (type(key), key if type(key) is not BoolKey else id(key))
        if marker not in actual_keys or key not in actual:
            return False
        if not same_value(value, actual[key]):
            return False
    return True


def show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- environment


class ContainerEnv:
    """The checker's root environment for a case: declared idents and the
    built-in type names, with CEL's container resolution (``y`` in container
    ``com.example`` tries ``com.example.y``, ``com.y``, then ``y``)."""

    def __init__(self, idents: Mapping[str, Type], container: str | None) -> None:
        self.path = "<conformance>"
        self.values: dict[str, Symbol] = builtin_values()
        for name, type_ in idents.items():
            self.values[name] = Symbol(name, "param", type_, _NO_SPAN, self.path, uses=1)
        parts = container.split(".") if container else []
        self.prefixes = [".".join(parts[:n]) + "." for n in range(len(parts), 0, -1)]

    def lookup_value(self, name: str) -> Symbol | None:
        if name.startswith("."):
            return self.values.get(name[1:])
        for prefix in self.prefixes:
            found = self.values.get(prefix + name)
            if found is not None:
                return found
        return self.values.get(name)

    def member(self, alias: str, name: str) -> Symbol | None:
        return None

    def value_names(self) -> list[str]:
        return list(self.values)


class BindingSlots:
    """``NameResolver``: a case's bindings in the first slots, macro variables after."""

    def __init__(self, names: Iterable[str]) -> None:
        self.slots = {name: slot for slot, name in enumerate(names)}
        self.size = len(self.slots)
        self.macro_slots: dict[Symbol, int] = {}

    def read(self, symbol: Symbol) -> Compiled | None:
        if symbol.kind == "macro":
            return operator.itemgetter(self.slot(symbol))
        slot = self.slots.get(symbol.name)
        return operator.itemgetter(slot) if slot is not None else None

    def slot(self, symbol: Symbol) -> int:
        if symbol not in self.macro_slots:
            self.macro_slots[symbol] = self.size
            self.size += 1
        return self.macro_slots[symbol]


_NO_SPAN: Final = parse_expression("0").span


# --------------------------------------------------------------------------- running


def run_case(case: Mapping[str, Any]) -> Outcome:
    """Parse, check, compile and evaluate one case, and score it."""
    passed, reason = _score(case)
    return Outcome(
        file=case["_file"],
        group=case["file"],
        section=case["section"],
        name=case["name"],
        expr=case["expr"],
        passed=passed,
        reason=reason,
        json_core=bool(case.get("json_core", True)),
    )


def _score(case: Mapping[str, Any]) -> tuple[bool, str]:
    if case.get("disable_macros") or case.get("check_only"):
        return False, "unsupported: disable_macros/check_only"
    try:
        expr = parse_expression(case["expr"])
    except ParseFailure as failure:
        return False, f"parse error: {failure.diagnostic.message}"
    idents = {k: parse_type(v) for k, v in (case.get("type_env") or {}).get("idents", {}).items()}
    bindings = {name: decode(value) for name, value in (case.get("bindings") or {}).items()}
    for name in bindings:
        idents.setdefault(name, JSON)
    info = CheckInfo(DiagnosticSink())
    ExprChecker(info).check(expr, Scope(ContainerEnv(idents, case.get("container"))))
    if info.sink.has_errors and not case.get("disable_check"):
        first = next(d for d in info.sink.sorted() if d.is_error)
        return False, f"check error: {first.message}"
    layout = BindingSlots(idents)
    run = compile_expr(expr, info, layout)
    frame: list[object] = [None] * layout.size
    for name, value in bindings.items():
        frame[layout.slots[name]] = value
    return _judge(case, run, frame)


def _judge(case: Mapping[str, Any], run: Compiled, frame: list[object]) -> tuple[bool, str]:
    try:
        actual = run(frame)
    except EvalError as error:
        if "error" in case:
            return True, ""
        return False, f"evaluation error: {error.kind}: {error.message}"
    if "error" in case:
        return False, f"expected an error ({case['error']}), got {show(actual)}"
    expected = decode(case["expected"])
    if same_value(expected, actual):
        return True, ""
    return False, f"expected {show(expected)}, got {show(actual)}"


def load_cases(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    for case in cases:
        case["_file"] = name
    return cases


def run_file(name: str) -> list[Outcome]:
    outcomes = []
    for case in load_cases(name):
        try:
            outcomes.append(run_case(case))
        except Exception as error:  # a crash is a failure of the case, reported as such
            outcomes.append(
                Outcome(
                    case["_file"],
                    case["file"],
                    case["section"],
                    case["name"],
                    case["expr"],
                    False,
                    f"crash: {type(error).__name__}: {error}",
                    bool(case.get("json_core", True)),
                )
            )
    return outcomes


# --------------------------------------------------------------------------- reporting


def rate(outcomes: Sequence[Outcome]) -> float:
    return sum(o.passed for o in outcomes) / len(outcomes) if outcomes else 1.0


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """Per-file and per-section pass rates (in scope: ``json_core``; the rest apart)."""
    lines = []
    by_file: dict[str, list[Outcome]] = collections.defaultdict(list)
    for outcome in outcomes:
        by_file[outcome.file].append(outcome)
    for name, group in by_file.items():
        core = [o for o in group if o.json_core]
        other = [o for o in group if not o.json_core]
        lines.append(
            _rate_line(name, core) + (f"   (+ {_fraction(other)} not json_core)" if other else "")
        )
        sections: dict[str, list[Outcome]] = collections.defaultdict(list)
        for outcome in group:
            sections[f"{outcome.group}/{outcome.section}"].append(outcome)
        for section, members in sections.items():
            mark = "" if all(o.passed for o in members) else "  <-- failing"
            lines.append("    " + _rate_line(section, members) + mark)
    return lines


def _fraction(outcomes: Sequence[Outcome]) -> str:
    if not outcomes:
        return "0/0 (n/a)"
    passed = sum(o.passed for o in outcomes)
    return f"{passed}/{len(outcomes)} ({100 * rate(outcomes):.1f}%)"


def _rate_line(label: str, outcomes: Sequence[Outcome]) -> str:
    return f"{label:<52} {_fraction(outcomes):>20}"


def failing_sections(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per section with failures: how many, and the first reason."""
    grouped: dict[str, list[Outcome]] = collections.defaultdict(list)
    for outcome in outcomes:
        if not outcome.passed:
            grouped[f"{outcome.file} {outcome.group}/{outcome.section}"].append(outcome)
    return [
        f"{section}: {len(failed)} failing, e.g. {failed[0].name}: {failed[0].reason}"
        for section, failed in grouped.items()
    ]


def failures(outcomes: Sequence[Outcome]) -> list[str]:
    return [
        f"{o.file} {o.group}/{o.section}/{o.name}: {o.expr!r}\n        {o.reason}"
        for o in outcomes
        if not o.passed
    ]


# --------------------------------------------------------------------------- timings

_STEP: Final = step_record(RecordT((Field("id", INT), Field("name", STRING))))
#: (expression, static types, values): evaluated bound (these types) and dynamic (json).
TIMED: Final[tuple[tuple[str, dict[str, Type], dict[str, object]], ...]] = (
    ("user.body.id", {"user": _STEP}, {"user": {"status": 200, "body": {"id": 7, "name": "a"}}}),
    ('"${a}-${b}"', {"a": STRING, "b": STRING}, {"a": "x", "b": "y"}),
    ("size(xs) > 2 && xs.all(x, x > 0)", {"xs": ListT(INT)}, {"xs": [1, 2, 3]}),
    ("x * 2 + 1 < 100", {"x": INT}, {"x": 7}),
    ("m.a.b ?? 'none'", {"m": MapT(STRING, MapT(STRING, STRING))}, {"m": {"a": {}}}),
)


def _best_microseconds(run: Compiled, frame: list[object], batch: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(batch):
            run(frame)
        best = min(best, time.perf_counter_ns() - start)
    return best / batch / 1000


def timings(batch: int = 2000, rounds: int = 100) -> list[str]:
    """Microseconds per evaluation (best of ``rounds`` batches, call loop excluded)."""
    lines = [f"{'expression':<40} {'bound':>9} {'dynamic':>9}   (us per evaluation)"]
    baseline = _best_microseconds(lambda frame: None, [], batch, rounds)
    for text, types, values in TIMED:
        cells = []
        for declared in (types, {name: JSON for name in types}):
            compiled = compile_expression(text, declared)
            frame: list[object] = [None] * compiled.frame_size
            for slot, name in enumerate(compiled.names):
                frame[slot] = values[name]
            run = compiled.run
            cells.append(_best_microseconds(run, frame, batch, rounds) - baseline)
        lines.append(f"{text:<40} {cells[0]:>9.3f} {cells[1]:>9.3f}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=list(FILES))
    parser.add_argument("-v", "--verbose", action="store_true", help="list every failing case")
    parser.add_argument("--timings", action="store_true", help="also time typical expressions")
    options = parser.parse_args(argv)
    if options.timings:
        print("\n".join(timings()) + "\n")
    everything: list[Outcome] = []
    for name in options.files:
        everything += run_file(name)
    print("\n".join(table(everything)))
    sections = failing_sections(everything)
    if sections:
        print("\nFailing sections:")
        print("\n".join(sections))
    if options.verbose:
        print("\nFailing cases:")
        print("\n".join(failures(everything)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
