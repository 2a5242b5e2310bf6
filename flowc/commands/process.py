"""What every command shares about the process: exit codes, colour, start-up, exit.

Exit codes are the same everywhere: 0 success, 1 check errors or a failed
flow, 2 usage or input errors (a missing file, bad JSON input, a bad flag),
130 when interrupted, and 70 only for a bug in flowc itself.

Start-up habits (``docs/architecture.md``, "Start-up"): ``pause_collector``
turns the garbage collector off while a command imports, ``end_of_startup``
freezes what was made and turns it back on, and ``exit_now`` ends the process
without tearing the interpreter down.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import NoReturn

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in flowc, never a user mistake


def use_colour(stream: object) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_startup_gc_paused = False


def pause_collector() -> None:
    """Turn the collector off until ``end_of_startup`` (the console script calls it)."""
    global _startup_gc_paused
    _startup_gc_paused = gc.isenabled()
    gc.disable()


def end_of_startup() -> None:
    """Turn the garbage collector back on once a command has done its imports.

    ``entry`` pauses the collector: start-up allocates hundreds of thousands of
    long-lived objects (modules, classes, parser tables), and collecting while
    they are made only rescans them (about 12 ms of a ~250 ms start).  What they
    are is then frozen (``gc.freeze``), so later collections, in a long flow run,
    skip them too.  Does nothing when ``entry`` did not pause the collector
    (tests that call ``main`` in-process).
    """
    global _startup_gc_paused
    if _startup_gc_paused:
        _startup_gc_paused = False
        gc.freeze()
        gc.enable()


def exit_now(code: object) -> NoReturn:
    """End the process without tearing the interpreter down.

    Finalising the few hundred modules a run imports takes ~50 ms, after the
    work is done.  By the time a command returns, its files are closed and its
    child processes stopped, so this flushes the standard streams, runs the one
    exit hook flowc's libraries register (``logging.shutdown``) and leaves at
    once, as mypy does.  ``code`` is ``SystemExit.code``: None, an int, or a
    message for stderr (exit status 1).
    """
    if isinstance(code, str):
        print(code, file=sys.stderr)
    status = code if isinstance(code, int) else 0 if code is None else 1
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to tell
            stream.flush()
    os._exit(status)
