"""A single self-contained HTML page embedding a flow's SVG (``--format html``).

The page has no external references: the SVG made by ``dot`` is inlined
(its XML prologue and doctype dropped), with a title, a legend for the edge
styles and, for ``--run``, the outcome colours.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from flowc.graph import messages
from flowc.graph.outcomes import COLOURS

_PROLOGUE = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--.*?-->\s*)*", re.S)


def to_html(flow: str, svg: str, outcomes: Mapping[str, str] | None = None) -> str:
    title = html.escape(messages.HTML_TITLE.format(flow=flow))
    legend = [f"<li>{html.escape(messages.LEGEND)}</li>"]
    if outcomes:
        for name, colour in COLOURS.items():
            legend.append(
                f'<li><span class="swatch" style="background:{colour}"></span>{name}</li>'
            )
    body = _PROLOGUE.sub("", svg, count=1)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n"
        "<style>body{font-family:sans-serif;margin:1em}"
        ".swatch{display:inline-block;width:1em;height:1em;margin-right:.4em;"
        "border:1px solid #888;vertical-align:middle}"
        "ul{list-style:none;padding:0}svg{max-width:100%;height:auto}</style>\n"
        "</head>\n<body>\n"
        f"<h1>{title}</h1>\n<ul>{''.join(legend)}</ul>\n"
        f'<figure role="img" aria-label="{title}">\n{body}</figure>\n'
        "</body>\n</html>\n"
    )
