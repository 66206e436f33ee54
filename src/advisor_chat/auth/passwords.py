"""Password hashing with scrypt, a memory-hard function (stdlib, no native dependency).

Format: `scrypt$<n>$<r>$<p>$<salt>$<hash>` (base64), so the cost can rise later and old
hashes still verify. Hashing takes tens of milliseconds of CPU: callers run it on a worker
thread (`hash_password_async`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from functools import cache

N, R, P = 2**14, 8, 1  # 16 MiB of memory per hash: costly to brute-force, fine on 2 cores
MAX_MEMORY = 64 * 1024 * 1024
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # bounded: hashing a megabyte "password" is a denial of service


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, maxmem=MAX_MEMORY)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=MAX_MEMORY,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password, password, stored)


@cache
def dummy_hash() -> str:
    """Verified against when an email is unknown, so a wrong email costs what a wrong
    password costs and the timing does not tell which accounts exist."""
    return hash_password(secrets.token_urlsafe(16))
