"""The ``flowc`` console script's first step: quiet interrupts from the very start.

Before a command has set up its own handling, Ctrl-C (or SIGTERM) would print
a Python ``KeyboardInterrupt`` traceback while modules import, or click's
``Aborted!`` with status 1 while arguments are parsed.  The console script
therefore starts here, installs a handler that ends the process with one line
and status 130, and only then imports the command line.  Commands that run
flows replace it with their own (``commands/running.py``) while a run
executes, so that compensations can run.
"""

from __future__ import annotations

import os
import signal


def _interrupted(signum: int, frame: object) -> None:
    try:
        os.write(2, b"flowc: interrupted\n")
    finally:
        os._exit(130)


def entry() -> None:
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    from flowc.cli import entry as command_line

    command_line()
