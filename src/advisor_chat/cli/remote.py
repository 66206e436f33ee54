"""A running server's HTTP API, as the terminal chat uses it: local-account sign-in, and
Convex-style function calls (`POST /api/query|mutation|action`) with a bearer token kept
fresh. The chat is a client only; everything it knows comes through here.

Errors, each with a `message` fit to show the user as it is:

RemoteError           the server answered with a failure (`code` is its errorData.code)
├── Unreachable       no answer at all: not running, wrong URL, a network timeout
└── SignedOut         the kept sign-in is no longer valid: sign in again
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from advisor_chat.cli.sessions import SessionFile, StoredSignIn, server_key

Kind = Literal["query", "mutation", "action"]

REFRESH_EARLY_S = 60  # refresh a minute before the access token's 15 minutes are up
CONNECT_TIMEOUT_S = 5.0
CALL_TIMEOUT_S = 60.0  # a mutation that schedules a round answers in milliseconds; slack


class RemoteError(Exception):
    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Unreachable(RemoteError):
    pass


class SignedOut(RemoteError):
    pass


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: float
    user_id: str
    device_token: str | None = None  # sign-in and sign-up give one: kept past sign-out


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or no such host"
    return str(exc) or type(exc).__name__


class Remote:
    """One signed-in user on one server. Rotated refresh tokens are written to the session
    file at once: a refresh spends the old one, so a crash must not lose the new one."""

    def __init__(self, server: str, sessions: SessionFile, http: httpx.AsyncClient) -> None:
        self.server = server_key(server)
        self.sessions = sessions
        self._http = http
        self._lock = asyncio.Lock()  # one refresh at a time: each spends the previous token
        self._access: str | None = None
        self._refresh: str | None = None
        self._renew_at = 0.0  # time.monotonic() after which the access token is refreshed
        self.email = ""
        self.user_id = ""

    @staticmethod
    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=httpx.Timeout(CALL_TIMEOUT_S, connect=CONNECT_TIMEOUT_S))

    async def check(self) -> None:
        """Fail before asking for a password when there is no server to sign in to."""
        try:
            response = await self._http.get(self.server + "/health")
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code != 200:
            raise RemoteError(
                f"the server at {self.server} answered HTTP {response.status_code} to /health: "
                "is it an AI Advisor Chat server?"
            )

    def _unreachable(self, exc: httpx.TransportError) -> Unreachable:
        return Unreachable(
            f"cannot reach the server at {self.server} ({_reason(exc)}). "
            "Is `advisor-chat serve` running there? (--server or ADVISOR_CHAT_SERVER)"
        )

    # --- sign-in ---------------------------------------------------------------------------

    async def sign_up(self, email: str, password: str, name: str | None) -> None:
        body: dict[str, Any] = {"email": email, "password": password}
        if name:
            body["name"] = name
        self._adopt(await self._auth("signup", body), email)

    async def sign_in(self, email: str, password: str) -> None:
        """Presents this device's token for `email`, if it has one (see cli/sessions.py)."""
        body: dict[str, Any] = {"email": email, "password": password}
        device = self.sessions.device(self.server, email.strip().lower())
        if device is not None:
            body["deviceToken"] = device
        self._adopt(await self._auth("signin", body), email)

    async def resume(self, stored: StoredSignIn) -> None:
        """Continue a kept sign-in: one refresh proves it is still good (SignedOut if not)."""
        self.email, self.user_id = stored.email, stored.user_id
        self._access, self._refresh = None, stored.refresh_token
        await self._renew(None)

    async def sign_out(self, stored: StoredSignIn | None = None) -> None:
        """End the sign-in (this one, or a kept one) on the server and forget it here.
        Forgotten even when the server cannot be told: Unreachable is raised after."""
        token = stored.refresh_token if stored else self._refresh
        self.sessions.forget(self.server)
        self._access = self._refresh = None
        if token is not None:
            await self._post("/auth/signout", {"refreshToken": token})

    def _adopt(self, tokens: Tokens, email: str) -> None:
        self._access, self._refresh = tokens.access_token, tokens.refresh_token
        self._renew_at = time.monotonic() + max(tokens.expires_in - REFRESH_EARLY_S, 0)
        self.email, self.user_id = email.strip().lower(), tokens.user_id  # as the server has it
        self.sessions.put(
            self.server, StoredSignIn(tokens.refresh_token, self.email, tokens.user_id)
        )
        if tokens.device_token is not None:
            self.sessions.keep_device(self.server, self.email, tokens.device_token)

    async def _auth(self, endpoint: str, body: dict[str, Any]) -> Tokens:
        answer = await self._post(f"/auth/{endpoint}", body)
        try:
            device = answer.get("deviceToken")
            return Tokens(
                str(answer["accessToken"]),
                str(answer["refreshToken"]),
                float(answer["expiresIn"]),
                str(answer["userId"]),
                device if isinstance(device, str) else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RemoteError(f"the server at {self.server} answered sign-in oddly") from exc

    async def _renew(self, seen: str | None) -> None:
        """Refresh unless another call already did since it saw access token `seen`.
        Another `chat` run sharing the session file may have rotated the token this one
        holds: the file's is then newer, and is the one presented, since presenting a spent
        refresh token ends the whole sign-in (the server takes it for a stolen copy)."""
        async with self._lock:
            if self._access is not None and self._access != seen:
                return
            token = self._refresh
            kept = self.sessions.get(self.server)
            if kept is not None and kept.user_id == self.user_id:
                token = kept.refresh_token
            if token is None:
                raise SignedOut("not signed in")
            try:
                tokens = await self._auth("refresh", {"refreshToken": token})
            except Unreachable:
                raise
            except RemoteError as exc:
                raise self._signed_out() from exc
            self._adopt(tokens, self.email)

    def _signed_out(self) -> SignedOut:
        self.sessions.forget(self.server)
        return SignedOut(
            f"your sign-in to {self.server} has ended (signed out, or unused for 30 days): "
            "sign in again with --email",
            "UNAUTHENTICATED",
        )

    # --- functions -------------------------------------------------------------------------

    async def query(self, path: str, args: dict[str, Any]) -> Any:
        return await self.call("query", path, args)

    async def mutation(self, path: str, args: dict[str, Any]) -> Any:
        return await self.call("mutation", path, args)

    async def action(self, path: str, args: dict[str, Any]) -> Any:
        return await self.call("action", path, args)

    async def call(self, kind: Kind, path: str, args: dict[str, Any]) -> Any:
        """The function's value. An UNAUTHENTICATED answer is retried once after a refresh:
        the token is checked before the function runs, so the retry repeats no effect."""
        if self._access is None or time.monotonic() >= self._renew_at:
            await self._renew(self._access)
        seen = self._access
        try:
            return await self._function(kind, path, args, seen)
        except (Unreachable, SignedOut):
            raise
        except RemoteError as exc:
            if exc.code != "UNAUTHENTICATED":
                raise
        await self._renew(seen)
        return await self._function(kind, path, args, self._access)

    async def _function(
        self, kind: Kind, path: str, args: dict[str, Any], token: str | None
    ) -> Any:
        body = {"path": path, "args": args, "format": "json"}
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return (await self._post(f"/api/{kind}", body, headers)).get("value")

    async def _post(
        self, route: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """The answer's JSON object, or a RemoteError saying in plain words what failed."""
        try:
            response = await self._http.post(self.server + route, json=body, headers=headers)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise RemoteError(
                f"the server at {self.server} answered HTTP {response.status_code} without "
                "the API's JSON: is it an AI Advisor Chat server?"
            )
        if answer.get("status") == "error":
            data = answer.get("errorData")
            code = data.get("code") if isinstance(data, dict) else None
            message = answer.get("errorMessage")
            raise RemoteError(str(message or "the server reported an error"), code)
        if response.status_code != 200:
            raise RemoteError(f"the server at {self.server} answered HTTP {response.status_code}")
        return answer
