"""Opaque pagination cursors: a position in one index, after a full index key.

Keyset pagination stays correct while rows are inserted or deleted: the next page starts
strictly after that key, wherever it now sits. The cursor names its table and index so it
cannot be replayed against another read.

A cursor is plain (after this key) or an end cursor: the page that answered it reached the
end of its range. As the start of a read an end cursor still means "after the last key
seen" (or the range's start, if it saw none), so a reader polling with it gets what
arrived since; as the end of a read (`endCursor`) it leaves the page open to the range's
end, so the last page of a reactive list takes the rows that arrive after it (Convex's
`CursorPosition::End`).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from advisor_chat.errors import CursorInvalid
from advisor_chat.store.reads import Key

_VERSION = 1
_END = "end"


@dataclass(frozen=True)
class Position:
    key: Key | None  # after this key; None only for an end cursor that saw no key
    end: bool = False  # the read reached the end of its range


def encode_cursor(table: str, index: str, key: Key | None, *, end: bool = False) -> str:
    assert key is not None or end, "a plain cursor names a key"
    data: list[Any] = [_VERSION, table, index, None if key is None else list(key)]
    if end:
        data.append(_END)
    raw = orjson.dumps(data)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, table: str, index: str, length: int) -> Position:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data: Any = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise CursorInvalid("cursor is not valid") from exc
    if not isinstance(data, list) or len(data) not in (4, 5) or data[0] != _VERSION:
        raise CursorInvalid("cursor is not valid")
    end = len(data) == 5
    key = data[3]
    if (end and data[4] != _END) or (key is None and not end):
        raise CursorInvalid("cursor is not valid")
    if key is not None and (
        not isinstance(key, list)
        or len(key) != length
        or any(not isinstance(v, str | int | float | bool | None) for v in key)
    ):
        raise CursorInvalid("cursor is not valid")
    if data[1] != table or data[2] != index:
        raise CursorInvalid(f"cursor belongs to {data[1]}.{data[2]}, not {table}.{index}")
    return Position(None if key is None else tuple(key), end)
