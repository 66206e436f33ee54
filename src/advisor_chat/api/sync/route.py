"""The sync endpoint: /api/sync and /api/{client version}/sync (the npm client's path).

Per connection: a reader that decodes frames in order and hands them to the session, the
session's rounds and mutations, and the outbox's writer, all in one task group, so each
ends with the connection. What ends a session, and how the client is told:

- the client closes or drops: nothing to say;
- a frame that is not the protocol (malformed, unknown, versions out of order, past a
  bound): FatalError, then close 1008;
- a refused Authenticate: AuthError, then close 1000 (the client fetches a fresh token and
  reconnects);
- a frame over `ws_max_size`: closed 1009 before it is read (api/bounds.py);
- a client that stops reading: its connection is aborted (api/sync/outbox.py);
- a fault of ours: close 1011 "InternalServerError", which the client retries.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial

from fastapi import APIRouter, WebSocket

from advisor_chat.api.sync.outbox import Outbox, Overflowed
from advisor_chat.api.sync.protocol import AuthError, FatalError, ProtocolError, parse
from advisor_chat.live.presence import Hold
from advisor_chat.live.session import AuthRefused, Session, SessionLimits
from advisor_chat.live.subscriptions import Subscriptions
from advisor_chat.log import get_logger
from advisor_chat.settings import Settings

log = get_logger(__name__)
router = APIRouter()

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # the client broke the protocol
CLOSE_INTERNAL = 1011


@dataclass(frozen=True)
class SyncBounds:
    session: SessionLimits
    max_queued_bytes: int
    send_timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncBounds:
        return cls(
            SessionLimits(settings.sync_max_subscriptions, settings.sync_max_pending_requests),
            settings.sync_max_queued_bytes,
            settings.sync_send_timeout,
        )


class _Ended(Exception):
    """The reader is done: the task group's other tasks are cancelled."""


@router.websocket("/api/sync")
async def sync(websocket: WebSocket) -> None:
    await serve_session(websocket)


@router.websocket("/api/{version}/sync")
async def sync_versioned(websocket: WebSocket, version: str) -> None:
    await serve_session(websocket)


async def serve_session(websocket: WebSocket) -> None:
    state = websocket.app.state
    bounds: SyncBounds = state.sync_bounds
    subscriptions: Subscriptions = state.subscriptions
    await websocket.accept()
    outbox = Outbox(websocket, bounds.max_queued_bytes, bounds.send_timeout)
    presence: Hold = state.presence.hold()  # the user is online while a session is open
    session: Session | None = None
    try:
        async with asyncio.TaskGroup() as tasks:
            session = Session(
                state.runner,
                state.verifier.verify,
                subscriptions,
                outbox.send,
                bounds.session,
                tasks,
                identified=presence.identify,
                expired=partial(_expired, outbox),
            )
            tasks.create_task(outbox.pump())
            session.start()
            await _read(websocket, session, outbox)
            raise _Ended
    except* _Ended:
        pass
    except* Overflowed:
        pass  # logged by the outbox; the connection is gone
    except* Exception as group:
        log.error("sync_session_failed", exc_info=group)
        await outbox.finish(CLOSE_INTERNAL, "InternalServerError")
    finally:
        presence.release()
        if session is not None:
            session.close()


async def _expired(outbox: Outbox, answer: AuthError) -> None:
    """The session's token expired: say so, then close; the reader sees the close and
    the session ends. The client fetches a fresh token and reconnects."""
    outbox.send(answer)
    await outbox.finish(CLOSE_NORMAL, "token expired")


async def _read(websocket: WebSocket, session: Session, outbox: Outbox) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        frame = message.get("text")
        if frame is None:
            frame = message.get("bytes") or b""
        try:
            await session.handle(parse(frame))
        except ProtocolError as error:
            log.info("sync_protocol_error", error=str(error))
            outbox.send(FatalError(str(error)))
            await outbox.finish(CLOSE_POLICY, "protocol error")
            return
        except AuthRefused as refused:
            outbox.send(refused.answer)
            await outbox.finish(CLOSE_NORMAL, "authentication refused")
            return
