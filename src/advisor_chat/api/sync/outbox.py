"""Frames on their way to one client, bounded, and the task that writes them.

The server's WebSocket `send` waits while the client does not read (the transport's write
buffer is past its high-water mark), so what a session says queues here. Past
`max_bytes` queued, or one frame waiting `send_timeout` seconds, the client is not reading:
its connection is aborted (a close frame could not get out through the full buffer), so a
stalled client costs at most the bound, and other sessions never wait for it.

With nothing to say for `PING_S`, a Ping goes out: the client reconnects after 60 s of
silence from the server (convex-js web_socket_manager.ts, `serverInactivityThreshold`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from advisor_chat.api.connections import ABORT_EXTENSION
from advisor_chat.api.sync.protocol import Ping, ServerMessage, encode
from advisor_chat.log import get_logger

log = get_logger(__name__)

PING_S = 15.0  # Convex's own interval; a quarter of the client's inactivity threshold


class Overflowed(Exception):
    """The client stopped reading: its outbox passed its bound, or a frame waited too long."""


class Outbox:
    def __init__(self, websocket: WebSocket, max_bytes: int, send_timeout: float) -> None:
        self.websocket = websocket
        self.max_bytes = max_bytes
        self.send_timeout = send_timeout
        self.queued = 0  # bytes of the frames not yet written (the one being written included)
        self._frames: deque[bytes] = deque()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._overflowed = asyncio.Event()

    def send(self, message: ServerMessage) -> None:
        """Queue a message; never waits. Past the bound the connection is aborted."""
        if self._overflowed.is_set():
            return
        frame = encode(message)
        if self.queued + len(frame) > self.max_bytes:
            self._overflow(f"{self.queued + len(frame)} bytes queued, over {self.max_bytes}")
            return
        self._frames.append(frame)
        self.queued += len(frame)
        self._drained.clear()
        self._ready.set()

    async def pump(self) -> None:
        """Write queued frames in order, and a Ping after a silence. Raises `Overflowed`."""
        while True:
            if not self._frames:
                self._ready.clear()
                self._drained.set()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(PING_S):
                        await self._ready.wait()
                if not self._frames and not self._overflowed.is_set():
                    self.send(Ping())
            if self._overflowed.is_set():
                raise Overflowed
            frame = self._frames[0]
            try:
                async with asyncio.timeout(self.send_timeout):
                    await self.websocket.send_text(frame.decode())
            except TimeoutError:
                self._overflow(f"a frame waited over {self.send_timeout:g} s")
                raise Overflowed from None
            except WebSocketDisconnect:
                return  # the reader sees the disconnect too, and ends the session
            if self._overflowed.is_set():
                raise Overflowed
            self._frames.popleft()
            self.queued -= len(frame)

    async def finish(self, code: int, reason: str) -> None:
        """Write what is queued (within `send_timeout`), then close with `code`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.send_timeout):
                await self._drained.wait()  # the pump writes them
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.websocket.close(code, reason)

    def _overflow(self, why: str) -> None:
        log.warning("sync_client_not_reading", why=why)
        self._overflowed.set()
        self._ready.set()  # wakes the pump, which raises
        self._drained.set()
        self._frames.clear()
        self.queued = 0
        abort = self.websocket.scope.get("extensions", {}).get(ABORT_EXTENSION, {}).get("abort")
        if abort is not None:
            abort()  # the disconnect reaches the session's reader
