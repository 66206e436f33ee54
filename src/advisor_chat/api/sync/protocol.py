"""Convex's sync protocol as the pinned npm client (convex 1.48, `browser/sync/protocol.ts`)
speaks it: JSON text frames, one message each.

In: Connect, Authenticate, ModifyQuerySet, Mutation, Action, Event. Out: Transition,
MutationResponse, ActionResponse, AuthError, FatalError, Ping. Timestamps travel as the
client's `EncodedU64`: base64 of the u64's 8 little-endian bytes. Function arguments travel
as `[args]`; values are plain JSON, as over HTTP (api/http.py).

A frame that is not one of these messages, exactly, raises `ProtocolError`: the session
answers FatalError and closes (the client gives up on a FatalError, so it is kept for what
a correct client never sends).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal, assert_never

import orjson

from advisor_chat.errors import FunctionError

U64_BYTES = 8


class ProtocolError(Exception):
    """A frame the protocol does not allow; its message is the FatalError's text."""


# --- values ------------------------------------------------------------------------------


def encode_ts(ts: int) -> str:
    return base64.b64encode(ts.to_bytes(U64_BYTES, "little", signed=False)).decode()


def decode_ts(encoded: str) -> int:
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"timestamp is not base64: {encoded!r}") from exc
    if len(raw) != U64_BYTES:
        raise ProtocolError(f"timestamp is not 8 bytes: {encoded!r}")
    return int.from_bytes(raw, "little", signed=False)


def error_data(error: FunctionError) -> dict[str, Any]:
    """Convex's `errorData`, the same as over HTTP (api/responses.py)."""
    return {"code": error.code.value, **error.data}


# --- client messages ---------------------------------------------------------------------


@dataclass(frozen=True)
class Connect:
    session_id: str
    connection_count: int
    last_close_reason: str | None
    max_observed_ts: int | None
    client_ts: float | None  # the client's clock (ms), for `clientClockSkew`


@dataclass(frozen=True)
class AddQuery:
    query_id: int
    udf_path: str
    args: Any
    journal: str | None


@dataclass(frozen=True)
class RemoveQuery:
    query_id: int


@dataclass(frozen=True)
class ModifyQuerySet:
    base_version: int
    new_version: int
    modifications: tuple[AddQuery | RemoveQuery, ...]


TokenType = Literal["User", "Admin", "None"]


@dataclass(frozen=True)
class Authenticate:
    token_type: TokenType
    value: str | None  # the JWT ("User"), the admin key ("Admin"), None ("None")
    base_version: int


@dataclass(frozen=True)
class Mutation:
    request_id: int
    udf_path: str
    args: Any


@dataclass(frozen=True)
class Action:
    request_id: int
    udf_path: str
    args: Any


@dataclass(frozen=True)
class Event:
    event_type: str
    event: Any


ClientMessage = Connect | Authenticate | ModifyQuerySet | Mutation | Action | Event


def parse(frame: str | bytes) -> ClientMessage:
    """One frame as a typed message; anything else is a `ProtocolError`."""
    try:
        body = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"message is not JSON: {exc}") from exc
    if type(body) is not dict:
        raise ProtocolError("message must be a JSON object")
    fields = _Fields(body)
    kind = fields.string("type")
    match kind:
        case "Connect":
            observed = fields.optional_string("maxObservedTimestamp")
            return Connect(
                session_id=fields.string("sessionId"),
                connection_count=fields.count("connectionCount"),
                last_close_reason=fields.optional_string("lastCloseReason"),
                max_observed_ts=None if observed is None else decode_ts(observed),
                client_ts=fields.optional_number("clientTs"),
            )
        case "Authenticate":
            token_type = fields.string("tokenType")
            base = fields.count("baseVersion")
            if token_type == "None":
                return Authenticate("None", None, base)
            if token_type == "User":
                return Authenticate("User", fields.string("value"), base)
            if token_type == "Admin":
                return Authenticate("Admin", fields.string("value"), base)
            raise ProtocolError(f"unknown tokenType {token_type!r}")
        case "ModifyQuerySet":
            changes = fields.array("modifications")
            return ModifyQuerySet(
                base_version=fields.count("baseVersion"),
                new_version=fields.count("newVersion"),
                modifications=tuple(_modification(change) for change in changes),
            )
        case "Mutation":
            fields.no_component()
            return Mutation(fields.count("requestId"), fields.string("udfPath"), fields.args())
        case "Action":
            fields.no_component()
            return Action(fields.count("requestId"), fields.string("udfPath"), fields.args())
        case "Event":
            return Event(fields.string("eventType"), body.get("event"))
    raise ProtocolError(f"unknown message type {kind!r}")


def _modification(change: Any) -> AddQuery | RemoveQuery:
    if type(change) is not dict:
        raise ProtocolError("a query set modification must be an object")
    fields = _Fields(change)
    kind = fields.string("type")
    if kind == "Add":
        fields.no_component()
        return AddQuery(
            query_id=fields.count("queryId"),
            udf_path=fields.string("udfPath"),
            args=fields.args(),
            journal=fields.optional_string("journal"),
        )
    if kind == "Remove":
        return RemoveQuery(fields.count("queryId"))
    raise ProtocolError(f"unknown query set modification {kind!r}")


class _Fields:
    """Typed reads of one message's fields, each failure naming the field."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def string(self, name: str) -> str:
        value = self.body.get(name)
        if type(value) is not str:
            raise ProtocolError(f"{name} must be a string")
        return value

    def optional_string(self, name: str) -> str | None:
        value = self.body.get(name)
        if value is not None and type(value) is not str:
            raise ProtocolError(f"{name} must be a string or null")
        return value

    def optional_number(self, name: str) -> float | None:
        value = self.body.get(name)
        if value is None:
            return None
        if type(value) not in (int, float):
            raise ProtocolError(f"{name} must be a number")
        return float(value)

    def count(self, name: str) -> int:
        """A nonnegative integer (query ids, versions, request ids)."""
        value = self.body.get(name)
        if type(value) is float and value.is_integer():
            value = int(value)
        if type(value) is not int or value < 0 or value >= 1 << 53:
            raise ProtocolError(f"{name} must be a nonnegative integer")
        return value

    def array(self, name: str) -> list[Any]:
        value = self.body.get(name)
        if type(value) is not list:
            raise ProtocolError(f"{name} must be an array")
        return value

    def args(self) -> Any:
        """The client sends `[args]`; the runner checks what is inside."""
        value = self.array("args")
        if len(value) != 1:
            raise ProtocolError("args must be an array of one arguments object")
        return value[0]

    def no_component(self) -> None:
        if self.body.get("componentPath") not in (None, ""):
            raise ProtocolError("components are not served here")


# --- server messages ---------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """The client's state after a Transition: its query set, its identity and the
    timestamp its results reflect. Each Transition starts where the last one ended."""

    query_set: int
    identity: int
    ts: int


@dataclass(frozen=True)
class QueryUpdated:
    query_id: int
    value: Any
    journal: str | None = None  # the query's journal (where its page ends), kept by the client


@dataclass(frozen=True)
class QueryFailed:
    query_id: int
    error: FunctionError
    journal: str | None = None


@dataclass(frozen=True)
class QueryRemoved:
    query_id: int


Modification = QueryUpdated | QueryFailed | QueryRemoved


@dataclass(frozen=True)
class Transition:
    start: Version
    end: Version
    modifications: tuple[Modification, ...]
    server_ts: int  # ns since the epoch, when sent
    client_clock_skew: float | None  # ms the client's clock is behind ours, if known


@dataclass(frozen=True)
class MutationResponse:
    request_id: int
    value: Any
    error: FunctionError | None
    ts: int  # the commit's; meaningful on success


@dataclass(frozen=True)
class ActionResponse:
    request_id: int
    value: Any
    error: FunctionError | None


@dataclass(frozen=True)
class AuthError:
    error: str
    base_version: int
    auth_update_attempted: bool  # in answer to an Authenticate (else: found while running)


@dataclass(frozen=True)
class FatalError:
    error: str


@dataclass(frozen=True)
class Ping:
    pass


ServerMessage = Transition | MutationResponse | ActionResponse | AuthError | FatalError | Ping


def encode(message: ServerMessage) -> bytes:
    """The frame's JSON (UTF-8), sent as text."""
    return orjson.dumps(_json(message))


def _answer(kind: str, request_id: int, value: Any, error: FunctionError | None) -> dict[str, Any]:
    """A mutation's or an action's answer: its value, or its error as the client reads one
    (the message, and our stable code in errorData)."""
    if error is not None:
        outcome = {"success": False, "result": error.message, "errorData": error_data(error)}
    else:
        outcome = {"success": True, "result": value}
    return {"type": kind, "requestId": request_id, **outcome, "logLines": []}


def encode_modification(modification: Modification) -> dict[str, Any]:
    match modification:
        case QueryUpdated(query_id, value, journal):
            return {
                "type": "QueryUpdated",
                "queryId": query_id,
                "value": value,
                "logLines": [],
                "journal": journal,
            }
        case QueryFailed(query_id, error, journal):
            return {
                "type": "QueryFailed",
                "queryId": query_id,
                "errorMessage": error.message,
                "errorData": error_data(error),
                "logLines": [],
                "journal": journal,
            }
        case QueryRemoved(query_id):
            return {"type": "QueryRemoved", "queryId": query_id}
        case _:
            assert_never(modification)


def _version(version: Version) -> dict[str, Any]:
    return {
        "querySet": version.query_set,
        "identity": version.identity,
        "ts": encode_ts(version.ts),
    }


def _json(message: ServerMessage) -> dict[str, Any]:
    match message:
        case Transition():
            body: dict[str, Any] = {
                "type": "Transition",
                "startVersion": _version(message.start),
                "endVersion": _version(message.end),
                "modifications": [encode_modification(m) for m in message.modifications],
                "serverTs": message.server_ts,
            }
            if message.client_clock_skew is not None:
                # whole ms, as Convex sends it: the Rust client (under PyPI's) reads an i64
                body["clientClockSkew"] = round(message.client_clock_skew)
            return body
        case MutationResponse(request_id, value, error, ts):
            answer = _answer("MutationResponse", request_id, value, error)
            if error is None:  # the commit a Transition must reach (read-your-writes)
                answer["ts"] = encode_ts(ts)
            return answer
        case ActionResponse(request_id, value, error):
            return _answer("ActionResponse", request_id, value, error)
        case AuthError(error, base_version, attempted):
            return {
                "type": "AuthError",
                "error": error,
                "baseVersion": base_version,
                "authUpdateAttempted": attempted,
            }
        case FatalError(error):
            return {"type": "FatalError", "error": error}
        case Ping():
            return {"type": "Ping"}
        case _:
            assert_never(message)
