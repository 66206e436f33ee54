"""Turning values from other systems into ours: timestamps and JSON text."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_ms(value: object) -> float | None:
    """A point in time as Unix milliseconds, or None when `value` is not one.

    Accepts what Prisma leaves behind: a `datetime` (PostgreSQL `timestamp(3)`, naive
    means UTC), an integer of milliseconds (Prisma's SQLite encoding), and ISO 8601 text
    (`2024-01-01T00:00:00.000Z`, or `2024-01-01 00:00:00` from other SQLite writers).
    """
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return (moment - _EPOCH) / dt.timedelta(milliseconds=1)
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
            return number if math.isfinite(number) else None
        if isinstance(value, str):
            text = value.strip()
            if text.removeprefix("-").isascii() and text.removeprefix("-").isdecimal():
                return to_ms(int(text))
            return to_ms(dt.datetime.fromisoformat(text))
    except (ValueError, OverflowError):  # not a date, or far outside any calendar
        return None
    return None


def parse_json_text(value: object) -> Any:
    """A JSON column's value: drivers give text (SQLite, PostgreSQL `json`/`jsonb` via
    asyncpg) or an already-parsed value. Raises ValueError on malformed text."""
    if isinstance(value, str | bytes | bytearray):
        return json.loads(value)
    return value
