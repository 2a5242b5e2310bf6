"""Starting the parser quickly: a snapshot of the built parser and a shared scanner.

Building the LALR tables for ``flow.lark`` takes most of a second, so the built
parser is saved once and loaded by every later process.  Two costs remained after
that, and this module removes both:

**Loading.**  Lark's own cache stores its parser in a portable serialised form and
rebuilds the objects in Python on every load: the 519 parse-table states, one
lexer per state, every terminal.  That cost about 50 ms of each cold start.
Instead we pickle the ``ParsingFrontend`` object graph itself, as Lark left it
after building, so loading is one C-level ``pickle.load`` (about 10 ms).  Three
kinds of object in the graph cannot be pickled as they are and get a stand-in:
the ``Shift``/``Reduce`` action singletons, compared by identity in Lark's
parser loop, are pickled as references to themselves; modules (Lark keeps the
``re`` module on its lexers) are pickled by name; and our inline transformer,
the ``AstBuilder`` whose bound methods are the rule callbacks, is a persistent
id resolved to the loading process's builder.  Names Lark read from the grammar
are its ``Token`` objects; they are pickled as plain interned strings, because
as dictionary keys they make every table lookup call ``Token.__eq__`` in
Python (parsing was 30 % slower with them).  Equal action tuples are shared
before pickling, which halves the file.  The snapshot's name carries a digest
of the grammar text, Lark's version, Python's version and ``SNAPSHOT_FORMAT``;
anything that fails to load is rebuilt from the grammar.  The snapshot lives in
the user's cache directory, next to where Lark keeps its own pickled cache, and
is trusted as much as that.

**The first parse.**  The contextual lexer keeps one scanner per parser state
(124 distinct sets of acceptable terminals) and compiles each one's regular
expression the first time the parser reaches that state: some 40 compilations,
30-50 ms, for even a small file.  ``SharedScannerLexer`` lets most states use
the root scanner (all terminals, compiled once) instead.  It is exact, not a
heuristic: a Python alternation returns its first alternative that matches, and
a state's scanner is the root scanner's alternation restricted to the state's
terminals, in the same order.  So when the root scanner's match is a terminal
the state accepts, the state's own scanner would have returned that same
terminal with the same text.  Keyword handling needs one more step: Lark folds
keywords (``"flow"``) into the identifier terminals that also match them and
re-types a matched identifier afterwards; we re-type only to keywords the
state accepts, as the state's own scanner would.  The argument holds only when
every terminal of the state's scanner is also one of the root scanner's
alternatives; states where it does not (a keyword standing alone because no
identifier is acceptable there) keep their own scanner, as do all tokens the
root match cannot settle, so errors are Lark's own, unchanged.  The parser
tests compare this lexer with Lark's on every example and on fuzzed text.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import re
import re._parser as re_parser  # type: ignore[import-not-found,unused-ignore]
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

import lark
from lark import TextSlice, Token
from lark.lexer import BasicLexer, CallChain, ContextualLexer, UnlessCallback
from lark.parser_frontends import ParsingFrontend
from lark.parsers import lalr_analysis

from flowc.common.files import cache_directory, write_atomically

SNAPSHOT_FORMAT: Final = 1
_TRANSFORMER_ID: Final = "transformer"


def load_frontend(
    grammar: str, transformer: Any, build: Callable[[], lark.Lark]
) -> ParsingFrontend:
    """The parser for ``grammar`` with ``transformer`` as its inline transformer.

    Loads the snapshot when there is a valid one; otherwise calls ``build`` (which
    must build a Lark parser for the same grammar, transformer and options) and
    saves a snapshot of its result for the next process.
    """
    path = _snapshot_path(grammar)
    if path is not None:
        frontend = _read_snapshot(path, transformer)
        if frontend is not None:
            return frontend
    built = build().parser
    _share_equal_actions(built)
    share_root_scanner(built)
    snapshot = _dumps(built, transformer)
    if path is not None:
        _write_snapshot(path, snapshot)
    # Use what later processes will load (strings rather than grammar tokens, and
    # so on), which also proves at once that the snapshot loads.
    frontend = _SnapshotUnpickler(io.BytesIO(snapshot), transformer).load()
    assert isinstance(frontend, ParsingFrontend)
    return frontend


# --------------------------------------------------------------------------- the snapshot file


def _snapshot_path(grammar: str) -> str | None:
    directory = cache_directory()
    if directory is None:
        return None
    key = "\0".join((grammar, lark.__version__, sys.version, str(SNAPSHOT_FORMAT)))
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]
    return os.path.join(directory, f"parser-{digest}.pickle")


def _read_snapshot(path: str, transformer: Any) -> ParsingFrontend | None:
    try:
        with open(path, "rb") as file:
            frontend = _SnapshotUnpickler(file, transformer).load()
    except Exception:  # missing, damaged or foreign: rebuild (and overwrite) it
        return None
    return frontend if isinstance(frontend, ParsingFrontend) else None


def _dumps(frontend: ParsingFrontend, transformer: Any) -> bytes:
    buffer = io.BytesIO()
    _SnapshotPickler(buffer, transformer).dump(frontend)
    return buffer.getvalue()


def _write_snapshot(path: str, snapshot: bytes) -> None:
    try:
        write_atomically(Path(path), snapshot)
        for older in Path(path).parent.glob("parser-*.pickle"):
            if str(older) != path:
                older.unlink(missing_ok=True)
    except OSError:
        return  # a read-only or full disk only costs the next start its speed


def _share_equal_actions(frontend: ParsingFrontend) -> None:
    """Make equal ``(action, argument)`` pairs of the parse table one tuple, so
    pickle writes each once (831 distinct pairs among ~14,000; half the file)."""
    shared: dict[tuple[int, int], Any] = {}
    for actions in frontend.parser.parser.parse_table.states.values():
        for token, pair in actions.items():
            action, argument = pair
            actions[token] = shared.setdefault((id(action), id(argument)), pair)


class _SnapshotPickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, transformer: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.transformer = transformer

    def persistent_id(self, obj: Any) -> str | None:
        return _TRANSFORMER_ID if obj is self.transformer else None

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Token:
            # Names read from the grammar are tokens; as dictionary keys they make
            # every lookup by a plain string call ``Token.__eq__`` in Python.
            return sys.intern, (str(obj),)
        if isinstance(obj, types.ModuleType):
            return importlib.import_module, (obj.__name__,)
        if obj is lalr_analysis.Shift:
            return getattr, (lalr_analysis, "Shift")
        if obj is lalr_analysis.Reduce:
            return getattr, (lalr_analysis, "Reduce")
        return NotImplemented


class _SnapshotUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, transformer: Any) -> None:
        super().__init__(file)
        self.transformer = transformer

    def persistent_load(self, pid: Any) -> Any:
        if pid == _TRANSFORMER_ID:
            return self.transformer
        raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")


# --------------------------------------------------------------------------- the shared scanner


class RootTables:
    """What every state lexer needs to know about the root scanner.

    ``rank`` orders the root scanner's alternatives; ``keywords`` maps each
    identifier terminal to the keywords folded into it (text -> terminal name);
    ``literals`` and ``regexps`` describe every terminal for matching it alone,
    and ``starts`` the characters a regexp terminal's match can begin with.
    ``root_match`` is the root scanner's alternation, compiled on first use (the
    same alternatives in the same order as Lark's root scanner, called directly
    because this is the lexer's innermost loop).
    """

    def __init__(self, root: BasicLexer, keywords: dict[str, dict[str, str]]) -> None:
        alternatives = root.scanner.terminals
        self.rank = {terminal.name: i for i, terminal in enumerate(alternatives)}
        self.root_regexp = "|".join(f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in alternatives)
        self.keywords = keywords
        self.flags = root.g_regex_flags
        self.literals: dict[str, str] = {}
        self.regexps: dict[str, str] = {}
        for terminal in root.terminals:
            pattern = terminal.pattern
            if pattern.type == "str" and not pattern.flags:
                self.literals[terminal.name] = pattern.value
            else:
                self.regexps[terminal.name] = pattern.to_regexp()
        self.starts = {name: first_characters(regexp) for name, regexp in self.regexps.items()}
        self.__setstate__(vars(self))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        del state["root_match"], state["_compiled"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._compiled: dict[str, re.Pattern[str]] = {}
        self.root_match: Callable[[str, int, int], re.Match[str] | None] = self._first_root_match

    def _first_root_match(self, text: str, pos: int, end: int) -> re.Match[str] | None:
        self.root_match = re.compile(self.root_regexp, self.flags).match
        return self.root_match(text, pos, end)

    def can_start_with(self, name: str, first: str) -> bool:
        """Whether terminal ``name`` could match text beginning with ``first``."""
        literal = self.literals.get(name)
        if literal is not None:
            return literal.startswith(first)
        starts = self.starts.get(name)
        return starts is None or first in starts

    def match_one(self, name: str, text: TextSlice[str], pos: int) -> str | None:
        """The text terminal ``name`` alone matches at ``pos``, if it matches."""
        literal = self.literals.get(name)
        if literal is not None:
            return literal if text.text.startswith(literal, pos, text.end) else None
        compiled = self._compiled.get(name)
        if compiled is None:
            compiled = self._compiled[name] = re.compile(self.regexps[name], self.flags)
        found = compiled.match(text.text, pos, text.end)
        return None if found is None else found.group(0)


class SharedScannerLexer(BasicLexer):
    """A per-state lexer that asks the root scanner first (see the module docstring).

    Instances are Lark's own per-state lexers with this class swapped in by
    ``share_root_scanner``; only ``match`` differs.  For a root match of terminal
    R, the *plan* lists the state's alternatives whose outcome the root match
    does not settle, in the state's order: those before R (keywords the root
    scanner folds into identifiers), and, when R is not an alternative here, those
    after R.  They are tried one by one; the first that matches is the state's
    answer, and if none does, R is (or, when R is not an alternative here, the
    state's own scanner decides, which is the rare path of syntax errors).
    """

    tables: RootTables
    accepts: frozenset[str]
    alternatives: tuple[str, ...]
    plans: dict[str, _Plan]
    retype_tables: dict[str, Mapping[str, str]]

    def match(self, text: TextSlice[str], pos: int) -> tuple[str, str] | None:
        found = self.tables.root_match(text.text, pos, text.end)
        if found is not None:
            value = found.group(0)
            kind: str = found.lastgroup  # type: ignore[assignment]
            plan = self.plans.get(kind) or self._plan(kind)
            if plan is _SETTLED:
                return value, kind
            settled, retype, checks_by_first = plan
            if checks_by_first is not None:
                answer = self._try_checks(checks_by_first, kind, text, pos, value[0])
                if answer is not None:
                    return answer
            if settled:
                return value, retype.get(value, kind)
        result: tuple[str, str] | None = self.scanner.match(text, pos)
        return result

    def _try_checks(
        self,
        checks_by_first: dict[str, tuple[str, ...]],
        kind: str,
        text: TextSlice[str],
        pos: int,
        first: str,
    ) -> tuple[str, str] | None:
        checks = checks_by_first.get(first)
        if checks is None:
            checks = checks_by_first[first] = self._checks(kind, first)
        for name in checks:
            matched = self.tables.match_one(name, text, pos)
            if matched is not None:
                return matched, self._retype_table(name).get(matched, name)
        return None

    def _plan(self, kind: str) -> _Plan:
        """How to finish a root match of terminal ``kind`` in this state."""
        settled = kind in self.alternatives
        checks_needed = any(self._unsettled(name, kind) for name in self._before(kind))
        retype = self._retype_table(kind)
        plan: _Plan = (settled, retype, {} if checks_needed else None)
        if settled and not retype and not checks_needed:
            plan = _SETTLED
        self.plans[kind] = plan
        return plan

    def _checks(self, kind: str, first: str) -> tuple[str, ...]:
        """The alternatives to try, in order, for a ``kind`` match beginning with ``first``."""
        return tuple(
            name
            for name in self._before(kind)
            if self._unsettled(name, kind) and self.tables.can_start_with(name, first)
        )

    def _before(self, kind: str) -> tuple[str, ...]:
        """This state's alternatives ahead of ``kind`` (all of them if it is not one)."""
        if kind in self.alternatives:
            return self.alternatives[: self.alternatives.index(kind)]
        return self.alternatives

    def _unsettled(self, name: str, kind: str) -> bool:
        """Whether the root match of ``kind`` leaves open if ``name`` matches: it does
        not when the root scanner tried ``name`` first (and so it failed)."""
        rank = self.tables.rank
        return rank.get(name, rank[kind]) >= rank[kind]

    def _retype_table(self, kind: str) -> Mapping[str, str]:
        """Text -> keyword for the keywords folded into ``kind`` that this state accepts."""
        table = self.retype_tables.get(kind)
        if table is None:
            folded = self.tables.keywords.get(kind, _NO_KEYWORDS)
            table = {text: name for text, name in folded.items() if name in self.accepts}
            self.retype_tables[kind] = table
        return table


_Plan = tuple[bool, Mapping[str, str], dict[str, tuple[str, ...]] | None]
_SETTLED: Final[_Plan] = (True, {}, None)
"""The plan of most terminals in most states: the root match is the answer."""
_NO_KEYWORDS: Final[Mapping[str, str]] = {}


def share_root_scanner(frontend: ParsingFrontend) -> int:
    """Make every state lexer of ``frontend`` a ``SharedScannerLexer``.

    Returns how many distinct state lexers were converted (none when the grammar
    has features the plans do not model).  Scanners compiled while deciding are
    dropped again, so a snapshot holds no compiled patterns.
    """
    contextual = frontend.lexer
    if not isinstance(contextual, ContextualLexer):
        return 0
    root = contextual.root_lexer
    if not isinstance(root, BasicLexer) or root.use_bytes:
        return 0
    keywords = _keyword_table(root)
    converted = 0
    tables = None if keywords is None else _root_tables(root, keywords)
    if tables is not None:
        for lexer in {id(lexer): lexer for lexer in contextual.lexers.values()}.values():
            if isinstance(lexer, BasicLexer):
                converted += _convert(lexer, tables)
    _drop_scanner(root)
    return converted


def _root_tables(root: BasicLexer, keywords: dict[str, dict[str, str]]) -> RootTables | None:
    tables = RootTables(root, keywords)
    try:
        re.compile(tables.root_regexp, tables.flags)
    except (re.error, AssertionError, OverflowError):  # too many groups for this Python
        return None
    return tables


def _drop_scanner(lexer: BasicLexer) -> None:
    lexer._scanner = None
    vars(lexer).pop("callback", None)


def _convert(lexer: BasicLexer, tables: RootTables) -> int:
    alternatives = tuple(terminal.name for terminal in lexer.scanner.terminals)
    _drop_scanner(lexer)
    if type(lexer) is not BasicLexer or lexer.g_regex_flags != tables.flags:
        return 0
    lexer.__class__ = SharedScannerLexer
    assert isinstance(lexer, SharedScannerLexer)
    lexer.tables = tables
    lexer.accepts = frozenset(terminal.name for terminal in lexer.terminals)
    lexer.alternatives = alternatives
    lexer.plans = {}
    lexer.retype_tables = {}
    lexer.callback = dict(lexer.user_callbacks)
    return 1


def _keyword_table(root: BasicLexer) -> dict[str, dict[str, str]] | None:
    """For each identifier terminal, the keywords folded into it: text -> terminal name.

    None when some folded terminal is not a plain string or has a user callback,
    cases where re-typing by table would not be what Lark does.
    """
    root.scanner  # noqa: B018 -- builds the scanner and its keyword callbacks
    table: dict[str, dict[str, str]] = {}
    for kind, callback in root.callback.items():
        if isinstance(callback, CallChain):
            return None
        if not isinstance(callback, UnlessCallback):
            continue
        for terminal in callback.scanner.terminals:
            pattern = terminal.pattern
            if pattern.type != "str" or pattern.flags or terminal.name in root.user_callbacks:
                return None
            table.setdefault(kind, {})[pattern.value] = terminal.name
    return table


# --------------------------------------------------------------------------- first characters

_ANY: Final = None
_MAX_SET: Final = 512


def first_characters(regexp: str) -> frozenset[str] | None:
    """The characters a match of ``regexp`` can begin with; None for "any, as far as
    we can tell".  An over-approximation: lookarounds are ignored, anything
    unusual (case folding, negated sets, categories, back-references) is "any".
    Uses the standard library's regexp parser, as Lark does to size terminals.
    """
    try:
        parsed = re_parser.parse(regexp)
    except re.error:
        return _ANY
    if parsed.state.flags & re.IGNORECASE:
        return _ANY
    chars, nullable = _first_of_sequence(list(parsed))
    return None if chars is _ANY or nullable else frozenset(chars)


_Chars = set[str] | None


def _first_of_sequence(items: list[tuple[Any, Any]]) -> tuple[_Chars, bool]:
    """(first characters, whether the sequence can match the empty string)."""
    found: set[str] = set()
    for op, argument in items:
        chars, nullable = _first_of_item(op, argument)
        if chars is _ANY:
            return _ANY, False
        found |= chars
        if not nullable:
            return found, False
    return found, True


def _first_of_item(op: Any, argument: Any) -> tuple[_Chars, bool]:
    name = str(op)
    if name == "LITERAL":
        return {chr(argument)}, False
    if name == "IN":
        return _first_of_set(argument), False
    if name == "SUBPATTERN":
        _group, add_flags, _del_flags, pattern = argument
        if add_flags & re.IGNORECASE:
            return _ANY, False
        return _first_of_sequence(list(pattern))
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        minimum, _maximum, pattern = argument
        chars, nullable = _first_of_sequence(list(pattern))
        return chars, nullable or minimum == 0
    if name == "BRANCH":
        return _first_of_branches(argument[1])
    if name in ("AT", "ASSERT", "ASSERT_NOT"):
        return set(), True  # zero-width
    return _ANY, False


def _first_of_branches(branches: list[Any]) -> tuple[_Chars, bool]:
    found: set[str] = set()
    any_nullable = False
    for branch in branches:
        chars, nullable = _first_of_sequence(list(branch))
        if chars is _ANY:
            return _ANY, False
        found |= chars
        any_nullable = any_nullable or nullable
    return found, any_nullable


def _first_of_set(members: list[tuple[Any, Any]]) -> _Chars:
    found: set[str] = set()
    for op, argument in members:
        name = str(op)
        if name == "LITERAL":
            found.add(chr(argument))
        elif name == "RANGE" and argument[1] - argument[0] < _MAX_SET:
            found.update(chr(code) for code in range(argument[0], argument[1] + 1))
        else:
            return _ANY  # NEGATE, CATEGORY, or a huge range
    return found
