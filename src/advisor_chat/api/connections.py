"""Connections bounded before any request is read: how many are open in all and per
client address, how long a client may take to send a request's headers, and how large
those headers may be.

uvicorn's own HTTP protocol (httptools, what `uvicorn[standard]` picks) bounds none of
these: a connection that never sends a byte is never closed (its keep-alive timer is armed
only after a first response), one that sends a header byte at a time is read forever, and
headers of any size are buffered whole. Its `limit_concurrency` counts idle connections
with running requests and answers 503 only once a request's headers are in, so it is not
used. `BoundedHttpProtocol` adds what is missing:

- `Connections.admit`, as a connection opens: past `max_connections` in all it is answered
  503, past `max_connections_per_client` for its address 429, both TOO_MANY_CONNECTIONS.
  Trusted proxies' addresses (FORWARDED_ALLOW_IPS) are many clients and not capped.
- A deadline per request's headers, `header_timeout` from the connection's opening or the
  request's first byte, however the bytes trickle. Past it the connection is closed (with
  408 REQUEST_TIMEOUT if a request had begun).
- Header bytes counted as they arrive and refused with 431 HEADERS_TOO_LARGE past
  `max_header_bytes`, so the parser holds at most that plus one read; the request line and
  headers are measured exactly, and counted, once complete.
- A lingering close: a refusal written before the request was read whole is followed by a
  half-close (FIN), and what the client still sends is read and dropped for `LINGER_S`.
  Closing at once would reset the connection and the client would likely lose the answer.
  Responses sent before their request's body was read whole (api/bounds.py's 413, say) end
  their connection the same way: the rest of that body is nobody's.

A WebSocket upgrade hands the connection to `BoundedWebSocketProtocol`, which gives its
slot back when the socket closes, and lets the app abort it (`ABORT_EXTENSION` in the
scope): a client that stops reading cannot be sent a close frame through its full buffer,
and a graceful close would wait for that buffer to drain.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import orjson
from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from advisor_chat.api.headers import SECURITY_HEADERS
from advisor_chat.api.responses import error_body
from advisor_chat.errors import Code, FunctionError
from advisor_chat.settings import Settings

ABORT_EXTENSION = "advisor_chat.abort"  # scope["extensions"][it]["abort"]: drop the socket now
LINGER_S = 2.0  # after a refusal, the client's remaining bytes are read and dropped this long

Refusal = tuple[int, FunctionError]  # the HTTP status and the error of a refused request


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    max_per_client: int  # 0: no cap
    trusted: str  # comma-separated addresses or networks not capped per address, or "*"
    max_header_bytes: int
    max_header_count: int
    header_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_connections=settings.max_connections,
            max_per_client=settings.max_connections_per_client,
            trusted=settings.forwarded_allow_ips,
            max_header_bytes=settings.max_header_bytes,
            max_header_count=settings.max_header_count,
            header_timeout=settings.header_timeout,
        )


class _Trusted:
    def __init__(self, spec: str) -> None:
        entries = [e.strip() for e in spec.split(",") if e.strip()]
        self.any = "*" in entries
        self.hosts = frozenset(e for e in entries if "/" not in e)
        self.networks = tuple(ipaddress.ip_network(e, strict=False) for e in entries if "/" in e)

    def __contains__(self, host: str) -> bool:
        if self.any or host in self.hosts:
            return True
        if not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


class Connections:
    """The server's open connections, in all and per client address. One per server
    process, shared by its protocol instances (see `protocols`); `refused` counts refusals
    by reason, for /metrics."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self._trusted = _Trusted(limits.trusted)
        self._held: dict[asyncio.BaseTransport, str | None] = {}  # -> its capped address
        self._per_client: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    @property
    def open(self) -> int:
        return len(self._held)

    def from_client(self, host: str) -> int:
        return self._per_client[host]

    def admit(self, transport: asyncio.BaseTransport, host: str | None) -> Refusal | None:
        """Count a new connection in, or say why it is refused."""
        if len(self._held) >= self.limits.max_connections:
            self.refused["max_connections"] += 1
            message = "the server has too many open connections; try again shortly"
            return 503, FunctionError(Code.TOO_MANY_CONNECTIONS, message)
        capped = (
            host
            if host is not None and self.limits.max_per_client and host not in self._trusted
            else None
        )
        if capped is not None and self._per_client[capped] >= self.limits.max_per_client:
            self.refused["max_connections_per_client"] += 1
            message = f"more than {self.limits.max_per_client} open connections from one address"
            return 429, FunctionError(Code.TOO_MANY_CONNECTIONS, message)
        self._held[transport] = capped
        if capped is not None:
            self._per_client[capped] += 1
        return None

    def release(self, transport: asyncio.BaseTransport) -> None:
        """Count a closed connection out; once per connection, whichever protocol has it."""
        if transport not in self._held:
            return
        capped = self._held.pop(transport)
        if capped is not None:
            self._per_client[capped] -= 1
            if not self._per_client[capped]:
                del self._per_client[capped]

    def protocols(self) -> tuple[type[asyncio.Protocol], type[asyncio.Protocol]]:
        """uvicorn's `http` and `ws` protocol classes, bound to these connections."""
        connections = self

        class Http(BoundedHttpProtocol):
            edge = connections

        class WebSocket(BoundedWebSocketProtocol):
            edge = connections

        return Http, WebSocket


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the bounds above; see the module docstring."""

    edge: ClassVar[Connections]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_headers = True  # reading a request line and headers (or waiting for one)
        self._began = False  # a byte of the current request has come
        self._boundaries = 0  # request boundaries passed (headers or message ends)
        self._header_bytes = 0
        self._header_count = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._lingering = False
        self._linger: asyncio.TimerHandle | None = None
        self._refusing = False  # the current request is answered by a refusal

    # --- the connection ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        refusal = self.edge.admit(transport, self.client[0] if self.client else None)
        if refusal is not None:
            self._answer(*refusal)
            return
        self._arm_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        if self._linger is not None:
            self._linger.cancel()
        self.edge.release(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # the rest of a refused request: dropped unread
        if self._in_headers:
            self._began = True
            if self._deadline is None:
                self._arm_deadline()  # a request begins on a kept-alive connection
        before = self._boundaries
        super().data_received(data)
        if not self._in_headers or self._lingering or self._boundaries != before:
            return
        # Still inside one request's headers: all of this read was header bytes.
        self._header_bytes += len(data)
        if self._header_bytes > self.edge.limits.max_header_bytes:
            self.edge.refused["headers_too_large"] += 1
            self._answer(431, _headers_too_large(self.edge.limits))

    def handle_websocket_upgrade(self) -> None:
        if self._lingering:
            return  # refused while its headers were read
        self._disarm_deadline()
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        unread = self.cycle is not None and self.cycle.more_body
        if (unread or self._refusing) and not self.transport.is_closing():
            # Refused, or answered before its body was read whole (the rest is nobody's).
            self.server_state.total_requests += 1
            self._close_softly()
            return
        super().on_response_complete()

    # --- parser callbacks ----------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count <= self.edge.limits.max_header_count:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._boundaries += 1
        self._in_headers = False
        self._disarm_deadline()
        limits = self.edge.limits
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
        if self._header_count <= limits.max_header_count and size <= limits.max_header_bytes:
            super().on_headers_complete()
            return
        self.edge.refused["headers_too_large"] += 1
        if self.parser.should_upgrade():
            self._answer(431, _headers_too_large(limits))
            return
        self._refusing = True
        app, self.app = self.app, _refusal_app(431, _headers_too_large(limits))
        try:  # the request goes on as uvicorn's own, answered by the refusal
            super().on_headers_complete()
        finally:
            self.app = app

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._boundaries += 1
        self._in_headers = True
        self._began = False
        self._header_bytes = 0
        self._header_count = 0

    # --- deadlines and refusals ----------------------------------------------------------

    def _arm_deadline(self) -> None:
        self._deadline = self.loop.call_later(self.edge.limits.header_timeout, self._too_slow)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if not self._began or (self.cycle is not None and not self.cycle.response_complete):
            self.edge.refused["idle"] += 1
            self.transport.close()  # nothing asked (or an answer under way): nothing to say
            return
        self.edge.refused["header_timeout"] += 1
        timeout = self.edge.limits.header_timeout
        message = f"request headers not received within {timeout:g} s"
        self._answer(408, FunctionError(Code.REQUEST_TIMEOUT, message))

    def _answer(self, status: int, error: FunctionError) -> None:
        """Write a refusal and end the connection; the request is never handed on."""
        self.transport.write(raw_answer(status, error))
        self._close_softly()

    def _close_softly(self) -> None:
        """Half-close, read and drop what still comes for a moment, then close."""
        self._lingering = True
        self._disarm_deadline()
        self._unset_keepalive_if_required()
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self.flow.resume_reading()
        self._linger = self.loop.call_later(LINGER_S, self.transport.close)


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, giving the connection's slot back when it closes."""

    edge: ClassVar[Connections]

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None and scope["extensions"] is not None:
            scope["extensions"][ABORT_EXTENSION] = {"abort": self.transport.abort}

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            self.edge.release(self.transport)


def _headers_too_large(limits: ConnectionLimits) -> FunctionError:
    message = (
        f"request headers over {limits.max_header_bytes} bytes or {limits.max_header_count} fields"
    )
    return FunctionError(Code.HEADERS_TOO_LARGE, message)


def _answer_headers(status: int, body: bytes) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status in (429, 503):
        headers.append((b"retry-after", b"1"))
    return headers + list(SECURITY_HEADERS)


def raw_answer(status: int, error: FunctionError) -> bytes:
    """A whole HTTP/1.1 answer, for refusals made before any request reaches the app."""
    body = orjson.dumps(error_body(error))
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}".encode()]
    headers = [*_answer_headers(status, body), (b"connection", b"close")]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _refusal_app(
    status: int, error: FunctionError
) -> Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Any]:
    """Answers the request as the app would, without `Connection: close`: uvicorn would
    close at once, unread bytes and all; `on_response_complete` closes softly instead."""
    body = orjson.dumps(error_body(error))

    async def refuse(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        headers = _answer_headers(status, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return refuse
