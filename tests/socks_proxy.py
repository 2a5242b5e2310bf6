"""A small SOCKS5 proxy on 127.0.0.1 (RFC 1928, CONNECT only), for the proxy tests.

`Socks5Proxy` accepts the "no authentication" method, or only username/password
(RFC 1929) when it is given credentials, connects to the requested IPv4, IPv6 or
domain-name target and relays bytes both ways, one thread per client. `targets`
records each `host:port` it connected to, so a test can tell that a request really
went through it; `refused` counts clients turned away for bad credentials.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import socketserver
import struct
import threading
from types import TracebackType
from typing import Self

_NO_AUTH, _PASSWORD, _NO_METHOD = 0x00, 0x02, 0xFF


class Socks5Proxy:
    """The proxy, serving in a thread of its own while in use."""

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.targets: list[str] = []
        self.refused = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, scheme: str = "socks5") -> str:
        if self.credentials is None:
            return f"{scheme}://127.0.0.1:{self.port}"
        user, password = self.credentials
        return f"{scheme}://{user}:{password}@127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _record(self, target: str) -> None:
        with self._lock:
            self.targets.append(target)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: Socks5Proxy


class _Handler(socketserver.BaseRequestHandler):
    server: _Server
    request: socket.socket

    def handle(self) -> None:
        client = self.request
        with contextlib.suppress(OSError, ConnectionError):
            if not self._negotiate(client):
                return
            upstream = self._connect(client)
            if upstream is not None:
                with upstream:
                    _relay(client, upstream)

    def _negotiate(self, client: socket.socket) -> bool:
        version, count = _exactly(client, 2)
        methods = _exactly(client, count)
        proxy = self.server.proxy
        wanted = _NO_AUTH if proxy.credentials is None else _PASSWORD
        if version != 5 or wanted not in methods:
            client.sendall(bytes([5, _NO_METHOD]))
            return False
        client.sendall(bytes([5, wanted]))
        if wanted == _NO_AUTH:
            return True
        _, user_length = _exactly(client, 2)
        user = _exactly(client, user_length).decode()
        (password_length,) = _exactly(client, 1)
        password = _exactly(client, password_length).decode()
        accepted = (user, password) == proxy.credentials
        client.sendall(bytes([1, 0 if accepted else 1]))
        if not accepted:
            with proxy._lock:
                proxy.refused += 1
        return accepted

    def _connect(self, client: socket.socket) -> socket.socket | None:
        version, command, _, address_type = _exactly(client, 4)
        if address_type == 1:
            host = str(ipaddress.IPv4Address(_exactly(client, 4)))
        elif address_type == 4:
            host = str(ipaddress.IPv6Address(_exactly(client, 16)))
        else:
            (length,) = _exactly(client, 1)
            host = _exactly(client, length).decode("idna")
        (port,) = struct.unpack("!H", _exactly(client, 2))
        if version != 5 or command != 1:  # CONNECT only
            client.sendall(bytes([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]))
            return None
        try:
            upstream = socket.create_connection((host, port), timeout=10)
        except OSError:
            client.sendall(bytes([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]))  # connection refused
            return None
        upstream.settimeout(None)
        self.server.proxy._record(f"{host}:{port}")
        bound_host, bound_port = upstream.getsockname()[:2]
        client.sendall(
            bytes([5, 0, 0, 1]) + socket.inet_aton(bound_host) + struct.pack("!H", bound_port)
        )
        return upstream


def _exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("the client hung up")
        data += chunk
    return data


def _relay(left: socket.socket, right: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    peers = {left: right, right: left}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 30)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)
