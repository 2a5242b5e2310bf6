"""Every text the server and the worker say to users: HTTP error bodies and log lines.

Error bodies are JSON ``{"error": {"code": CODE, "message": TEXT}}``; the codes
are stable and documented in ``docs/serve.md``.
"""

from __future__ import annotations

from typing import Final

UNAUTHORIZED: Final = "a valid bearer token is needed (Authorization: Bearer TOKEN)"
NOT_FOUND: Final = "no such resource: {path}"
NO_FLOW: Final = "no flow named `{flow}` (this server offers: {names})"
NO_RUN: Final = "no run {run_id}"
NO_STEP: Final = "run {run_id} has no journaled step {key}"
NOT_JSON: Final = "the request body must be a JSON object of the flow's inputs: {reason}"
NOT_OBJECT: Final = "the request body must be a JSON object of the flow's inputs, found {kind}"
BODY_TOO_LARGE: Final = "the request body is larger than {limit} bytes"
BAD_WAIT: Final = "?wait must be a duration of at most {limit} such as 30s or 500ms, found {text!r}"
BAD_QUERY: Final = "bad query parameter {name}: {reason}"
BAD_CURSOR: Final = "the cursor is not one this server gave"
IDEMPOTENCY_CONFLICT: Final = (
    "the Idempotency-Key {key!r} was used for run {run_id} with other inputs"
)
BAD_IDEMPOTENCY_KEY: Final = "the Idempotency-Key must be 1 to 255 printable ASCII characters"
SECRET_QUEUED: Final = (
    "flow `{flow}` takes the secret input `{name}`; secrets are never stored, so a run "
    "with one cannot wait in the queue of a server without --worker"
)
CANCEL_ENDED: Final = "run {run_id} has already ended ({status})"
RESUME_STATUS: Final = "run {run_id} is {status}; only a failed or interrupted run can be resumed"
RESUME_COMPENSATED: Final = (
    "run {run_id} is {status} and its compensations already ran; start a new run instead"
)
SIGNAL_ENDED: Final = "run {run_id} has already ended ({status}); the signal was not kept"
BAD_CALLBACK: Final = "this callback URL is not valid"
BAD_SIGNAL_NAME: Final = "a signal name is 1 to 100 letters, digits, `_`, `-` or `.`"
STORE_UNAVAILABLE: Final = "the run store is unavailable: {reason}"
METRICS_LISTENING: Final = "flowc: metrics on http://{host}:{port}/metrics"

NEEDS_EXTRA: Final = "flowc serve needs hypercorn and Starlette: pip install 'flowc[serve]'"
REFUSE_OPEN_HOST: Final = (
    "refusing to listen on {host} without tokens: give --token-file or FLOWC_SERVE_TOKENS "
    "(only a loopback address may be served without authentication)"
)
TOKEN_FILE: Final = "cannot read the token file {path}: {reason}"
NO_TOKENS: Final = "the token file {path} holds no token"
LISTENING: Final = "flowc: serving {count} flow(s) on http://{host}:{port} (store {store})"
WORKER_READY: Final = "flowc: worker {owner} executing {count} flow(s), concurrency {concurrency}"
WORKER_DRAINING: Final = (
    "flowc: draining: {count} run(s) in flight, up to {grace:g}s to finish; no new claims"
)
WORKER_HANDED_BACK: Final = "flowc: handed run {run_id} back to the queue"
WORKER_STORE_RETRY: Final = "flowc: the run store is unavailable ({reason}); retrying in {delay:g}s"
WORKER_REFUSED: Final = "flowc: run {run_id} refused: {reason}"
WORKER_LEASE_LOST: Final = "flowc: lost the lease of run {run_id}; another worker resumes it"
WORKER_NEEDS_POSTGRES: Final = "flowc worker needs a PostgreSQL store (--store postgresql://...)"
DUPLICATE_FLOW: Final = "flow `{flow}` is declared by both {first} and {second}"
NO_FLOWS: Final = "no .flow file in {paths}"
