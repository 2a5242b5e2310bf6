"""Matching a step's path against a document's path templates.

A step writes its path as a string, possibly interpolated: ``"/pet/${pet_id}"``.
``StepPath.of(expr)`` replaces each ``${...}`` by a placeholder that cannot occur
in text (``\\x00<n>\\x00``) and splits off a literal query string (``?a=1&b=2``,
whose names count as given query parameters).  ``PathIndex.match`` then tries the
document's templates for the step's method: each template becomes a regular
expression in which ``{name}`` matches one path segment (``[^/]+``), and a match
tells, for each path parameter, what the step put there -- an embedded expression
(checked against the parameter's type), literal text (checked as text), or a mix.
When several templates match (``/pets/mine`` and ``/pets/{id}``), the one with the
most literal characters wins, as the OpenAPI specification says concrete paths
come first.

When nothing matches, ``suggest`` finds the closest template (by ``difflib`` over
templates with their parameters blanked, so ``/pets/${id}`` is close to
``/pets/{petId}``) and tells whether the path exists with other methods.
"""

from __future__ import annotations

import difflib
import re
from typing import Final

import attrs

from flowc.compiler import ast
from flowc.contracts.openapi_model import Operation

_HOLE: Final = "\x00"
_PARAM: Final = re.compile(r"\{([^{}/]+)\}")


@attrs.frozen(slots=True)
class StepPath:
    """A step's path with its embedded expressions replaced by placeholders."""

    text: str  # the path part, placeholders in it
    holes: tuple[ast.Expr, ...]
    query_names: tuple[str, ...]  # names written in a literal query string

    @classmethod
    def of(cls, target: ast.Expr) -> StepPath | None:
        parts: tuple[str | ast.Expr, ...]
        if isinstance(target, ast.Literal) and isinstance(target.value, str):
            parts = (target.value,)
        elif isinstance(target, ast.Template):
            parts = target.parts
        else:
            return None
        text: list[str] = []
        holes: list[ast.Expr] = []
        for part in parts:
            if isinstance(part, str):
                text.append(part)
            else:
                text.append(f"{_HOLE}{len(holes)}{_HOLE}")
                holes.append(part)
        joined = "".join(text)
        path, _, query = joined.partition("?")
        names = tuple(
            pair.split("=", 1)[0] for pair in query.split("&") if pair and _HOLE not in pair[:1]
        )
        return cls(path, tuple(holes), names)

    def shown(self) -> str:
        """The path as a message shows it: ``/pet/${…}``."""
        return re.sub(f"{_HOLE}\\d+{_HOLE}", "${…}", self.text)


@attrs.frozen(slots=True)
class Capture:
    """What a step put where a template has ``{name}``."""

    name: str
    text: str  # literal text, or a placeholder
    hole: ast.Expr | None  # the embedded expression when the whole segment is one


@attrs.frozen(slots=True)
class Match:
    operation: Operation
    captures: tuple[Capture, ...]


class PathIndex:
    """The operations of a contract by method, each with its template's pattern."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations
        self._patterns: dict[str, re.Pattern[str]] = {}

    def _pattern(self, template: str) -> re.Pattern[str]:
        pattern = self._patterns.get(template)
        if pattern is None:
            pieces: list[str] = []
            last = 0
            for number, found in enumerate(_PARAM.finditer(template)):
                pieces.append(re.escape(template[last : found.start()]))
                pieces.append(f"(?P<p{number}>[^/]+)")
                last = found.end()
            pieces.append(re.escape(template[last:]))
            pattern = re.compile("".join(pieces) + "/?")
            self._patterns[template] = pattern
        return pattern

    def match(self, method: str, path: StepPath) -> Match | None:
        best: tuple[int, Match] | None = None
        for operation in self.operations:
            if operation.method != method:
                continue
            found = self._pattern(operation.path).fullmatch(path.text)
            if found is None:
                continue
            score = len(_PARAM.sub("", operation.path))
            if best is None or score > best[0]:
                best = (score, Match(operation, _captures(operation.path, found, path)))
        return best[1] if best is not None else None

    def other_methods(self, path: StepPath) -> list[str]:
        """Methods whose templates match ``path`` (for a wrong method)."""
        return sorted(
            {o.method for o in self.operations if self._pattern(o.path).fullmatch(path.text)}
        )

    def suggest(self, path: StepPath) -> str | None:
        wanted = re.sub(f"{_HOLE}\\d+{_HOLE}", "{}", path.text)
        shapes: dict[str, str] = {}
        for operation in self.operations:
            shapes.setdefault(_PARAM.sub("{}", operation.path), operation.path)
        close = difflib.get_close_matches(wanted, list(shapes), n=1, cutoff=0.6)
        return shapes[close[0]] if close else None


def template_parameters(template: str) -> list[str]:
    return _PARAM.findall(template)


def _captures(template: str, found: re.Match[str], path: StepPath) -> tuple[Capture, ...]:
    captures = []
    for number, name in enumerate(_PARAM.findall(template)):
        text = found.group(f"p{number}")
        hole = None
        whole = re.fullmatch(f"{_HOLE}(\\d+){_HOLE}", text)
        if whole is not None:
            hole = path.holes[int(whole.group(1))]
        captures.append(Capture(name, text, hole))
    return tuple(captures)


def has_placeholder(text: str) -> bool:
    return _HOLE in text
