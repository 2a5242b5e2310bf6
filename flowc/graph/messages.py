"""The texts ``flowc graph`` shows its users."""

from __future__ import annotations

DOT_MISSING = (
    "Graphviz's `{program}` is not installed (Debian: apt install graphviz);"
    " use --format dot or mermaid"
)
DOT_TIMEOUT = "Graphviz's `dot` took longer than {seconds:g} s"
DOT_FAILED = "Graphviz's `dot` failed (exit {code}): {detail}"
UNKNOWN_FLOW = "no flow named {flow!r} in {file} (flows: {known})"
NO_FLOWS = "{file} defines no flow"
UNKNOWN_RUN = "no run {run_id} in the store {store}"
RUN_OF_OTHER_FLOW = "run {run_id} is of flow {actual!r}, not {flow!r}"
HTML_TITLE = "flow {flow}"
LEGEND = "solid: effect order; dashed: data dependency (overlapped by auto-parallelism)"
