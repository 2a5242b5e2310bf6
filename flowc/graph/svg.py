"""SVG from DOT text through Graphviz's ``dot`` (``flowc graph --format svg``).

``dot`` runs as a subprocess with a time limit; a missing ``dot``, a timeout
or a failure is a ``GraphvizError`` whose message is one line for the user.
"""

from __future__ import annotations

import shutil
import subprocess

from flowc.graph import messages

TIMEOUT_SECONDS = 30.0


class GraphvizError(Exception):
    """``dot`` is missing, failed or took too long."""


def dot_to_svg(dot_text: str, *, timeout: float = TIMEOUT_SECONDS, program: str = "dot") -> str:
    executable = shutil.which(program)
    if executable is None:
        raise GraphvizError(messages.DOT_MISSING.format(program=program))
    try:
        done = subprocess.run(
            [executable, "-Tsvg"],
            input=dot_text.encode(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphvizError(messages.DOT_TIMEOUT.format(seconds=timeout)) from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        raise GraphvizError(messages.DOT_FAILED.format(code=done.returncode, detail=last))
    return done.stdout.decode()
