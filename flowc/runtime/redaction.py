"""Redaction: keeping the secrets of a run out of every text that leaves the process.

A ``Secret`` value never renders in clear (``values.to_text`` writes
``***redacted***``), but a secret's *text* comes back from outside: a server
that rejects a token quotes it in its error body, lower-cased, cut to its
first 14 characters, JSON-escaped, URL-encoded or base64-encoded; a 200
response echoes a header.  That text is ordinary data to the flow, so it is
caught where text leaves: every run has one ``Redactor`` that learns the text
of each secret the run handles — every ``secret()`` read, every secret input,
every secret a response decodes into, every secret value and credential a
request carries (``requests.py``) — and scrubs

* error messages, as each ``FlowError`` is made or passes a statement (so a
  ``catch`` block, a ``retry ... when`` predicate and the final message see
  the scrubbed text);
* ``log`` lines and warnings (stderr), and every event the hooks receive (the
  ``--trace`` file, metrics, a web UI);
* the journal: a step value that would reveal a secret is kept out of the
  store (the step runs again on resume, as one holding a ``Secret`` does), and
  so is such a result;
* what the command line prints (stdout and stderr).

What is found
=============

For each secret text, its *variants*: the text itself, its JSON string
escaping (ASCII and not), its URL encodings (``quote``, ``quote_plus``), its
UTF-8 bytes in hex, and its base64 (standard and URL-safe alphabet) at each of
the three byte alignments it can have inside a longer encoded text.  Every
variant is matched case-insensitively, and so is any fragment of it of
``MIN_FRAGMENT`` (8) characters or more: a match of one 8-character window is
extended as long as the following windows match too, so a prefix, a suffix or
the middle of a secret goes as a whole, and what may remain next to a mask is
shorter than 8 characters.  A secret shorter than 8 characters, and each word
of a secret (``Basic``/``Bearer`` aside) of 4 to 7 characters, is matched
whole.  Secrets shorter than ``MIN_SECRET`` (4) characters are not redacted:
they would match everywhere.  Each match becomes ``***``.

The patterns are compiled into RE2 alternations (linear time, whatever the
text), lazily, and again only when a new secret is learned, so a run with no
secret pays nothing and a redaction is one scan of the text.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final

import attrs

from flowc.common.errors import FlowError
from flowc.common.values import Secret, Timestamp

if TYPE_CHECKING:
    from flowc.common.stdlib import Effects

MIN_FRAGMENT: Final = 8
"""The shortest fragment of a secret that is found anywhere in a text."""
MIN_SECRET: Final = 4
"""Secrets (and words of secrets) shorter than this are not redacted."""
MASK: Final = "***"

_WORDS: Final = re.compile(r"[\s:=,;]+")
_SCHEMES: Final = frozenset({"bearer", "basic", "token", "digest"})
"""Words of an ``Authorization`` value that are no secret."""
_LITERALS_PER_PATTERN: Final = 4000
"""RE2 programs stay small (and within their memory budget) below this many literals."""


class Redactor:
    """The secrets of one run, and the scrubbing of text with them."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._grams: set[str] = set()  # lower-cased 8-character windows of every variant
        self._whole: set[str] = set()  # lower-cased short variants and words, matched whole
        self._patterns: list[Any] | None = []
        for text in secrets:
            self.add(text)

    @property
    def active(self) -> bool:
        """Whether there is anything to redact."""
        return bool(self._grams or self._whole)

    # ------------------------------------------------------------ learning

    def add(self, text: str) -> None:
        """Learn the text of a secret (as it was, or will be, sent)."""
        if len(text) < MIN_SECRET or text in self._secrets:
            return
        self._secrets.add(text)
        for variant in _variants(text):
            self._learn(variant.lower())
        for word in _WORDS.split(text):
            if MIN_SECRET <= len(word) < MIN_FRAGMENT and word.lower() not in _SCHEMES:
                for variant in _variants(word):
                    self._learn(variant.lower())
        self._patterns = None

    def note(self, value: object) -> None:
        """Learn every secret inside ``value`` (a ``Secret``, or lists and maps of them)."""
        if isinstance(value, Secret):
            revealed = value.reveal()
            self.add(revealed if isinstance(revealed, str) else revealed.decode("utf-8", "replace"))
        elif isinstance(value, dict):
            for item in value.values():
                self.note(item)
        elif isinstance(value, list | tuple):
            for item in value:
                self.note(item)

    def _learn(self, variant: str) -> None:
        if len(variant) >= MIN_FRAGMENT:
            self._grams.update(_windows(variant))
        elif len(variant) >= MIN_SECRET:
            self._whole.add(variant)

    # ------------------------------------------------------------ scrubbing

    def redact(self, text: str) -> str:
        """``text`` with every secret, encoded secret and fragment of one masked."""
        if not self.active or len(text) < MIN_SECRET:
            return text
        spans = self._spans(text)
        if not spans:
            return text
        pieces: list[str] = []
        last = 0
        for start, end in spans:
            pieces += [text[last:start], MASK]
            last = end
        pieces.append(text[last:])
        return "".join(pieces)

    def reveals(self, text: str) -> bool:
        """Whether ``text`` holds a secret (or an encoding or fragment of one)."""
        if not self.active or len(text) < MIN_SECRET:
            return False
        return any(pattern.search(text) is not None for pattern in self._compiled())

    def reveals_value(self, value: object) -> bool:
        """Whether any string (or bytes, or map key) inside ``value`` reveals a secret."""
        if not self.active:
            return False
        return any(self.reveals(text) for text in _texts(value))

    def redact_value(self, value: Any) -> Any:
        """``value`` with the strings inside it redacted (``Secret``s stay as they are)."""
        if not self.active:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self.redact_value(item) for item in value)
        if isinstance(value, dict):
            return {self.redact_value(k): self.redact_value(v) for k, v in value.items()}
        return value

    def redact_error(self, error: FlowError) -> FlowError:
        """Scrub ``error``'s message (and ``fail`` value) in place; returns it."""
        if self.active:
            error.message = self.redact(error.message)
            error.args = (error.message,)
            if error.value is not None:
                error.value = self.redact_value(error.value)
        return error

    def redact_event(self, event: Any) -> Any:
        """An attrs event with its text fields redacted (the same object if nothing was)."""
        if not self.active:
            return event
        changes: dict[str, Any] = {}
        for field in attrs.fields(type(event)):
            current = getattr(event, field.name)
            if isinstance(current, str | list | dict | tuple):
                scrubbed = self.redact_value(current)
                if scrubbed != current:
                    changes[field.name] = scrubbed
        return attrs.evolve(event, **changes) if changes else event

    # ------------------------------------------------------------ matching

    def _compiled(self) -> list[Any]:
        if self._patterns is None:
            literals = sorted(self._grams | self._whole, key=len, reverse=True)
            self._patterns = [
                _alternation(literals[i : i + _LITERALS_PER_PATTERN])
                for i in range(0, len(literals), _LITERALS_PER_PATTERN)
            ]
        return self._patterns

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """The merged (start, end) spans of ``text`` to mask, in order."""
        found: list[tuple[int, int]] = []
        for pattern in self._compiled():
            reached = 0
            for match in pattern.finditer(text):
                if match.end() <= reached:  # inside a fragment already extended to its end
                    continue
                reached = self._extend(text, match.end())
                found.append((match.start(), reached))
        found.sort()
        merged: list[tuple[int, int]] = []
        for start, end in found:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    def _extend(self, text: str, end: int) -> int:
        """Extend a match while the window ending one character later is a fragment too."""
        grams = self._grams
        while end < len(text) and text[end - MIN_FRAGMENT + 1 : end + 1].lower() in grams:
            end += 1
        return end


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` redacted with ``secrets`` (a one-off ``Redactor``)."""
    return Redactor(secrets).redact(text)


def _alternation(literals: list[str]) -> Any:
    import re2  # type: ignore[import-untyped]  # on first use (start-up time)

    options = re2.Options()
    options.case_sensitive = False
    options.max_mem = 64 << 20
    return re2.compile("|".join(re2.escape(literal) for literal in literals), options)


def _windows(text: str) -> Iterator[str]:
    return (text[i : i + MIN_FRAGMENT] for i in range(len(text) - MIN_FRAGMENT + 1))


def _variants(text: str) -> set[str]:
    """``text`` and the encodings under which a server may quote it back."""
    raw = text.encode("utf-8", "surrogatepass")
    found = {
        text,
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        urllib.parse.quote(text, safe=""),
        urllib.parse.quote(text),
        urllib.parse.quote_plus(text, safe=""),
        raw.hex(),
    }
    for offset in range(3):
        found.update(_base64_cores(raw, offset))
    return found


def _base64_cores(raw: bytes, offset: int) -> Iterator[str]:
    """The base64 characters that depend only on ``raw`` when ``offset`` bytes precede it.

    A base64 quartet encodes three bytes; the quartets that mix bytes of ``raw``
    with bytes before or after it differ from text to text and are left out.
    """
    encoded = base64.b64encode(bytes(offset) + raw).decode("ascii")
    start = 0 if offset == 0 else 4  # the first quartet holds the padding bytes
    whole = (offset + len(raw)) // 3 * 4  # quartets made of bytes only (no '=')
    core = encoded[start:whole]
    yield core
    yield core.replace("+", "-").replace("/", "_")


def _texts(value: object) -> Iterator[str]:
    """Every string inside a value (bytes decoded as UTF-8, map keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")  # its base64 (in the store) is a variant
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


class NotingEffects:
    """The run's effects, telling the redactor the text of every ``secret()`` read."""

    def __init__(self, redactor: Redactor, base: Effects) -> None:
        self.redactor = redactor
        self.base = base

    def now(self) -> Timestamp:
        return self.base.now()

    def uuid(self) -> str:
        return self.base.uuid()

    def getenv(self, name: str) -> str | None:
        return self.base.getenv(name)

    def getsecret(self, name: str) -> str | None:
        value = self.base.getsecret(name)
        if value is not None:
            self.redactor.add(value)
        return value
