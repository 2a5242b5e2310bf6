"""Every text ``flowc run`` and ``flowc resume`` say about a run while it executes.

The live display, ``-v`` lines, the summary and the JSON log records
(``commands/output.py``, ``progress.py``, ``jsonlog.py``) format these; the
texts of the final outcome (``flowc: error: flow `f` failed ...``) stay in
``running.py`` and the runtime's error records.
"""

from __future__ import annotations

from typing import Final

RUN_STARTED: Final = "run {run_id}"
RUN_RESUMED: Final = "run {run_id} resumed (attempt {attempt})"
RUN_FINISHED: Final = "run {run_id} {status} in {elapsed}"

ATTEMPT: Final = "`{step}` attempt {attempt}: {method} {url} -> {outcome} in {elapsed}"
"""One ``-v`` line (and JSON record) per step attempt."""
RETRYING: Final = "`{step}` retrying after attempt {attempt} in {delay}: {reason}"
STEP_FAILED: Final = "`{step}` failed after {attempts}: {reason}"
LOOP_STARTED: Final = "loop {loop}: 0/{total}"
LOOP_PROGRESS: Final = "loop {loop}: {done}/{total}"
LOOP_FINISHED: Final = "loop {loop} ended: {done}/{total}"

# the live display
HEADLINE: Final = (
    "{flow} · {elapsed} · steps done {done} · in flight {running} · attempts {attempts}"
    " · retries {retries}"
)
IN_FLIGHT: Final = "{step}  {method}  attempt {attempt}  {elapsed}"
IN_FLIGHT_RETRY: Final = "  retrying: {reason}"
MORE_IN_FLIGHT: Final = "… and {count} more in flight"
LOOP_LINE: Final = "loop {loop}  {done}/{total}"
RECENT_RETRY: Final = "retry {step} after attempt {attempt}: {reason}"

# the summary
SUMMARY_TITLE: Final = "flowc: {flow} {status} in {elapsed}"
SUMMARY_STEPS: Final = "steps"
SUMMARY_ATTEMPTS: Final = "attempts"
SUMMARY_ATTEMPTS_DETAIL: Final = "{attempts} (retries: {retries})"
SUMMARY_LOOPS: Final = "loops"
SUMMARY_SLOWEST: Final = "slowest"
SUMMARY_NONE: Final = "none"
SUMMARY_JSON: Final = "summary: {steps} steps, {attempts} attempts, {elapsed}"

NOTICE_LEVEL: Final = "error"
"""The level of the final lines that are not errors themselves (``interrupted; ...``,
what the compensations of a failed run did): shown with ``-q`` too."""
