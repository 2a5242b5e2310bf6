"""``flowc runs``: list, show and prune the runs of a store.

``flowc runs [--flow NAME] [--status S] [--limit N] [--format json]`` lists
runs, newest first; ``flowc runs show RUN_ID`` shows a run's inputs, status,
result or error and one line per step (key, outcome, attempts, status,
timing); ``flowc runs prune --older-than 30d`` deletes runs that ended before
then, with their journals.

These commands only read or tidy the store, so they use the synchronous store
interface and never start trio: listing a store of 100,000 runs is one
indexed query.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import time
from typing import TYPE_CHECKING, Any, NoReturn

import click

from flowc.commands.process import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from flowc.runtime.store import RunRecord, Store

_STATUSES = ("queued", "running", "completed", "failed", "interrupted")


def _store_option(function: Any) -> Any:
    return click.option(
        "--store",
        "store_url",
        metavar="URL",
        help="The store to read (default: FLOWC_STORE, else ~/.local/state/flowc/runs.db).",
    )(function)


def _format_option(function: Any) -> Any:
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(["text", "json"]),
        default="text",
        help="For people, or as JSON for scripts.",
    )(function)


@click.group("runs", invoke_without_command=True)
@click.option("--flow", "flow_name", metavar="NAME", help="Only runs of this flow.")
@click.option("--status", type=click.Choice(_STATUSES), help="Only runs with this status.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@_format_option
@_store_option
@click.pass_context
def command(
    context: click.Context,
    flow_name: str | None,
    status: str | None,
    limit: int,
    output_format: str,
    store_url: str | None,
) -> None:
    """List the runs of the store, newest first."""
    if context.invoked_subcommand is not None:
        return
    from flowc.runtime.store import RunQuery

    store = _open(store_url)
    records = store.list_runs(RunQuery(flow=flow_name, status=status, limit=limit))
    if output_format == "json":
        click.echo(json.dumps([_summary(r) for r in records], indent=2))
    elif not records:
        click.echo(f"no runs in {store.url}", err=True)
    else:
        _print_table(records)
    sys.exit(EXIT_OK)


@command.command("show")
@click.argument("run_id")
@_format_option
@_store_option
def show(run_id: str, output_format: str, store_url: str | None) -> None:
    """Show one run: inputs, status, result or error, and its steps."""
    store = _open(store_url)
    record = store.get_run(run_id)
    if record is None:
        _fail(f"no run {run_id} in the store {store.url}")
    steps = _steps(store, run_id)
    if output_format == "json":
        detail = {**_summary(record), **_outcome(record), "steps": steps}
        click.echo(json.dumps(detail, indent=2))
        sys.exit(EXIT_OK)
    outcome = _outcome(record)
    click.echo(f"run      {record.id}")
    click.echo(f"flow     {record.flow}  ({record.source})")
    click.echo(f"status   {record.status}  (attempt {record.attempt})")
    click.echo(f"started  {_when(record.created_at)}   updated {_when(record.updated_at)}")
    click.echo(f"inputs   {json.dumps(outcome['inputs'])}")
    if record.withheld_inputs:
        click.echo(f"         (not stored: {', '.join(record.withheld_inputs)}, secret)")
    if "result" in outcome:
        click.echo(f"result   {json.dumps(outcome['result'])}")
    if "error" in outcome:
        click.echo(f"error    {outcome['error'].get('message', '')}")
    if steps:
        click.echo("steps")
        width = max(len(step["key"]) for step in steps)
        for step in steps:
            status = f"HTTP {step['status']}" if step["status"] else ""
            click.echo(
                f"  {step['key']:<{width}}  {step['outcome']:<9} attempts {step['attempts']:<3}"
                f" {status:<9} {step['elapsed_ms']:>9.1f} ms"
            )
    sys.exit(EXIT_OK)


@command.command("prune")
@click.option("--older-than", "older_than", required=True, metavar="AGE", help="e.g. 30d, 12h.")
@_store_option
def prune(older_than: str, store_url: str | None) -> None:
    """Delete runs that ended longer ago than AGE (and their journals)."""
    age = parse_age(older_than)
    if age is None:
        _fail(f"--older-than expects an age such as 30d, 12h or 90m, found {older_than!r}")
    store = _open(store_url)
    removed = store.prune(time.time() - age)
    click.echo(f"flowc: pruned {removed} run{'s' if removed != 1 else ''}", err=True)
    sys.exit(EXIT_OK)


# --------------------------------------------------------------------------- helpers


_AGE_PART = re.compile(r"(\d+)([wdhms])")
_AGE_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_age(text: str) -> float | None:
    """``30d``, ``1d12h``, ``90m`` in seconds; None when it is not an age."""
    parts = _AGE_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return float(sum(int(n) * _AGE_UNITS[u] for n, u in parts))


def _open(store_url: str | None) -> Store:
    from flowc.runtime.store import StoreError, default_store_url, open_store

    try:
        return open_store(store_url or default_store_url())
    except StoreError as error:
        _fail(str(error))


def _fail(message: str) -> NoReturn:
    click.echo(f"flowc: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _when(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + "Z"


def _summary(record: RunRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "flow": record.flow,
        "status": record.status,
        "attempt": record.attempt,
        "created_at": _when(record.created_at),
        "updated_at": _when(record.updated_at),
        "seconds": round(record.updated_at - record.created_at, 3),
    }


def _outcome(record: RunRecord) -> dict[str, Any]:
    from flowc.common.values import to_json
    from flowc.runtime import codec

    detail: dict[str, Any] = {"inputs": to_json(codec.decode(record.inputs))}
    if record.result is not None:
        detail["result"] = to_json(codec.decode(record.result))
    if record.error is not None:
        data = json.loads(record.error)
        detail["error"] = {**data.get("error", {}), "message": data.get("message", "")}
    return detail


def _steps(store: Store, run_id: str) -> list[dict[str, Any]]:
    rows = []
    for entry in store.journal(run_id):
        if entry.kind != "step":
            continue
        data = json.loads(entry.data)
        rows.append(
            {
                "key": entry.key,
                "flow": data["flow"],
                "outcome": data["outcome"],
                "attempts": data["attempts"],
                "status": data.get("status", 0),
                "started": data.get("started", 0.0),
                "elapsed_ms": round(
                    (data.get("finished", 0.0) - data.get("started", 0.0)) * 1000, 3
                ),
            }
        )
    rows.sort(key=lambda row: row["started"])
    return rows


def _elapsed_ms(step: dict[str, Any]) -> float:
    return round((float(step.get("finished", 0.0)) - float(step.get("started", 0.0))) * 1000, 3)


def _print_table(records: list[RunRecord]) -> None:
    rows = [
        (r.id, r.flow, r.status, _when(r.created_at), f"{r.updated_at - r.created_at:.2f}s")
        for r in records
    ]
    header = ("RUN", "FLOW", "STATUS", "STARTED", "TIME")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
