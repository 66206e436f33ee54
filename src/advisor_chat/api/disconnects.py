"""A client that goes away mid-request is routine (a closed tab, a dropped network), not
a server error: it is logged as one info line, never as an ERROR with a traceback."""

from __future__ import annotations

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from advisor_chat.log import get_logger

log = get_logger(__name__)


class QuietDisconnects:
    """ASGI middleware: a request whose client left while its body was read ends here.
    There is no one to answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            if scope["type"] != "http":
                raise
            log.info("request_aborted", method=scope.get("method"), path=scope.get("path"))
