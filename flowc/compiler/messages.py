"""Every message text the compiler can show, with its code.

Keeping them in one module means one place to word them consistently, one
place to translate them, and a test (``tests/test_messages.py``) that checks
each code is documented in ``docs/diagnostics.md``.

Codes are grouped by phase:

* ``E00xx`` — lexical and syntax errors (parser);
* ``E01xx`` — declarations, imports and names (resolver);
* ``E02xx`` — types (checker);
* ``E03xx`` — statements, steps, services and clauses (checker);
* ``E04xx`` — secrets and data races (checker);
* ``W0xxx`` — warnings.

A ``Message`` is called like a function to make a ``Diagnostic``::

    UNKNOWN_NAME(span, name="user_idd", help="did you mean `user_id`?")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import attrs

from flowc.compiler.ast import Span
from flowc.compiler.diagnostics import ERROR, WARNING, Diagnostic, Note

ALL: Final[dict[str, Message]] = {}


@attrs.frozen(slots=True)
class Message:
    code: str
    severity: str
    text: str

    def __call__(
        self,
        span: Span,
        *,
        help: str | None = None,
        notes: Iterable[Note] = (),
        **args: object,
    ) -> Diagnostic:
        return Diagnostic(
            self.code, self.severity, self.text.format(**args), span, help, tuple(notes)
        )


def _error(code: str, text: str) -> Message:
    message = Message(code, ERROR, text)
    ALL[code] = message
    return message


def _warning(code: str, text: str) -> Message:
    message = Message(code, WARNING, text)
    ALL[code] = message
    return message


# --------------------------------------------------------------------------- E00xx syntax

UNEXPECTED_TOKEN = _error("E0001", "unexpected {found}, expected {expected}")
UNEXPECTED_CHARACTER = _error("E0002", "unexpected character {char}")
UNTERMINATED_STRING = _error("E0003", "unterminated string literal")
UNEXPECTED_EOF = _error("E0004", "unexpected end of file, expected {expected}")
INVALID_ESCAPE = _error("E0005", "invalid escape sequence `{escape}`")
RESERVED_WORD = _error("E0006", "`{word}` is a reserved word and cannot name a {what}")
TOO_DEEP = _error("E0007", "nesting is too deep (more than {limit} levels)")
UNKNOWN_GENERIC = _error("E0008", "`{name}[...]` is not a type; the generic types are {known}")
GENERIC_ARITY = _error("E0009", "`{name}` takes {expected} type argument{s}, found {found}")
BAD_STATUS_RANGE = _error("E0010", "invalid status range {low}..{high}")
BAD_INTERPOLATION = _error("E0011", "invalid interpolation: {problem}")
BAD_NUMBER = _error("E0012", "invalid number literal `{text}`")
BAD_STRING_KIND = _error("E0013", "{what} must be a plain string literal")
EMPTY_FILE = _warning("W0001", "file declares nothing")
