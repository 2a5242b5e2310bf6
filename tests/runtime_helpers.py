"""Helpers for the runtime tests (`tests/test_runtime*.py`, `tests/test_api.py`).

- `compile_flow(source, url)` compiles `.flow` source text in which `@URL@` stands for a
  server's base URL (so a test reads like a `.flow` file, braces and all).
- `run(program, ...)` runs a flow the way `Program.run` does, but keeps what the test
  wants to look at: the result or the `FlowError`, every `log` line, every trace event
  (written through the real `JsonLinesSink`, so they are known to be JSON), the
  journal, the run id and the wall time.
- `ScriptedInvoker` stands in for `HttpInvoker` with scripted answers and no sockets.
  Its requests wait only on trio's clock, so a test can run under trio's `MockClock`
  with autojump (the `autojump_clock` fixture of pytest-trio) and check retry, backoff,
  circuit-breaker and rate-limit timing exactly, in virtual time.  (With real sockets
  the autojump clock would also jump while a request waits on the network and fire
  timeouts that never happened; tests against real servers use the real clock.)
"""

from __future__ import annotations

import io
import json
import socket
import textwrap
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import trio

from flowc.api import Program, compile_source
from flowc.common.errors import FlowError
from flowc.compiler.ast import Span
from flowc.runtime.engine import Engine
from flowc.runtime.http import (
    HttpInvoker,
    HttpRequest,
    HttpResponse,
    TransportError,
    TransportErrorKind,
)
from flowc.runtime.store.memory import MemoryStore
from flowc.runtime.trace import JsonLinesSink

URL = "@URL@"


def compile_flow(source: str, url: str = "", name: str = "<test>.flow") -> Program:
    """Compile dedented `source`, with `@URL@` replaced by `url`."""
    return compile_source(textwrap.dedent(source).replace(URL, url), name)


@dataclass
class Outcome:
    """What one run did."""

    result: Any
    error: FlowError | None
    logs: list[str]
    events: list[dict[str, Any]]
    store: MemoryStore | None
    run_id: str
    wall: float
    trace_text: str

    @property
    def value(self) -> Any:
        """The result; re-raises the flow's error if it failed."""
        if self.error is not None:
            raise self.error
        return self.result

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event["event"] == kind]

    def attempts(self, step: str) -> list[dict[str, Any]]:
        """The `step_attempt` events of one step key, in order."""
        return [event for event in self.events_of("step_attempt") if event["step"] == step]

    def interval(self, step: str) -> tuple[float, float]:
        """(start, end) in wall-clock seconds of a step's last attempt, from the trace."""
        event = self.attempts(step)[-1]
        end = float(event["time"])
        return end - float(event["elapsed_ms"]) / 1000, end


async def run(
    program: Program,
    flow: str | None = None,
    inputs: Mapping[str, Any] | None = None,
    *,
    sequential: bool = False,
    invoker: Any = None,
    store: MemoryStore | None = None,
    run_id: str | None = None,
    resume: bool = False,
) -> Outcome:
    """Run a flow inside the current trio run and collect what it did.

    `invoker` defaults to a fresh `HttpInvoker` (real sockets); pass a
    `ScriptedInvoker` for virtual-time tests.  With `store` the run is durable;
    `resume=True` resumes run `run_id` from it instead of starting one.
    """
    logs: list[str] = []
    trace = io.StringIO()

    def log(flow_name: str, text: str, span: Span) -> None:
        logs.append(text)

    result: Any = None
    error: FlowError | None = None
    started = time.perf_counter()
    chosen: list[str] = []
    engine = Engine(store=store, invoker=cast(HttpInvoker, invoker) if invoker else None)
    sink = JsonLinesSink(trace)
    async with invoker if invoker is not None else _nothing(), engine:
        try:
            if resume:
                assert run_id is not None
                chosen.append(run_id)
                result = await engine.resume(
                    run_id, program=program, sequential=sequential, hooks=[sink], log=log
                )
            else:
                result = await engine.run(
                    program,
                    flow,
                    inputs,
                    run_id=run_id,
                    sequential=sequential,
                    hooks=[sink],
                    log=log,
                    started=chosen.append,
                )
        except FlowError as failure:
            error = failure
    wall = time.perf_counter() - started
    text = trace.getvalue()
    events = [json.loads(line) for line in text.splitlines()]
    return Outcome(result, error, logs, events, store, chosen[0], wall, text)


class _nothing:  # a stand-in context manager, named as contextlib's
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- scripted HTTP

Responder = Callable[[HttpRequest], Awaitable[HttpResponse]]


def reply(
    status: int = 200,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    delay: float = 0.0,
    raw: bytes | None = None,
) -> Responder:
    """Answer `status` with `body` as JSON (or `raw` bytes) after `delay` seconds of trio time."""

    async def respond(request: HttpRequest) -> HttpResponse:
        if delay:
            await trio.sleep(delay)
        content = (
            raw
            if raw is not None
            else json.dumps(body if body is not None else {"status": status}).encode()
        )
        names = {
            "content-type": "application/json",
            **{k.lower(): v for k, v in (headers or {}).items()},
        }
        return HttpResponse(
            status=status, headers=tuple(names.items()), body=content, elapsed=delay
        )

    return respond


def refuse(kind: TransportErrorKind = "connect", *, delay: float = 0.0) -> Responder:
    """Fail like the transport does when no response comes (`connect`, `protocol`, ...)."""

    async def respond(request: HttpRequest) -> HttpResponse:
        if delay:
            await trio.sleep(delay)
        raise TransportError(
            kind, f"{request.method} scripted {kind} failure", may_have_been_sent=False
        )

    return respond


def in_turn(*responders: Responder) -> Responder:
    """Use each responder once, in order; the last one answers every later request."""
    remaining: Iterator[Responder] = iter(responders)
    last = responders[-1]

    async def respond(request: HttpRequest) -> HttpResponse:
        return await next(remaining, last)(request)

    return respond


@dataclass
class Sent:
    """One request the scripted invoker received, and when (trio clock)."""

    at: float
    request: HttpRequest

    @property
    def path(self) -> str:
        return urlsplit(self.request.url).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return [*parse_qsl(urlsplit(self.request.url).query), *self.request.params]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.request.headers if k.lower() == name.lower()), None)


@dataclass
class ScriptedInvoker:
    """An in-memory `HttpInvoker`: routes a request by its URL path to a responder.

    Unknown paths answer 404.  `sent` records every request with the trio time at which
    it was sent; `in_flight`/`peak` count requests inside a responder.
    """

    routes: dict[str, Responder] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0

    async def __aenter__(self) -> ScriptedInvoker:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def send(self, request: HttpRequest) -> HttpResponse:
        await trio.lowlevel.checkpoint()  # as a real request does: a cancelled one is not sent
        sent = Sent(trio.current_time(), request)
        self.sent.append(sent)
        responder = self.routes.get(sent.path, reply(404, {"error": "not scripted"}))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            return await responder(request)
        finally:
            self.in_flight -= 1

    def times(self, path: str | None = None) -> list[float]:
        """When requests (to `path`) were sent, relative to the first request of the run."""
        origin = self.sent[0].at if self.sent else 0.0
        return [round(s.at - origin, 6) for s in self.sent if path is None or s.path == path]
