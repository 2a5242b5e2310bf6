"""The on-disk parse cache (``parse_store``): hits give the very tree a fresh
parse gives, anything doubtful is a miss, and a warm start never imports Lark."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowc.compiler import ast, loader, parse_store
from flowc.compiler.parse_store import PersistentParseCache
from flowc.compiler.parser import parse_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "order_saga.flow"
TEXT = EXAMPLE.read_text(encoding="utf-8")


def spans(module: ast.Module) -> list[ast.Span]:
    return [node.span for node in ast.walk(module)]


def entries(directory: Path) -> list[Path]:
    return sorted(directory.glob("ast-*/*.pickle"))


def test_a_stored_tree_equals_a_fresh_parse_spans_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    PersistentParseCache(str(tmp_path)).parse("order_saga.flow", TEXT)
    assert len(entries(tmp_path)) == 1

    def refuse(*_: object) -> None:
        raise AssertionError("parsed although the tree was on disk")

    monkeypatch.setattr(loader.ParseCache, "parse_uncached", refuse)
    module, failure = PersistentParseCache(str(tmp_path)).parse("order_saga.flow", TEXT)
    fresh = parse_module(TEXT, "order_saga.flow")
    assert failure is None
    assert module == fresh
    assert module is not None
    assert spans(module) == spans(fresh)


def test_a_changed_text_is_parsed_again(tmp_path: Path) -> None:
    PersistentParseCache(str(tmp_path)).parse("a.flow", TEXT)
    edited = TEXT.replace("flow ", "flow  ", 1)
    module, _ = PersistentParseCache(str(tmp_path)).parse("a.flow", edited)
    assert module is not None
    assert spans(module) == spans(parse_module(edited, "a.flow"))


def test_the_same_text_under_another_name_gets_its_own_spans(tmp_path: Path) -> None:
    PersistentParseCache(str(tmp_path)).parse("one.flow", TEXT)
    module, _ = PersistentParseCache(str(tmp_path)).parse("two.flow", TEXT)
    assert module is not None
    assert module.span.file == "two.flow"


def test_files_larger_than_the_stored_maximum_are_parsed_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_store, "MAX_STORED_SOURCE", len(TEXT.encode()) - 1)
    module, failure = PersistentParseCache(str(tmp_path)).parse("big.flow", TEXT)
    assert failure is None and module == parse_module(TEXT, "big.flow")
    assert entries(tmp_path) == []
    monkeypatch.setattr(parse_store, "MAX_STORED_SOURCE", len(TEXT.encode()))
    PersistentParseCache(str(tmp_path)).parse("big.flow", TEXT)
    assert len(entries(tmp_path)) == 1


def test_syntax_errors_are_not_stored(tmp_path: Path) -> None:
    module, failure = PersistentParseCache(str(tmp_path)).parse("bad.flow", "flow f( {")
    assert module is None
    assert failure is not None
    assert entries(tmp_path) == []


def test_a_damaged_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    PersistentParseCache(str(tmp_path)).parse("a.flow", TEXT)
    (entry,) = entries(tmp_path)
    entry.write_bytes(b"not a pickle")
    module, _ = PersistentParseCache(str(tmp_path)).parse("a.flow", TEXT)
    assert module == parse_module(TEXT, "a.flow")
    assert entry.read_bytes() != b"not a pickle"


def test_a_new_parser_fingerprint_replaces_the_old_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    PersistentParseCache(str(tmp_path)).parse("a.flow", TEXT)
    (old,) = entries(tmp_path)
    monkeypatch.setattr(parse_store, "parser_fingerprint", lambda: "changed-parser")
    PersistentParseCache(str(tmp_path)).parse("a.flow", TEXT)
    (new,) = entries(tmp_path)
    assert new.parent.name == "ast-changed-parser"
    assert not old.exists()


def test_the_fingerprint_covers_the_parser_sources() -> None:
    for name in parse_store._PARSER_SOURCES:
        assert (parse_store._PACKAGE / name).is_file(), name


def test_without_a_cache_directory_nothing_is_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parse_store, "cache_directory", lambda: None)
    cache = PersistentParseCache()
    assert cache.store is None
    module, failure = cache.parse("a.flow", TEXT)
    assert module is not None
    assert failure is None


def test_a_tree_too_deep_to_pickle_is_still_returned(tmp_path: Path) -> None:
    text = "const x = " + "[" * 200 + "1" + "]" * 200 + "\n"
    module, failure = PersistentParseCache(str(tmp_path)).parse("deep.flow", text)
    assert failure is None
    assert module == parse_module(text, "deep.flow")


def test_entries_are_private_to_the_user(tmp_path: Path) -> None:
    PersistentParseCache(str(tmp_path)).parse("a.flow", TEXT)
    (entry,) = entries(tmp_path)
    assert entry.stat().st_mode & 0o077 == 0


WARM_START = """
import json, sys
sys.modules["interegular"] = None
from flowc.api import compile_file
from flowc.compiler.parse_store import PersistentParseCache
compile_file(sys.argv[1], parse_cache=PersistentParseCache())
print(json.dumps(sorted(m for m in sys.modules if m == "lark" or m.startswith("lark."))))
"""


def test_a_warm_start_compiles_and_lowers_without_importing_lark(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    command = [sys.executable, "-c", WARM_START, str(ROOT / "examples" / "subflows.flow")]
    cold = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    warm = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "lark" in json.loads(cold.stdout)
    assert json.loads(warm.stdout) == []


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "entry.pickle"
    target.mkdir()  # os.replace cannot put a file over a directory
    with pytest.raises(OSError):
        parse_store.write_atomically(target, b"data")
    assert [p.name for p in tmp_path.iterdir()] == ["entry.pickle"]
