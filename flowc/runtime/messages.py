"""Texts the runtime shows users (errors a flow can catch, warnings).

Kept here, not in the modules that raise them, so that wording is reviewed in
one place.  Only the signal messages live here so far; older runtime modules
still spell theirs inline.
"""

from __future__ import annotations

from typing import Final

WAIT_NEEDS_STORE: Final = (
    "`wait signal {signal!r}` needs a durable run (run it without --ephemeral, "
    "or under `flowc serve`)"
)
WAIT_TIMED_OUT: Final = "no signal {signal!r} arrived within {seconds:g}s"
WAIT_BAD_PAYLOAD: Final = "signal {signal!r} #{sequence} does not fit {type}: {problem}"
