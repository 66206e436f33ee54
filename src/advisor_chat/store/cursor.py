"""Opaque pagination cursors: the index key of the last row a page returned.

Keyset pagination stays correct while rows are inserted or deleted: the next page starts
strictly after that key, wherever it now sits. The cursor names its table and index so it
cannot be replayed against another read.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from advisor_chat.errors import CursorInvalid
from advisor_chat.store.reads import Key

_VERSION = 1


def encode_cursor(table: str, index: str, key: Key) -> str:
    raw = orjson.dumps([_VERSION, table, index, list(key)])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, table: str, index: str, length: int) -> Key:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data: Any = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise CursorInvalid("cursor is not valid") from exc
    if (
        not isinstance(data, list)
        or len(data) != 4
        or data[0] != _VERSION
        or not isinstance(data[3], list)
        or len(data[3]) != length
        or any(not isinstance(v, str | int | float | bool | None) for v in data[3])
    ):
        raise CursorInvalid("cursor is not valid")
    if data[1] != table or data[2] != index:
        raise CursorInvalid(f"cursor belongs to {data[1]}.{data[2]}, not {table}.{index}")
    return tuple(data[3])
