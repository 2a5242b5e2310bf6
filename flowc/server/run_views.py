"""What the API answers about a run: its summary, its view, its steps.

``run_summary`` is a list row; ``run_view`` adds the inputs (secret inputs
withheld), the result or the error and whether compensations ran;
``step_rows`` are the run's journaled steps (outcome, attempts, status,
error, start and elapsed time), in the order they started.  ``step_detail``
is one step as the web UI's step panel shows it: the row plus a *preview*
of the response (its status, content type and the first ``PREVIEW_CHARS``
characters of its body as JSON).  A journaled value never holds a secret
(the codec refuses them; such a step is journaled ``withheld``, without its
value), and the preview is rendered by the value model's secret-free
``to_json``; response headers other than the content type are not shown.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from flowc.common.values import to_json
from flowc.runtime import codec
from flowc.runtime.store import AsyncStore, RunRecord

PREVIEW_CHARS: Final = 2_000
"""Characters of a step's response body that its detail shows."""


def when(epoch: float) -> str:
    """``epoch`` as RFC 3339 text in UTC with milliseconds."""
    return (
        dt.datetime.fromtimestamp(epoch, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def run_summary(record: RunRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "flow": record.flow,
        "status": record.status,
        "attempt": record.attempt,
        "created_at": when(record.created_at),
        "updated_at": when(record.updated_at),
        "url": f"/v1/runs/{record.id}",
    }


def run_view(record: RunRecord) -> dict[str, Any]:
    view = run_summary(record)
    decoded = to_json(codec.decode(record.inputs))
    inputs: dict[str, Any] = dict(decoded) if isinstance(decoded, dict) else {}
    for name in record.withheld_inputs:
        inputs[name] = "***redacted***"
    view["inputs"] = inputs
    if record.result is not None:
        view["result"] = to_json(codec.decode(record.result))
    if record.error is not None:
        data = json.loads(record.error)
        view["error"] = {**data.get("error", {}), "message": data.get("message", "")}
    view["compensated"] = record.compensated
    return view


def _row(key: str, data: dict[str, Any]) -> dict[str, Any]:
    started, finished = float(data.get("started", 0.0)), float(data.get("finished", 0.0))
    return {
        "key": key,
        "flow": data.get("flow", ""),
        "outcome": data.get("outcome", ""),
        "attempts": data.get("attempts", 0),
        "status": data.get("status", 0),
        "error": data.get("error"),
        "started_at": when(started),
        "elapsed_ms": round((finished - started) * 1000, 3),
    }


async def step_rows(store: AsyncStore, run_id: str) -> list[dict[str, Any]]:
    rows = [
        _row(entry.key, json.loads(entry.data))
        for entry in await store.journal(run_id)
        if entry.kind == "step"
    ]
    rows.sort(key=lambda row: row["started_at"])
    return rows


async def step_detail(store: AsyncStore, run_id: str, key: str) -> dict[str, Any] | None:
    """The step ``key`` of the run with a preview of its response, or None if not journaled."""
    for entry in await store.journal(run_id):
        if entry.kind == "step" and entry.key == key:
            data = json.loads(entry.data)
            detail = _row(key, data)
            detail["withheld"] = bool(data.get("withheld", False))
            detail["response"] = _preview(data.get("value"))
            return detail
    return None


def _preview(plain: Any) -> dict[str, Any] | None:
    if plain is None:
        return None
    value = to_json(codec.from_plain(plain))
    if not isinstance(value, dict) or "body" not in value:
        text = json.dumps(value, ensure_ascii=False)
        return {"body": text[:PREVIEW_CHARS], "truncated": len(text) > PREVIEW_CHARS}
    headers = value.get("headers")
    pairs = headers.items() if isinstance(headers, dict) else ()
    kind = next((v for k, v in pairs if k.lower() == "content-type"), None)
    text = json.dumps(value["body"], ensure_ascii=False, indent=1)
    return {
        "status": value.get("status"),
        "content_type": kind,
        "body": text[:PREVIEW_CHARS],
        "truncated": len(text) > PREVIEW_CHARS,
    }
