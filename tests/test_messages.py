"""Every message code is documented, and codes are well-formed and unique."""

from __future__ import annotations

import re
from pathlib import Path

from flowc.compiler import messages

DOC = Path(__file__).resolve().parent.parent / "docs" / "diagnostics.md"


def test_every_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^### ([EW]\d{4})", text, re.MULTILINE))
    assert set(messages.ALL) == documented


def test_codes_match_severity() -> None:
    for code, message in messages.ALL.items():
        assert re.fullmatch(r"[EW]\d{4}", code)
        assert (code[0] == "E") == (message.severity == "error"), code
