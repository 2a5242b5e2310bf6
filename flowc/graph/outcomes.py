"""A run's outcome per step, read from the store, for ``flowc graph --run``.

The journal holds one ``step`` entry per step execution, keyed by the step's
stable key (``charge``, ``charge[3]``, ``send~2``, ``checkout/charge``).  A
graph node stands for every execution of its step in the flow drawn, so the
keys are folded to the step's name: loop indices and retry tries are dropped,
and keys inside sub-flow calls (``call/...``) are counted for the call node.
A node whose executions differ takes the worst outcome (failed, then
fallback, skipped, completed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from flowc.runtime.store import Store

COLOURS: Mapping[str, str] = {
    "completed": "#c8e6c9",
    "fallback": "#fff3b0",
    "skipped": "#e0e0e0",
    "failed": "#ffcdd2",
}
_RANK = {"completed": 0, "skipped": 1, "fallback": 2, "failed": 3}
_SUFFIX = re.compile(r"(\[\d+\]|~\d+)+$")


class UnknownRun(LookupError):
    """No run of that id in the store."""


def step_name(key: str) -> str:
    """The name of the top-level step a journal key belongs to."""
    head = key.split("/", 1)[0]
    return _SUFFIX.sub("", head)


def run_outcomes(store: Store, run_id: str) -> dict[str, str]:
    """Each step name of run ``run_id`` with its (worst) outcome."""
    if store.get_run(run_id) is None:
        raise UnknownRun(run_id)
    found: dict[str, str] = {}
    for entry in store.journal(run_id):
        if entry.kind != "step":
            continue
        outcome = str(json.loads(entry.data).get("outcome", ""))
        name = step_name(entry.key)
        if _RANK.get(outcome, -1) >= _RANK.get(found.get(name, ""), -1):
            found[name] = outcome
    return found
