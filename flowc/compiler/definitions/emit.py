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
    stream = io.StringIO()
    yaml.dump(data, stream)
    text = header + stream.getvalue()
    if to_plain(read_yaml("<converted>", text).root) != data:
        raise EmitError("the YAML written does not read back as the same document")
    return text
