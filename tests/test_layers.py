"""The package layers, enforced: a lower layer never imports a higher one.

flowc is built in floors, as cel-go is (``common/`` under ``checker/`` and
``interpreter/``):

1. ``flowc.grammar`` (the keyword list) and ``flowc.common`` — the shared
   vocabulary: spans, types and their relations, the value model, the standard
   library registry (signatures and implementations), the error record.
2. ``flowc.contracts`` — the documents that describe services (OpenAPI
   documents and ``.proto`` files: reading them with positions, their models,
   ``$ref`` resolution, their types in flowc's terms, their stores).  It knows
   nothing of flowc's syntax: the checks of steps against them are compiler
   phases.
3. ``flowc.compiler`` — parser, checker, lowering, IR, and the expression
   compiler that turns checked expressions into closures.
4. ``flowc.runtime`` — the engine that runs lowered programs.
5. everything above: the language server, the Python API, the commands.

Imports are read from the source (every ``import`` statement, including the
ones inside functions and ``TYPE_CHECKING`` blocks, which hide a cycle as well
as they hide a cost), so a lazy import cannot slip past the rule.  Only the
parser's own modules may import lark.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "flowc"

# A package (or module) and the flowc packages it may import besides itself.
ALLOWED: dict[str, set[str]] = {
    "flowc.grammar": set(),
    "flowc.common": {"flowc.grammar"},
    "flowc.contracts": {"flowc.grammar", "flowc.common"},
    "flowc.compiler": {"flowc.grammar", "flowc.common", "flowc.contracts"},
    "flowc.runtime": {"flowc.grammar", "flowc.common", "flowc.compiler", "flowc.contracts"},
    "flowc.demo": set(),
    "flowc.lsp": {"flowc.grammar", "flowc.common", "flowc.compiler", "flowc.contracts"},
    "flowc.graph": {
        "flowc.grammar",
        "flowc.common",
        "flowc.compiler",
        "flowc.contracts",
        "flowc.runtime",
    },
    "flowc.server": {
        "flowc.grammar",
        "flowc.common",
        "flowc.compiler",
        "flowc.contracts",
        "flowc.runtime",
        "flowc.graph",
    },
}
"""Packages not listed (the commands, the API) sit on top and may import
anything below them."""

LARK_USERS = {
    "flowc.compiler.parser",
    "flowc.compiler.parser_tables",
    "flowc.compiler.parser_interactive",
    "flowc.compiler.ast_builder",
    "flowc.compiler.lexical",
}
"""The parser layer: the only modules that may import lark."""


VERSION = {"flowc.__version__"}
"""The version string, which every layer may read from the package's face."""


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, package: str = "") -> list[tuple[int, str]]:
    """Every module ``path`` (of ``package``) imports, absolute, with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            # `from flowc.compiler import lowering` imports the module, not only the package
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _layer(module: str) -> str | None:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _violations() -> list[str]:
    problems = []
    for path in _sources():
        module = _module_name(path)
        layer = _layer(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, imported in _imports(path, package):
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if imported.split(".")[0] == "lark" and module not in LARK_USERS:
                problems.append(f"{where}: {module} imports lark (only the parser may)")
            if layer is None or not imported.startswith("flowc.") or imported in VERSION:
                continue
            target = _layer(imported)
            if target != layer and target not in ALLOWED[layer]:
                above = target or "the top floor"
                problems.append(f"{where}: {module} ({layer}) imports {imported} ({above})")
    return problems


def test_no_layer_imports_a_higher_one() -> None:
    assert _violations() == []


def test_the_rule_sees_lazy_imports(tmp_path: Path) -> None:
    """An import hidden inside a function is still an import."""
    source = tmp_path / "probe.py"
    source.write_text(
        "def f():\n    from flowc.runtime.session import RunSession\n"
        "if TYPE_CHECKING:\n    import lark\n",
        encoding="utf-8",
    )
    assert [name for _, name in _imports(source)] == [
        "flowc.runtime.session",
        "flowc.runtime.session.RunSession",
        "lark",
    ]


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_exists(layer: str) -> None:
    """A renamed package must not silently make its rule vacuous."""
    assert (PACKAGE.parent / layer.replace(".", "/")).is_dir()
    modules = [p for p in _sources() if _layer(_module_name(p)) == layer]
    assert modules


def test_every_lark_user_exists() -> None:
    for module in LARK_USERS:
        assert (PACKAGE.parent / (module.replace(".", "/") + ".py")).is_file(), module
