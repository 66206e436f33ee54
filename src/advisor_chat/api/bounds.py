"""Request bodies and WebSocket messages bounded before they are read.

A Content-Length over the path's limit is refused at once, unread; a chunked body is
counted as it arrives and cut at the limit; a body must arrive whole within
`body_timeout`. So one request holds at most its limit in memory, never what the client
offers. Refusals are the error envelope with a stable code: 413 PAYLOAD_TOO_LARGE, 408
REQUEST_TIMEOUT. The answer carries no `Connection: close`: the server's protocol
(`api/connections.py`) ends a connection whose request body was not read whole once the
answer is out, sending it first and reading what the client still sends for a moment, so
the client sees the answer rather than a reset.

Webhooks (`/webhooks/*`) have their own limit; every other path has the API's. The
headers' own bounds are the protocol's: it refuses them before any of this runs.

A WebSocket message over `ws_max_size` closes the socket with 1009 (message too big) and
the app sees a disconnect. uvicorn's protocol refuses such a frame itself; this holds the
same bound under any server.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor_chat.api.responses import error_body, error_status
from advisor_chat.errors import Code, FunctionError
from advisor_chat.log import get_logger

log = get_logger(__name__)
WEBHOOKS = "/webhooks/"
MESSAGE_TOO_BIG = 1009  # RFC 6455 close code


class _Refused(Exception):
    def __init__(self, error: FunctionError) -> None:
        super().__init__(error.message)
        self.error = error


class Bounds:
    """ASGI middleware: bodies within their limit and time, WebSocket messages within
    `ws_max_size`. `refused` counts refusals by code (for /metrics)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_webhook_body_bytes: int,
        body_timeout: float,
        ws_max_size: int,
        refused: Counter[str] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_webhook_body_bytes = max_webhook_body_bytes
        self.body_timeout = body_timeout
        self.ws_max_size = ws_max_size
        self.refused: Counter[str] = Counter() if refused is None else refused

    def limit_for(self, path: str) -> int:
        return self.max_webhook_body_bytes if path.startswith(WEBHOOKS) else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self._refuse(scope, send, _too_large(limit))
            return
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        received = 0
        body_done = False
        answered = False

        async def bounded_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # past the body only a disconnect can come: no bound to keep
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _Refused(
                    FunctionError(
                        Code.REQUEST_TIMEOUT,
                        f"request body not received within {self.body_timeout:g} s",
                    )
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _Refused(_too_large(limit))
                body_done = not message.get("more_body", False)
            else:
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal answered
            answered = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except _Refused as refused:
            if answered:  # too late to say why: the protocol ends the connection
                self.refused[refused.error.code] += 1
                return
            await self._refuse(scope, send, refused.error)

    async def _refuse(self, scope: Scope, send: Send, error: FunctionError) -> None:
        self.refused[error.code] += 1
        log.info("request_refused", code=error.code.value, path=scope["path"])
        body = orjson.dumps(error_body(error))
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        start = {"type": "http.response.start", "status": error_status(error), "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def bounded_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive" and _ws_size(message) > self.ws_max_size:
                self.refused[Code.PAYLOAD_TOO_LARGE] += 1
                log.info("websocket_message_refused", path=scope["path"])
                reason = f"message larger than {self.ws_max_size} bytes"
                await send({"type": "websocket.close", "code": MESSAGE_TOO_BIG, "reason": reason})
                return {"type": "websocket.disconnect", "code": MESSAGE_TOO_BIG}
            return message

        await self.app(scope, bounded_receive, send)


def _too_large(limit: int) -> FunctionError:
    return FunctionError(
        Code.PAYLOAD_TOO_LARGE, f"request body larger than {limit} bytes", limit=limit
    )


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when absent (chunked) or unreadable (the protocol's
    parser has refused a malformed one before the app runs)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _ws_size(message: Message) -> int:
    data = message.get("bytes")
    if data is not None:
        return len(data)
    text: str = message.get("text") or ""
    return len(text) if text.isascii() else len(text.encode())
