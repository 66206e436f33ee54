"""Document ids: opaque, URL-safe, time-ordered, and carrying their table.

Layout (27 characters of Crockford base32, lowercase):

    [ 10 chars: milliseconds since epoch | 14 chars: random, monotonic within a ms ]
    [ 2 chars: table number ] [ 1 char: check ]

Time first keeps a table's ids in creation order (index tie-breaks, cursors). The table
number lets an id of the wrong table be rejected without a lookup. Imported ids (Convex,
Prisma) keep their own shape; `table_number_of` returns None for them.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import NewType

DocumentId = NewType("DocumentId", str)
TableName = NewType("TableName", str)

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
ID_LENGTH = 27
MAX_ID_LENGTH = 128  # imported ids: generous, but bounded
_RANDOM_BITS = 70  # 14 base32 chars
_ANY_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_OUR_ID = re.compile(f"[{ALPHABET}]{{{ID_LENGTH}}}")

#: Fixed forever: an id's table number must mean the same table in every database.
TABLE_NUMBERS: dict[str, int] = {
    "users": 1,
    "advisors": 2,
    "userAdvisors": 3,
    "teamTemplates": 4,
    "conversations": 5,
    "messages": 6,
    "advisorMemories": 7,
    "threadSummaries": 8,
    "typingIndicators": 9,
    "userPresence": 10,
    "streamDeltas": 11,
    "accounts": 12,
    "sessions": 13,
    "webhookEvents": 14,
    "rateLimits": 15,
    "scheduledFunctions": 16,
    "deletedUsers": 17,
    "throttles": 18,
    "mutationReceipts": 19,
}


# RFC 4648 base32 digits, in value order, mapped onto ours (which sort as their values).
_FROM_RFC4648 = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


def _encode(value: int, length: int) -> str:
    """`length` base32 digits of `value`, most significant first, via the C codec."""
    nbytes = (length * 5 + 7) // 8
    padded_bits = nbytes * 8
    # Left-align the value in whole bytes, so base32's 5-bit groups fall on our digits.
    raw = (value << (padded_bits - length * 5) if padded_bits >= length * 5 else value).to_bytes(
        nbytes, "big"
    )
    return base64.b32encode(raw).decode("ascii")[:length].translate(_FROM_RFC4648)


def _check_char(body: str) -> str:
    # A real hash, not a CRC: a CRC's low bits are linear in the input, so some single-
    # character typos would never change them.
    return ALPHABET[hashlib.blake2s(body.encode("ascii"), digest_size=1).digest()[0] & 31]


def is_valid_id(value: str) -> bool:
    """Shape check for any id we accept: ours or imported."""
    return _ANY_ID.fullmatch(value) is not None


def table_number_of(value: str) -> int | None:
    """The table number of one of our ids, or None for an id minted elsewhere."""
    if len(value) != ID_LENGTH or _OUR_ID.fullmatch(value) is None:
        return None
    if _check_char(value[:-1]) != value[-1]:
        return None
    return _VALUE[value[-3]] * 32 + _VALUE[value[-2]]


class IdGenerator:
    """Mints ids and creation times, both strictly increasing within this process.

    Owned by the store (not module state) so each store has one clock.
    """

    def __init__(self) -> None:
        self._last_ms = 0
        self._last_random = 0
        self._last_time = 0.0

    def new_id(self, table: str) -> DocumentId:
        ms = time.time_ns() // 1_000_000
        if ms <= self._last_ms:
            ms = self._last_ms
            rand = self._last_random + 1 + secrets.randbits(16)
            if rand >= 1 << _RANDOM_BITS:  # astronomically rare: borrow the next ms
                ms += 1
                rand = secrets.randbits(_RANDOM_BITS - 1)
        else:
            rand = secrets.randbits(_RANDOM_BITS - 1)  # headroom for monotonic increments
        self._last_ms, self._last_random = ms, rand
        number = TABLE_NUMBERS[table]
        body = _encode(ms, 10) + _encode(rand, 14) + _encode(number, 2)
        return DocumentId(body + _check_char(body))

    def creation_time(self) -> float:
        """Milliseconds since the epoch as a float, as Convex's `_creationTime`."""
        now = time.time_ns() / 1_000_000
        if now <= self._last_time:
            now = self._last_time + 0.001
        self._last_time = now
        return now
