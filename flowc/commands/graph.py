"""``flowc graph``: draw a flow as Mermaid, DOT, SVG, HTML or JSON.

The file is compiled as ``flowc run`` would (diagnostics and exit 1 when it
does not check), the flow's graph is built from its IR (``flowc.graph``),
and, with ``--run``, each step is coloured by that run's outcome from the
store.  SVG and HTML run Graphviz's ``dot``; everything else is text made
here.  Output goes to stdout or to ``-o FILE``.
"""

from __future__ import annotations

import json
import sys
from typing import NoReturn

import click

from flowc.commands.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE

FORMATS = ("mermaid", "dot", "svg", "html", "json")
_STORE_HELP = "The store --run reads (default: FLOWC_STORE, else ~/.local/state/flowc/runs.db)."


@click.command("graph")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--flow", "flow_name", metavar="NAME", help="The flow to draw (default: the first).")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="mermaid",
              show_default=True)  # fmt: skip
@click.option("-o", "--output", "output", metavar="FILE", help="Write here instead of stdout.")
@click.option("--run", "run_id", metavar="RUN_ID", help="Colour the steps by this run's outcome.")
@click.option("--store", "store_url", metavar="URL", help=_STORE_HELP)
def command(
    file: str,
    flow_name: str | None,
    output_format: str,
    output: str | None,
    run_id: str | None,
    store_url: str | None,
) -> None:
    """Draw the flow FILE defines: steps, regions, order and data edges."""
    from flowc.api import CompileError, compile_file
    from flowc.compiler import SourceError
    from flowc.graph import messages
    from flowc.graph.model import UnknownFlow, find_flow, flow_graph

    try:
        program = compile_file(file)
    except SourceError as error:
        _fail(str(error))
    except CompileError as error:
        click.echo(str(error), err=True)
        sys.exit(EXIT_FAILED)
    try:
        flow = find_flow(program.ir, flow_name)
    except UnknownFlow:
        known = ", ".join(f.name for f in program.ir.flows_of(program.ir.root)) or "none"
        if flow_name is None:
            _fail(messages.NO_FLOWS.format(file=file))
        _fail(messages.UNKNOWN_FLOW.format(flow=flow_name, file=file, known=known))
    graph = flow_graph(program.ir, flow.name)
    outcomes = _outcomes(run_id, store_url, flow.name) if run_id else None
    text = _render(graph, output_format, outcomes)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            with open(output, "w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as error:
            _fail(f"cannot write {output}: {error.strerror}")
    sys.exit(EXIT_OK)


def _render(graph: object, output_format: str, outcomes: dict[str, str] | None) -> str:
    from flowc.graph.dot import to_dot
    from flowc.graph.html import to_html
    from flowc.graph.mermaid import to_mermaid
    from flowc.graph.model import FlowGraph
    from flowc.graph.svg import GraphvizError, dot_to_svg

    assert isinstance(graph, FlowGraph)
    if output_format == "json":
        payload = graph.to_json()
        if outcomes is not None:
            payload["outcomes"] = outcomes
        return json.dumps(payload, indent=2) + "\n"
    if output_format == "mermaid":
        return to_mermaid(graph, outcomes)
    dot_text = to_dot(graph, outcomes)
    if output_format == "dot":
        return dot_text
    try:
        svg = dot_to_svg(dot_text)
    except GraphvizError as error:
        _fail(str(error))
    return svg if output_format == "svg" else to_html(graph.flow, svg, outcomes)


def _outcomes(run_id: str, store_url: str | None, flow: str) -> dict[str, str]:
    from flowc.graph import messages
    from flowc.graph.outcomes import UnknownRun, run_outcomes
    from flowc.runtime.store import StoreError, default_store_url, open_store

    url = store_url or default_store_url()
    try:
        store = open_store(url)
        record = store.get_run(run_id)
        if record is not None and record.flow != flow:
            _fail(messages.RUN_OF_OTHER_FLOW.format(run_id=run_id, actual=record.flow, flow=flow))
        return run_outcomes(store, run_id)
    except UnknownRun:
        _fail(messages.UNKNOWN_RUN.format(run_id=run_id, store=url))
    except StoreError as error:
        _fail(str(error))


def _fail(message: str) -> NoReturn:
    click.echo(f"flowc: error: {message}", err=True)
    sys.exit(EXIT_USAGE)
