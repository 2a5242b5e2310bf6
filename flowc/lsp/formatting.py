"""Whole-document formatting through the compiler's formatter.

``format_edits`` runs ``flowc.compiler.formatter.format_source`` on the
buffer and returns the edits that turn the buffer into its output.  A file
with a syntax error is left alone (no edit): the formatter works on the
syntax tree, and an editor that formats on save must never mangle a file
the user is half-way through typing.

Rather than one edit replacing everything, the edit covers only the lines
between the first and the last that differ, so the editor keeps the cursor
and the scroll position where nothing changed.
"""

from __future__ import annotations

from lsprotocol import types

from flowc.lsp.positions import LineIndex


def formatted_text(text: str, path: str) -> str | None:
    """The formatted text, or None when the file does not parse."""
    from flowc.compiler.diagnostics import ParseFailure
    from flowc.compiler.formatter import format_source

    try:
        return format_source(text, path)
    except ParseFailure:
        return None


def minimal_edit(old: str, new: str, encoding: str) -> list[types.TextEdit]:
    """One edit replacing the differing lines of ``old`` with those of ``new``."""
    if old == new:
        return []
    old_lines = old.split("\n")
    new_lines = new.split("\n")
    shorter = min(len(old_lines), len(new_lines))
    # Keep at least one line of each text in the replaced middle, so that the
    # edit is "these lines' text" -> "those lines' text" without newline juggling.
    head = 0
    while head < shorter - 1 and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while tail < shorter - head - 1 and old_lines[-1 - tail] == new_lines[-1 - tail]:
        tail += 1
    index = LineIndex(old, encoding)
    last = len(old_lines) - tail - 1
    start = index.offset(head, 0)
    end = index.offset(last, len(old_lines[last]))
    replacement = "\n".join(new_lines[head : len(new_lines) - tail])
    return [
        types.TextEdit(
            range=types.Range(start=index.position_of(start), end=index.position_of(end)),
            new_text=replacement,
        )
    ]


def format_edits(text: str, path: str, encoding: str) -> list[types.TextEdit]:
    formatted = formatted_text(text, path)
    if formatted is None:
        return []
    return minimal_edit(text, formatted, encoding)
