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
    """The operations of a contract, matched segment by segment.

    Compiling a regular expression per template costs ~0.5 ms each (GitHub has 800
    templates), so templates are split into segments once: a literal segment is
    compared as text, a ``{name}`` segment takes any one segment, and only a mixed
    segment (``{name}.json``) gets a small regular expression of its own.
    """

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations
        self._segments: dict[str, tuple[str | re.Pattern[str], ...]] = {}

    def _split(self, template: str) -> tuple[str | re.Pattern[str], ...]:
        found = self._segments.get(template)
        if found is None:
            parts: list[str | re.Pattern[str]] = []
            for segment in template.strip("/").split("/"):
                if "{" not in segment:
                    parts.append(segment)
                elif _PARAM.fullmatch(segment):
                    parts.append(_ANY_SEGMENT)
                else:
                    pieces, last = [], 0
                    for number, param in enumerate(_PARAM.finditer(segment)):
                        pieces.append(re.escape(segment[last : param.start()]))
                        pieces.append(f"(?P<p{number}>.+?)")
                        last = param.end()
                    pieces.append(re.escape(segment[last:]))
                    parts.append(re.compile("".join(pieces)))
            found = tuple(parts)
            self._segments[template] = found
        return found

    def _fits(self, template: str, segments: list[str]) -> bool:
        pattern = self._split(template)
        if len(pattern) != len(segments):
            return False
        for want, have in zip(pattern, segments, strict=True):
            if isinstance(want, str):
                if want != have:
                    return False
            elif want is _ANY_SEGMENT:
                if not have:
                    return False
            elif want.fullmatch(have) is None:
                return False
        return True

    def match(self, method: str, path: StepPath) -> Match | None:
        segments = path.text.strip("/").split("/")
        best: tuple[int, Match] | None = None
        for operation in self.operations:
            if operation.method != method or not self._fits(operation.path, segments):
                continue
            score = len(_PARAM.sub("", operation.path))
            if best is None or score > best[0]:
                best = (score, Match(operation, _captures(operation.path, path)))
        return best[1] if best is not None else None

    def other_methods(self, path: StepPath) -> list[str]:
        """Methods whose templates match ``path`` (for a wrong method)."""
        segments = path.text.strip("/").split("/")
        return sorted({o.method for o in self.operations if self._fits(o.path, segments)})

    def suggest(self, path: StepPath) -> str | None:
        wanted = re.sub(f"{_HOLE}\\d+{_HOLE}", "{}", path.text)
        shapes: dict[str, str] = {}
        for operation in self.operations:
            shapes.setdefault(_PARAM.sub("{}", operation.path), operation.path)
        close = difflib.get_close_matches(wanted, list(shapes), n=1, cutoff=0.6)
        return shapes[close[0]] if close else None


_ANY_SEGMENT: Final = re.compile("[^/]+")


def _full_pattern(template: str) -> re.Pattern[str]:
    """The whole template as one expression (compiled only for the matched one)."""
    pieces: list[str] = []
    last = 0
    template = template.strip("/")
    for number, found in enumerate(_PARAM.finditer(template)):
        pieces.append(re.escape(template[last : found.start()]))
        pieces.append(f"(?P<p{number}>[^/]+?)")
        last = found.end()
    pieces.append(re.escape(template[last:]))
    return re.compile("".join(pieces))


def template_parameters(template: str) -> list[str]:
    return _PARAM.findall(template)


def _captures(template: str, path: StepPath) -> tuple[Capture, ...]:
    found = _full_pattern(template).fullmatch(path.text.strip("/"))
    assert found is not None  # the segments matched
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
