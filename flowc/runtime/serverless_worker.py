"""A jq evaluation in a process of its own, for expressions not proved bounded.

libjq holds Python's GIL while it runs and cannot be interrupted, so a worker
*thread* cannot bound an expression such as ``[range(1e9)]``: the whole process
would wait for it.  ``serverless_values.Evaluator`` therefore runs every expression
that ``bounded`` cannot prove quick in ``python -m flowc.runtime.serverless_worker``,
under a deadline after which trio kills the process, and with its address space
limited to ``MEMORY_LIMIT``.  The request comes on stdin as JSON
(``{"expression", "extra", "input"}``, ``input`` being the JSON text of jq's input
array); stdout is ``{"ok": <JSON text of [first result]>}`` or ``{"error": text}``.
"""

from __future__ import annotations

import json
import sys
from typing import Final

MEMORY_LIMIT: Final = 1024 * 1024 * 1024


def main() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):
        pass  # not POSIX, or a lower hard limit already
    from flowc.compiler.definitions.serverless_jq import program

    request = json.loads(sys.stdin.read())
    try:
        compiled = program(request["expression"], tuple(request["extra"]))
        answer = {"ok": compiled.input_text(request["input"]).text()}
    except (ValueError, MemoryError) as error:
        answer = {"error": str(error) or "out of memory"}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
