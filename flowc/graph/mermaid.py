"""A flow graph as Mermaid flowchart text (``flowc graph --format mermaid``).

Regions (loops, ``parallel``, ``try``, ``if``...) become subgraphs holding
their head node and their contents.  Effect-order edges are solid arrows,
data-dependency edges inside an overlapped segment dotted ones (``-.->``),
branch edges solid with their condition as the label.  Given a run's
outcomes, each step node gets a class named after its outcome.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowc.graph.model import REGION_KINDS, FlowGraph, GraphNode
from flowc.graph.outcomes import COLOURS

_SHAPES = {
    "start": ("([", "])"),
    "end": ("([", "])"),
    "call": ("[[", "]]"),
    "if": ("{", "}"),
    "match": ("{", "}"),
    "return": ("([", "])"),
    "fail": ("[/", "/]"),
}


def to_mermaid(graph: FlowGraph, outcomes: Mapping[str, str] | None = None) -> str:
    children = graph.children()
    lines = ["flowchart TD"]
    _emit(children, None, lines, 1)
    for edge in graph.edges:
        arrow = "-.->" if edge.kind == "data" else "-->"
        label = f"|{_escape(edge.label)}|" if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    if outcomes:
        lines += _classes(graph, outcomes)
    return "\n".join(lines) + "\n"


def _emit(
    children: dict[str | None, list[GraphNode]], parent: str | None, lines: list[str], depth: int
) -> None:
    pad = "    " * depth
    for node in children.get(parent, []):
        opening, closing = _SHAPES.get(node.kind, ("[", "]"))
        text = _escape(_label(node))
        if node.kind in REGION_KINDS and node.id in children:
            lines.append(f'{pad}subgraph {node.id}_region["{_escape(node.kind)}"]')
            lines.append(f'{pad}    {node.id}{opening}"{text}"{closing}')
            _emit(children, node.id, lines, depth + 1)
            lines.append(f"{pad}end")
        else:
            lines.append(f'{pad}{node.id}{opening}"{text}"{closing}')


def _label(node: GraphNode) -> str:
    extras = [f"{key} {value}" for key, value in node.clauses]
    return "<br/>".join([node.label, *extras])


def _escape(text: str) -> str:
    return (
        text.replace("&", "#amp;")
        .replace('"', "#quot;")
        .replace("<br/>", "\0")
        .replace("<", "#lt;")
        .replace(">", "#gt;")
        .replace("|", "#124;")
        .replace("\n", " ")
        .replace("\0", "<br/>")
    )


def _classes(graph: FlowGraph, outcomes: Mapping[str, str]) -> list[str]:
    lines = [f"    classDef {name} fill:{colour}" for name, colour in COLOURS.items()]
    for node in graph.nodes:
        outcome = outcomes.get(node.step or "") if node.step else None
        if outcome in COLOURS:
            lines.append(f"    class {node.id} {outcome}")
    return lines
