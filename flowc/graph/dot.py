"""A flow graph as Graphviz DOT text (``flowc graph --format dot``).

Regions become clusters (``subgraph cluster_<id>``) holding their head node
and their contents, nested as the regions are; a sub-flow call is a collapsed
node (a box with double sides) naming its callee.  Effect-order edges are
solid, data-dependency edges dashed, branch edges solid and labelled.  Every
node's ``id`` is its graph id, so the SVG ``dot`` makes has a ``<title>`` per
node that tests and the web UI can find.  Given a run's outcomes, step nodes
are filled with the outcome's colour.
"""

from __future__ import annotations

from collections.abc import Mapping

from flowc.graph.model import REGION_KINDS, FlowGraph, GraphNode
from flowc.graph.outcomes import COLOURS

_SHAPES = {
    "start": "oval",
    "end": "oval",
    "call": "box3d",
    "if": "diamond",
    "match": "diamond",
    "return": "oval",
    "fail": "octagon",
    "step": "box",
}


def to_dot(graph: FlowGraph, outcomes: Mapping[str, str] | None = None) -> str:
    children = graph.children()
    lines = [
        f"digraph {_quote(graph.flow)} {{",
        "    rankdir=TB;",
        '    node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled",'
        ' fillcolor="#ffffff"];',
        '    edge [fontname="Helvetica", fontsize=9];',
    ]
    _emit(children, None, lines, 1, outcomes or {})
    for edge in graph.edges:
        attributes = []
        if edge.kind == "data":
            attributes.append("style=dashed")
        if edge.label:
            attributes.append(f"label={_quote(edge.label)}")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _emit(
    children: dict[str | None, list[GraphNode]],
    parent: str | None,
    lines: list[str],
    depth: int,
    outcomes: Mapping[str, str],
) -> None:
    pad = "    " * depth
    for node in children.get(parent, []):
        if node.kind in REGION_KINDS and node.id in children:
            lines.append(f"{pad}subgraph cluster_{node.id} {{")
            lines.append(f'{pad}    label={_quote(node.kind)}; style="rounded,dashed";')
            lines.append(f"{pad}    {_node(node, outcomes)}")
            _emit(children, node.id, lines, depth + 1, outcomes)
            lines.append(f"{pad}}}")
        else:
            lines.append(f"{pad}{_node(node, outcomes)}")


def _node(node: GraphNode, outcomes: Mapping[str, str]) -> str:
    parts = [node.label, *(f"{k} {v}" for k, v in node.clauses)]
    attributes = ['label="' + "\\n".join(_escape(part) for part in parts) + '"']
    shape = _SHAPES.get(node.kind)
    if shape is not None:
        attributes.append(f"shape={shape}")
    outcome = outcomes.get(node.step, "") if node.step else ""
    if outcome in COLOURS:
        attributes.append(f'fillcolor="{COLOURS[outcome]}"')
        attributes.append(f"tooltip={_quote(outcome)}")
    return f"{node.id} [{', '.join(attributes)}];"


def _quote(text: str) -> str:
    return f'"{_escape(text)}"'


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
