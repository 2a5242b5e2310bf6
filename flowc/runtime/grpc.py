"""The gRPC invoker: how the flowc runtime calls unary gRPC methods.

What it does
------------
``GrpcInvoker`` is owned by the ``Engine``, beside the HTTP invoker, and made the
first time a step calls a gRPC service (so a program without one never imports
grpcio).  It keeps one channel per target and TLS setting -- a channel multiplexes
every call to its server over one HTTP/2 connection -- and one set of message
classes per ``.proto`` file (``grpc_codec.MessageTypes``).  ``await
invoker.unary(method, request, timeout, metadata)`` sends serialized request bytes
and returns a ``GrpcReply``: the status code and details, the response bytes, and
the response's initial and trailing metadata.

Cancellation
------------
The call must end on the wire when trio cancels the step (its timeout, a failing
sibling in ``parallel``, Ctrl-C).  grpcio's synchronous API offers each call as a
future that is also the call itself: ``unary`` starts it with ``.future()``, has
grpcio's completion thread wake the trio task through the trio token when it is
done, and, if trio cancels the task first, calls the future's ``cancel()``, which
sends RST_STREAM (status CANCELLED) to the server at once.  No worker thread is
held per call (as ``trio.to_thread`` with a blocking call would do), which is what
keeps a step's cost near a hand-written grpcio loop's (``bench/grpc.py``).  grpc.aio
is not used: it runs on asyncio, not trio.

Deadlines.  The caller passes the step's remaining time as the call's timeout, so
the server sees the deadline (``grpc-timeout``) and can give up too; trio's cancel
scope still bounds the wait.

Channels
--------
TLS is on unless the service says ``tls false`` or the target is a loopback address
(``127.0.0.1``, ``localhost``, ``[::1]``) or a Unix socket, with the system's
trust store as grpcio finds it (``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` overrides).
Messages are bounded to ``MAX_MESSAGE_BYTES`` both ways.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

if TYPE_CHECKING:
    import grpc

    from flowc.runtime.grpc_codec import MessageTypes

MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
OK: Final = 0
CODE_NAMES: Final = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
SERVER_FAILURES: Final = frozenset({2, 4, 8, 13, 14, 15})
"""Statuses a circuit breaker counts as the service failing (the others are the
caller's mistakes or answers: NOT_FOUND, INVALID_ARGUMENT, ...)."""

Metadata = tuple[tuple[str, str | bytes], ...]
Method = Any  # a grpc.UnaryUnaryMultiCallable of bytes to bytes (no serializers)


@attrs.frozen
class GrpcReply:
    """The outcome of one call: a status, and the response when it is OK."""

    code: int
    details: str
    response: bytes | None
    metadata: Metadata  # initial metadata, then trailing metadata


class GrpcInvoker:
    """Channels and message classes for every gRPC service of an engine."""

    def __init__(self) -> None:
        import grpc

        self._grpc = grpc
        self._channels: dict[tuple[str, bool], grpc.Channel] = {}
        self._methods: dict[tuple[str, bool, str], Method] = {}
        self._types: dict[bytes, MessageTypes] = {}
        self._settings: dict[int, tuple[object, str, bool]] = {}

    def method(self, target: str, tls: bool, path: str) -> Method:
        """The callable for ``path`` on the channel to ``target`` (bytes in, bytes out)."""
        key = (target, tls, path)
        found = self._methods.get(key)
        if found is None:
            found = self._channel(target, tls).unary_unary(path, None, None)
            self._methods[key] = found
        return found

    def settings(
        self, service: object, evaluate: Callable[[], tuple[str, bool]]
    ) -> tuple[str, bool]:
        """A service's target and TLS setting, evaluated once per engine (``evaluate``)."""
        found = self._settings.get(id(service))
        if found is None or found[0] is not service:  # (the service kept: ids stay its own)
            found = self._settings[id(service)] = (service, *evaluate())
        return found[1], found[2]

    def types(self, descriptors: bytes) -> MessageTypes:
        found = self._types.get(descriptors)
        if found is None:
            from flowc.runtime.grpc_codec import MessageTypes

            found = self._types[descriptors] = MessageTypes(descriptors)
        return found

    def _channel(self, target: str, tls: bool) -> grpc.Channel:
        key = (target, tls)
        channel = self._channels.get(key)
        if channel is None:
            options = [
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
            grpc = self._grpc
            if tls:
                credentials = grpc.ssl_channel_credentials()
                channel = grpc.secure_channel(target, credentials, options=options)
            else:
                channel = grpc.insecure_channel(target, options=options)
            self._channels[key] = channel
        return channel

    async def unary(
        self,
        method: Method,
        request: bytes,
        timeout: float | None,
        metadata: Metadata,
    ) -> GrpcReply:
        """Call ``method``; cancelled on the wire when trio cancels (module docstring)."""
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()

        def wake(_call: object) -> None:
            # (if the run ended first, nobody waits for this call any more)
            with contextlib.suppress(trio.RunFinishedError):
                token.run_sync_soon(done.set)

        call: Any = method.future(request, timeout=timeout, metadata=metadata)
        call.add_done_callback(wake)
        try:
            await done.wait()
        except BaseException:
            call.cancel()
            raise
        code = call.code()
        number = int(code.value[0]) if code is not None else 2
        metadata_out = tuple(call.initial_metadata() or ()) + tuple(call.trailing_metadata() or ())
        if number != OK:
            return GrpcReply(number, call.details() or "", None, metadata_out)
        return GrpcReply(OK, "", call.result(), metadata_out)

    def close(self) -> None:
        for channel in self._channels.values():
            channel.close()
        self._channels.clear()
        self._methods.clear()


def uses_tls(target: str, tls: bool | None) -> bool:
    """Whether a channel to ``target`` uses TLS: as asked, else unless it is loopback."""
    if tls is not None:
        return tls
    return not is_local_target(target)


def is_local_target(target: str) -> bool:
    """Loopback addresses and Unix sockets (``unix:``), in gRPC's target syntax."""
    if target.startswith(("unix:", "unix-abstract:")):
        return True
    host = target.split("///", 1)[-1]  # dns:///host:port, ipv4:///..., passthrough:///...
    host = host.removeprefix("ipv4:").removeprefix("ipv6:")
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def code_name(code: int) -> str:
    return CODE_NAMES.get(code, f"status {code}")
