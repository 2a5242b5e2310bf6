"""Diagnostics: what every phase reports, and how a report is shown.

A ``Diagnostic`` is data: a code (``E0301``), a severity, a message, the
``Span`` it is about, an optional ``help`` line and optional notes that point
at other spans ("first defined here").  Phases never print; they append
diagnostics to a ``DiagnosticSink``, which caps the number kept so that a file
full of errors does not flood the terminal, and which later sorts them by
position.

``render`` turns a diagnostic into the text a compiler user expects::

    flows/signup.flow:12:9: error[E0201]: unknown name `user_idd`
       |
    12 |     let u = user_idd
       |             ^^^^^^^^
       = help: did you mean `user_id`?

Colour is applied only when asked for (the CLI decides: a TTY, and no
``NO_COLOR``).  All message texts live in ``messages.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

import attrs

from flowc.compiler.ast import Span

ERROR: Final = "error"
WARNING: Final = "warning"

DEFAULT_CAP: Final = 200


@attrs.frozen(slots=True)
class Note:
    """A secondary location with a short explanation."""

    span: Span
    message: str


@attrs.frozen(slots=True)
class Diagnostic:
    code: str
    severity: str
    message: str
    span: Span
    help: str | None = None
    notes: tuple[Note, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.col, self.code)

    def as_error(self) -> Diagnostic:
        """This diagnostic promoted to an error (``-W error``)."""
        return attrs.evolve(self, severity=ERROR)

    def to_json(self) -> dict[str, object]:
        span = self.span
        return {
            "file": span.file,
            "line": span.line,
            "column": span.col,
            "end_line": span.end_line,
            "end_column": span.end_col,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "help": self.help,
            "notes": [
                {
                    "file": n.span.file,
                    "line": n.span.line,
                    "column": n.span.col,
                    "message": n.message,
                }
                for n in self.notes
            ],
        }


class DiagnosticSink:
    """Collects diagnostics, keeping at most ``cap`` of them."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        self.cap = cap
        self._items: list[Diagnostic] = []
        self._seen: set[tuple[str, int, int, str, str]] = set()
        self.dropped = 0

    def add(self, diagnostic: Diagnostic) -> None:
        span = diagnostic.span
        key = (span.file, span.line, span.col, diagnostic.code, diagnostic.message)
        if key in self._seen:
            return
        self._seen.add(key)
        if len(self._items) >= self.cap:
            self.dropped += 1
            return
        self._items.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            self.add(d)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self._items, key=Diagnostic.sort_key)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class ParseFailure(Exception):
    """Raised by the parser with the diagnostic that stopped it."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


# --------------------------------------------------------------------------- rendering

_COLOURS: Final = {
    "error": "\x1b[1;31m",
    "warning": "\x1b[1;33m",
    "help": "\x1b[1;36m",
    "gutter": "\x1b[1;34m",
    "bold": "\x1b[1m",
    "reset": "\x1b[0m",
}


class _Palette:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, style: str) -> str:
        if not self.colour:
            return text
        return f"{_COLOURS[style]}{text}{_COLOURS['reset']}"


def render(diagnostic: Diagnostic, source: str | None, *, colour: bool = False) -> str:
    """The human-readable form of one diagnostic, ending with a newline."""
    palette = _Palette(colour)
    span = diagnostic.span
    head = palette.paint(f"{diagnostic.severity}[{diagnostic.code}]", diagnostic.severity)
    lines = [
        f"{palette.paint(str(span), 'bold')}: {head}: {palette.paint(diagnostic.message, 'bold')}"
    ]
    lines += _snippet(span, source, palette, diagnostic.severity)
    for note in diagnostic.notes:
        lines.append(f"   {palette.paint('=', 'gutter')} note: {note.span}: {note.message}")
    if diagnostic.help:
        for i, text in enumerate(diagnostic.help.splitlines()):
            prefix = "help: " if i == 0 else "      "
            lines.append(f"   {palette.paint('=', 'gutter')} {palette.paint(prefix, 'help')}{text}")
    return "\n".join(lines) + "\n"


def _snippet(span: Span, source: str | None, palette: _Palette, severity: str) -> list[str]:
    if source is None or span.line <= 0:
        return []
    source_lines = source.splitlines()
    if span.line > len(source_lines):
        return []
    text = source_lines[span.line - 1].replace("\t", " ")
    if len(text) > 200:
        return []
    number = str(span.line)
    pad = " " * len(number)
    start = max(span.col - 1, 0)
    end = span.end_col - 1 if span.end_line == span.line else len(text)
    width = max(end - start, 1)
    marks = " " * start + "^" * width
    gutter = palette.paint("|", "gutter")
    return [
        f"{pad} {gutter}",
        f"{palette.paint(number, 'gutter')} {gutter} {text}",
        f"{pad} {gutter} {palette.paint(marks, severity)}",
    ]


def summary(errors: int, warnings: int) -> str:
    """``2 errors, 1 warning`` — or an empty string when both are zero."""
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts)
