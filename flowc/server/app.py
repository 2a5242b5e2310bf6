"""The HTTP API of ``flowc serve``: a Starlette application, served on trio.

Routes (``docs/serve.md`` has the details and the error codes)::

    GET  /healthz                          no token needed
    GET  /metrics                          Prometheus text (``observe/metrics.py``)
    GET  /openapi.json                     OpenAPI 3.1, one typed operation per flow
    GET  /v1/flows                         each flow, JSON Schemas of inputs and result
    GET  /v1/flows/{flow}/graph            the flow's graph and source lines (the UI's)
    POST /v1/flows/{flow}/runs             start (Idempotency-Key, ?wait=30s)
    GET  /v1/runs                          flow, status, since, until, limit, cursor
    GET  /v1/runs/{id}                     status, inputs (secrets withheld), result or
                                           error, steps with attempts and timings
    GET  /v1/runs/{id}/steps/{key}         one journaled step with a response preview
    GET  /v1/runs/{id}/events              Server-Sent Events, live (steps in flight first)
    POST /v1/runs/{id}/cancel              cancel; compensations run
    POST /v1/runs/{id}/resume              queue a failed or interrupted run again
    POST /v1/runs/{id}/signals/{name}      keep a signal for the run
    POST /v1/callbacks/{id}/{name}/{token} the same, guarded by the token instead
    GET  /ui/                              the web UI (static files; no token needed,
                                           its API calls carry one)

A start validates the inputs exactly as ``flowc run`` does
(``LoadedProgram.prepare_inputs``: the 400 body carries the same message) and
writes a *queued* run record; a worker executes it — this process's own
(``Worker``, on SQLite or with ``--worker``) or a ``flowc worker`` elsewhere.
With an ``Idempotency-Key`` the run's id is derived from the flow and the key,
so a repeated start finds the same run (and 409 if its inputs differ).
Request bodies are read up to ``MAX_BODY`` bytes; ``?wait`` is at most
``MAX_WAIT``; list pages at most ``MAX_PAGE`` runs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from flowc.common.values import Duration, EvalError
from flowc.observe import messages as observe_messages
from flowc.runtime.decode import DecodeError, coerce_input
from flowc.runtime.engine import holds_secret, queued_record
from flowc.runtime.journal import CONTEXT, TRACE_PARENT
from flowc.runtime.programs import InputError
from flowc.runtime.store import (
    ENDED,
    AsyncStore,
    JournalEntry,
    LeaseLost,
    RunQuery,
    RunRecord,
    RunStatus,
    StoreError,
)
from flowc.server import messages
from flowc.server.auth import Tokens
from flowc.server.callbacks import PREFIX, token_matches
from flowc.server.catalog import Catalog
from flowc.server.events import EventBroker, TooManySubscribers
from flowc.server.graph_view import graph_document
from flowc.server.run_views import run_summary, run_view, step_detail, step_rows, when
from flowc.server.schemas import flow_description, openapi_document
from flowc.server.worker import Worker

if TYPE_CHECKING:
    from flowc.observe.metrics import FlowMetrics

MAX_BODY: Final = 1 << 20
MAX_WAIT: Final = 300.0
MAX_PAGE: Final = 500
_SIGNAL_NAME: Final = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_KEY: Final = re.compile(r"[\x21-\x7e]{1,255}")
_STATUSES: Final = tuple(s.value for s in RunStatus)
_TRACE_PARENT: Final = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
UI_DIST: Final = Path(__file__).with_name("ui_dist")
_OPEN: Final = ("/healthz", "/ui", "/ui/")


@attrs.define
class Server:
    catalog: Catalog
    store: AsyncStore
    tokens: Tokens
    broker: EventBroker
    worker: Worker | None
    metrics: FlowMetrics | None = None
    callback_key: bytes | None = None


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if status == 413:
        # The rest of the body is never read, so the connection cannot carry another
        # request: say so, or a keep-alive client sends its next request into a socket
        # the server is closing ("Server disconnected without sending a response").
        headers["Connection"] = "close"
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


class _Auth:
    """ASGI middleware: every request but ``/healthz`` and the UI's files needs a token."""

    def __init__(self, app: ASGIApp, tokens: Tokens) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and not _open_path(path) and not path.startswith(PREFIX):
            authorization = None
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    authorization = value.decode("latin-1")
            if not self.tokens.accepts(authorization):
                response = error_response(401, "unauthorized", messages.UNAUTHORIZED)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _open_path(path: str) -> bool:
    return path in _OPEN or path.startswith("/ui/")


def build_app(server: Server) -> Starlette:
    routes: list[Route | Mount] = [
        Route("/healthz", healthz),
        Route("/openapi.json", openapi),
        Route("/metrics", metrics),
        Route("/v1/flows", list_flows),
        Route("/v1/flows/{flow}/runs", start_run, methods=["POST"]),
        Route("/v1/flows/{flow}/graph", flow_graph),
        Route("/v1/runs", list_runs),
        Route("/v1/runs/{run_id}", get_run),
        Route("/v1/runs/{run_id}/events", run_events),
        Route("/v1/runs/{run_id}/steps/{key:path}", get_step),
        Route("/v1/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
        Route("/v1/runs/{run_id}/resume", resume_run, methods=["POST"]),
        Route("/v1/runs/{run_id}/signals/{name}", deliver_signal, methods=["POST"]),
        Route(PREFIX + "{run_id}/{name}/{token}", deliver_callback, methods=["POST"]),
        Route("/ui", ui_redirect),
    ]
    if UI_DIST.is_dir():
        routes.append(Mount("/ui", StaticFiles(directory=UI_DIST, html=True), name="ui"))
    app = Starlette(
        routes=routes,
        middleware=[Middleware(_Auth, tokens=server.tokens)],
        exception_handlers={
            ApiError: _api_error,
            StoreError: _store_error,
            404: _not_found,
            405: _not_allowed,
        },
    )
    app.state.server = server
    return app


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message)


async def _store_error(request: Request, error: Exception) -> Response:
    return error_response(503, "store_unavailable", messages.STORE_UNAVAILABLE.format(reason=error))


async def _not_found(request: Request, error: Exception) -> Response:
    return error_response(404, "not_found", messages.NOT_FOUND.format(path=request.url.path))


async def _not_allowed(request: Request, error: Exception) -> Response:
    return error_response(405, "method_not_allowed", f"{request.method} {request.url.path}")


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    return server


# --------------------------------------------------------------------------- flows


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics(request: Request) -> Response:
    sink = _server(request).metrics
    if sink is None:
        raise ApiError(404, "not_found", observe_messages.NO_METRICS)
    await sink.refresh()
    from flowc.observe.metrics import CONTENT_TYPE

    return Response(sink.render(), headers={"Content-Type": CONTENT_TYPE})


async def openapi(request: Request) -> Response:
    server = _server(request)
    return JSONResponse(openapi_document(server.catalog.flows, secured=bool(server.tokens)))


async def list_flows(request: Request) -> Response:
    flows = [flow_description(flow) for flow in _server(request).catalog.flows]
    return JSONResponse({"flows": flows})


async def flow_graph(request: Request) -> Response:
    server = _server(request)
    name = request.path_params["flow"]
    offered = server.catalog.get(name)
    if offered is None:
        names = ", ".join(server.catalog.names) or "none"
        raise ApiError(404, "no_flow", messages.NO_FLOW.format(flow=name, names=names))
    return JSONResponse(graph_document(offered))


async def ui_redirect(request: Request) -> Response:
    return RedirectResponse("/ui/", 308)


async def start_run(request: Request) -> Response:
    server = _server(request)
    name = request.path_params["flow"]
    offered = server.catalog.get(name)
    if offered is None:
        names = ", ".join(server.catalog.names) or "none"
        raise ApiError(404, "no_flow", messages.NO_FLOW.format(flow=name, names=names))
    wait = _wait_seconds(request.query_params.get("wait"))
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_inputs", messages.NOT_OBJECT.format(kind=_kind(body)))
    try:
        prepared = offered.program.prepare_inputs(offered.flow, body)
    except InputError as error:
        raise ApiError(400, "invalid_inputs", str(error)) from None
    withheld = {k: v for k, v in prepared.items() if holds_secret(v)}
    if withheld and server.worker is None:
        secret = sorted(withheld)[0]
        raise ApiError(400, "secret_input", messages.SECRET_QUEUED.format(flow=name, name=secret))
    trace_parent = request.headers.get("traceparent")
    key = request.headers.get("idempotency-key")
    if key is not None and not _KEY.fullmatch(key):
        raise ApiError(400, "bad_idempotency_key", messages.BAD_IDEMPOTENCY_KEY)
    run_id = _keyed_id(name, key) if key is not None else str(uuid.uuid4())
    record = queued_record(run_id, name, offered.program.source, prepared)
    stored, created = await server.store.create_run(record)
    if not created and (stored.flow != name or stored.inputs != record.inputs):
        raise ApiError(
            409,
            "idempotency_conflict",
            messages.IDEMPOTENCY_CONFLICT.format(key=key, run_id=run_id),
        )
    if created and trace_parent is not None and _TRACE_PARENT.fullmatch(trace_parent):
        await _hand_on_trace(server, run_id, trace_parent)
    done: trio.Event | None = None
    if server.worker is not None and created:
        server.worker.secrets[run_id] = withheld
        done = server.worker.waiter(run_id) if wait else None
        server.worker.wake()
    if wait:
        ended = await _wait_ended(server, run_id, wait, done)
        if ended is not None:
            return JSONResponse(run_view(ended), 200)
        stored = await server.store.get_run(run_id) or stored
    return JSONResponse(
        run_view(stored), 202 if created or not stored.ended else 200, headers=_location(run_id)
    )


async def _hand_on_trace(server: Server, run_id: str, trace_parent: str) -> None:
    """Keep the caller's W3C trace context with the run, for whichever worker claims it.

    A fenced store (``serve --worker`` on PostgreSQL) refuses a write to a run this
    process holds no lease of: the in-process worker writes it once it claims the run.
    """
    try:
        await server.store.append(run_id, [JournalEntry(CONTEXT, TRACE_PARENT, 0, trace_parent)])
    except LeaseLost:
        if server.worker is not None:
            server.worker.contexts[run_id] = trace_parent


# --------------------------------------------------------------------------- runs


async def list_runs(request: Request) -> Response:
    server = _server(request)
    params = request.query_params
    status = params.get("status")
    if status is not None and status not in _STATUSES:
        raise ApiError(400, "bad_query", messages.BAD_QUERY.format(name="status", reason=status))
    limit = _int_param(params.get("limit"), "limit", 1, MAX_PAGE, 50)
    before = _cursor(params.get("cursor"))
    query = RunQuery(
        flow=params.get("flow"),
        status=status,
        since=_time_param(params.get("since"), "since"),
        until=_time_param(params.get("until"), "until"),
        before=before,
        limit=limit + 1,
    )
    records = await server.store.list_runs(query)
    page, more = records[:limit], len(records) > limit
    cursor = _make_cursor(page[-1]) if more and page else None
    return JSONResponse({"runs": [run_summary(r) for r in page], "next": cursor})


async def get_run(request: Request) -> Response:
    server = _server(request)
    record = await _record(server, request.path_params["run_id"])
    view = run_view(record)
    view["steps"] = await step_rows(server.store, record.id)
    view["signals"] = [
        {"name": s.name, "sequence": s.sequence, "delivered_at": when(s.delivered_at)}
        for s in await server.store.signals(record.id)
    ]
    return JSONResponse(view)


async def get_step(request: Request) -> Response:
    server = _server(request)
    record = await _record(server, request.path_params["run_id"])
    key = request.path_params["key"]
    detail = await step_detail(server.store, record.id, key)
    if detail is None:
        text = messages.NO_STEP.format(run_id=record.id, key=key[:200])
        raise ApiError(404, "no_step", text)
    return JSONResponse(detail)


async def run_events(request: Request) -> Response:
    server = _server(request)
    record = await _record(server, request.path_params["run_id"])
    try:
        receive = None if record.ended else server.broker.subscribe(record.id)
    except TooManySubscribers:
        raise ApiError(409, "too_many_streams", "too many event streams on this run") from None

    async def stream() -> AsyncIterator[bytes]:
        yield _sse("status", run_summary(record))
        if receive is None:
            return
        try:
            while True:
                event: dict[str, Any] | None = None
                ended = False
                with trio.move_on_after(1.0):
                    try:
                        event = await receive.receive()
                    except (trio.EndOfChannel, trio.ClosedResourceError):
                        ended = True
                if ended:
                    yield _sse("overflow", {"run": record.id, "message": "the stream fell behind"})
                    return
                if event is not None:
                    yield _sse(str(event["event"]), event)
                    if event["event"] == "run_finished":
                        return
                    continue
                now = await server.store.get_run(record.id)
                if now is None or now.ended:
                    if now is not None:
                        yield _sse("status", run_summary(now))
                    return
                yield b": keep-alive\n\n"
        finally:
            server.broker.unsubscribe(record.id, receive)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def cancel_run(request: Request) -> Response:
    server = _server(request)
    record = await _record(server, request.path_params["run_id"])
    if record.ended:
        raise ApiError(
            409, "run_ended", messages.CANCEL_ENDED.format(run_id=record.id, status=record.status)
        )
    done = server.worker.waiter(record.id) if server.worker is not None else None
    try:
        await server.store.request_cancel(record.id, time.time())
    except BaseException:
        if server.worker is not None:
            server.worker.forget_waiter(record.id)
        raise
    if server.worker is not None:
        server.worker.cancel_local(record.id)
    ended = await _wait_ended(server, record.id, 30.0, done)
    final = ended or await _record(server, record.id)
    return JSONResponse(run_view(final), 200 if ended is not None else 202)


async def resume_run(request: Request) -> Response:
    server = _server(request)
    record = await _record(server, request.path_params["run_id"])
    if record.status not in (RunStatus.FAILED, RunStatus.INTERRUPTED):
        text = messages.RESUME_STATUS.format(run_id=record.id, status=record.status)
        raise ApiError(409, "not_resumable", text)
    if record.compensated:
        text = messages.RESUME_COMPENSATED.format(run_id=record.id, status=record.status)
        raise ApiError(409, "not_resumable", text)
    if not await server.store.requeue_run(record.id, time.time()):
        raise ApiError(409, "not_resumable", messages.RESUME_STATUS.format(
            run_id=record.id, status="no longer resumable"))  # fmt: skip
    if server.worker is not None:
        server.worker.wake()
    return JSONResponse(
        run_view(await _record(server, record.id)), 202, headers=_location(record.id)
    )


async def deliver_callback(request: Request) -> Response:
    """A callback URL's request (no bearer token): its token guards it instead."""
    server = _server(request)
    run_id, name = request.path_params["run_id"], request.path_params["name"]
    key = server.callback_key
    if key is None or not token_matches(key, run_id, name, request.path_params["token"]):
        raise ApiError(403, "bad_callback", messages.BAD_CALLBACK)
    return await deliver_signal(request)


async def deliver_signal(request: Request) -> Response:
    server = _server(request)
    name = request.path_params["name"]
    if not _SIGNAL_NAME.fullmatch(name):
        raise ApiError(400, "bad_signal_name", messages.BAD_SIGNAL_NAME)
    payload = await _json_body(request, empty_ok=True)
    record = await _record(server, request.path_params["run_id"])
    if record.ended:
        text = messages.SIGNAL_ENDED.format(run_id=record.id, status=record.status)
        raise ApiError(409, "run_ended", text)
    encoded = json.dumps(payload, separators=(",", ":"))
    signal = await server.store.deliver_signal(record.id, name, encoded, time.time())
    if signal is None:
        raise ApiError(404, "no_run", messages.NO_RUN.format(run_id=record.id))
    return JSONResponse({"run": record.id, "signal": name, "sequence": signal.sequence}, 202)


# --------------------------------------------------------------------------- helpers


async def _record(server: Server, run_id: str) -> RunRecord:
    record = await server.store.get_run(run_id)
    if record is None:
        raise ApiError(404, "no_run", messages.NO_RUN.format(run_id=run_id[:200]))
    return record


async def _wait_ended(
    server: Server, run_id: str, timeout: float, done: trio.Event | None
) -> RunRecord | None:
    """The run's record once it has ended, or None if it did not within ``timeout``.

    ``done`` (this process's worker executes the run) is set when the execution ends;
    without it, or if the run did not end with it (it was handed on), the store is
    polled, at growing intervals.
    """
    deadline = trio.current_time() + timeout
    try:
        if done is not None:
            with trio.move_on_at(deadline):
                await done.wait()
        interval = 0.02
        while True:
            record = await server.store.get_run(run_id)
            if record is not None and record.status in ENDED:
                return record
            left = deadline - trio.current_time()
            if left <= 0:
                return None
            await trio.sleep(min(interval, left))
            interval = min(interval * 2, 0.5)
    finally:
        if done is not None and server.worker is not None:
            server.worker.forget_waiter(run_id)


async def _json_body(request: Request, *, empty_ok: bool = False) -> Any:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "body_too_large", messages.BODY_TOO_LARGE.format(limit=MAX_BODY))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "body_too_large", messages.BODY_TOO_LARGE.format(limit=MAX_BODY))
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data.strip() and empty_ok:
        return None
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:
        reason = str(error).split("\n")[0] if isinstance(error, ValueError) else "nested too deeply"
        raise ApiError(400, "invalid_json", messages.NOT_JSON.format(reason=reason)) from None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number"}.get(
        type(value), "a value"
    )


def _wait_seconds(text: str | None) -> float:
    if text is None:
        return 0.0
    from flowc.common import types as t

    try:
        duration = coerce_input(text, t.DURATION)
        seconds = duration.nanos / 1e9 if isinstance(duration, Duration) else -1.0
    except (DecodeError, EvalError):
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT:
        raise ApiError(400, "bad_wait", messages.BAD_WAIT.format(limit=f"{MAX_WAIT:g}s", text=text))
    return seconds


def _int_param(text: str | None, name: str, low: int, high: int, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        reason = f"expected an integer from {low} to {high}"
        raise ApiError(400, "bad_query", messages.BAD_QUERY.format(name=name, reason=reason))
    return int(text)


def _time_param(text: str | None, name: str) -> float | None:
    if text is None:
        return None
    import datetime as dt

    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        reason = "expected RFC 3339 time or epoch seconds"
        raise ApiError(
            400, "bad_query", messages.BAD_QUERY.format(name=name, reason=reason)
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _make_cursor(record: RunRecord) -> str:
    raw = json.dumps([record.created_at, record.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(text: str | None) -> tuple[float, str] | None:
    if text is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        created, run_id = json.loads(raw)
        return float(created), str(run_id)
    except (ValueError, TypeError):
        raise ApiError(400, "bad_cursor", messages.BAD_CURSOR) from None


def _keyed_id(flow: str, key: str) -> str:
    digest = hashlib.sha256(f"{flow}\0{key}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=5))


def _location(run_id: str) -> dict[str, str]:
    return {"Location": f"/v1/runs/{run_id}"}


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
