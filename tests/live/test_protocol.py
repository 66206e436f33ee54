"""The sync protocol's frames: what parses, what is refused with a reason, and how
timestamps and answers are encoded for the npm client."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.api.sync.protocol import (
    AddQuery,
    Authenticate,
    FatalError,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    ProtocolError,
    QueryFailed,
    QueryUpdated,
    RemoveQuery,
    Transition,
    Version,
    decode_ts,
    encode,
    encode_ts,
    parse,
)
from advisor_chat.errors import Code, FunctionError


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_a_timestamp_round_trips_as_8_little_endian_bytes(ts: int) -> None:
    encoded = encode_ts(ts)
    assert base64.b64decode(encoded) == ts.to_bytes(8, "little")
    assert decode_ts(encoded) == ts


def test_the_clients_messages_parse() -> None:
    add = {"type": "Add", "queryId": 0, "udfPath": "users:current", "args": [{}]}
    remove = {"type": "Remove", "queryId": 3}
    modify = {"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1}
    assert parse(json.dumps(modify | {"modifications": [add, remove]})) == ModifyQuerySet(
        0, 1, (AddQuery(0, "users:current", {}, None), RemoveQuery(3))
    )
    user = {"type": "Authenticate", "tokenType": "User", "value": "jwt", "baseVersion": 0}
    assert parse(json.dumps(user)) == Authenticate("User", "jwt", 0)
    none = {"type": "Authenticate", "tokenType": "None", "baseVersion": 1}
    assert parse(json.dumps(none)) == Authenticate("None", None, 1)
    mutation = {"type": "Mutation", "requestId": 7, "udfPath": "a:b", "args": [{"x": 1}]}
    assert parse(json.dumps(mutation)) == Mutation(7, "a:b", {"x": 1})
    connect = {
        "type": "Connect",
        "sessionId": "s",
        "connectionCount": 0,
        "lastCloseReason": None,
        "clientTs": 12,
        "maxObservedTimestamp": encode_ts(99),
    }
    parsed = parse(json.dumps(connect))
    assert parsed.max_observed_ts == 99  # type: ignore[union-attr]  # a Connect


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        ("{not json", "not JSON"),
        ("[1]", "JSON object"),
        ('{"type": "Subscribe"}', "unknown message type"),
        ('{"type": "Mutation", "requestId": -1, "udfPath": "a:b", "args": [{}]}', "requestId"),
        ('{"type": "Mutation", "requestId": 1, "udfPath": "a:b", "args": {}}', "args"),
        ('{"type": "Mutation", "requestId": 1, "udfPath": "a:b", "args": [{}, {}]}', "args"),
        ('{"type": "Authenticate", "tokenType": "Magic", "baseVersion": 0}', "tokenType"),
        ('{"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1}', "modifications"),
        (
            '{"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,'
            ' "modifications": [{"type": "Swap"}]}',
            "unknown query set modification",
        ),
        (
            '{"type": "Connect", "sessionId": "s", "connectionCount": 0,'
            ' "maxObservedTimestamp": "AAAA"}',
            "8 bytes",
        ),
        (
            '{"type": "Action", "requestId": 1, "udfPath": "a:b", "args": [{}],'
            ' "componentPath": "c"}',
            "components",
        ),
    ],
)
def test_a_frame_outside_the_protocol_is_refused_with_its_reason(frame: str, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        parse(frame)


def _json(message: Any) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(encode(message))
    return decoded


def test_answers_are_encoded_as_the_client_reads_them() -> None:
    failed = FunctionError(Code.NOT_FOUND, "conversation not found", table="conversations")
    transition = _json(
        Transition(
            Version(0, 0, 0),
            Version(1, 1, 5),
            (QueryUpdated(0, {"a": 1}), QueryFailed(1, failed)),
            server_ts=10,
            client_clock_skew=None,
        )
    )
    assert transition["startVersion"] == {"querySet": 0, "identity": 0, "ts": encode_ts(0)}
    assert transition["endVersion"] == {"querySet": 1, "identity": 1, "ts": encode_ts(5)}
    updated, query_failed = transition["modifications"]
    assert updated == {
        "type": "QueryUpdated",
        "queryId": 0,
        "value": {"a": 1},
        "logLines": [],
        "journal": None,
    }
    assert query_failed["errorMessage"] == "conversation not found"
    assert query_failed["errorData"] == {"code": "NOT_FOUND", "table": "conversations"}
    assert "clientClockSkew" not in transition
    ok = _json(MutationResponse(3, "id", None, 42))
    assert (ok["success"], ok["result"], ok["ts"]) == (True, "id", encode_ts(42))
    refused = _json(MutationResponse(4, None, failed, 0))
    assert (refused["success"], refused["result"]) == (False, "conversation not found")
    assert "ts" not in refused
    assert _json(FatalError("no")) == {"type": "FatalError", "error": "no"}
