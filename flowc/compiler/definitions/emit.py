"""Writing document data as JSON or YAML text (``flowc convert``).

JSON: two-space indentation, keys in the order given, non-ASCII text as is.

YAML: ruamel.yaml in its YAML 1.2 mode, block style, no line folding (a long
``${...}`` stays on one line, where its diagnostics point exactly), and the
strings that would read back as something else (``"true"``, ``"12"``, ``"null"``)
quoted.  Sequences are indented under their key, as most YAML in the wild is.
``to_yaml`` checks that what it wrote reads back as the same data with flowc's
own reader (``yaml_reader``), so the two YAML implementations can never disagree
on a converted file unnoticed.
"""

from __future__ import annotations

import io
import json
from typing import Any


class EmitError(Exception):
    """The data did not survive being written and read back (a bug, reported plainly)."""


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _represent_text(representer: Any, text: str) -> Any:
    """Text of several printable lines as a literal block (``|``); other text as the
    emitter chooses (quoted, with escapes, when it must)."""
    lines = text.rstrip("\n").split("\n")
    block = len(lines) > 1 and all(
        line.isprintable() and line == line.rstrip() and line[:1] != " " for line in lines
    )
    style = "|" if block else None
    if not block and not text.replace("\n", "").isprintable():
        style = '"'  # escapes: ruamel writes NEL and U+2028 raw in other styles, as breaks
    return representer.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def to_yaml(data: Any, header: str = "") -> str:
    from ruamel.yaml import YAML

    from flowc.compiler.definitions.document import to_plain
    from flowc.compiler.definitions.yaml_reader import read_yaml

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.width = 1 << 20
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.allow_unicode = True
    yaml.representer.add_representer(str, _represent_text)
    stream = io.StringIO()
    yaml.dump(data, stream)
    text = header + stream.getvalue()
    if to_plain(read_yaml("<converted>", text).root) != data:
        raise EmitError("the YAML written does not read back as the same document")
    return text
