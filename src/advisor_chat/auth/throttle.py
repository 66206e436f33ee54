"""The throttle on sign-in, sign-up, refresh and password change: per client address and
per account, refused with 429 RATE_LIMITED and Retry-After, shared by every server process
(auth/limiter.py: the database, or Redis). `Accounts` knows nothing of it (the CLI uses
it too); the /auth endpoints call it around their work.

An attempt is taken before the work, so a flood is counted and refused before any scrypt
hash is computed, and given back when it did not fail on its credential: what the failed
rules count is wrong guesses, not sign-ins. The rules (auth/limits.py, defaults):

    sign-in   per address 30 failed / 15 min; per account 10 failed / 15 min
              (emails without an account too: a refusal must not reveal which exist),
              or with a device token per device 10 failed / 15 min instead
    sign-up   per address 20 / hour, per email 5 / hour, every attempt
    refresh   per address 30 failed / 15 min; per account 100 / 15 min, every refresh
    password  per account 10 failed / 15 min; per address 30 failed / 15 min

Lock-out resistance (OWASP "device cookies"): a per-account rule alone would let anyone
lock a user out by guessing wrong ten times. So a successful sign-in (or sign-up) answers
a device token (auth/devices.py), and a sign-in that presents a valid one for its email is
counted per device, not per account: on a device they signed in from before, the owner
still gets in while the account is under attack from elsewhere, and the per-address rule
only stops the attacker's own address. A new device, or one whose token was lost, is
refused while the account rule is exhausted: the accepted trade-off.

Keys are HMACs (server secret) of the rule's name and the value it counts, so neither the
table nor Redis lists who tried what, nor lets a guessed email be confirmed.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from advisor_chat.auth.limiter import Limiter
from advisor_chat.auth.limits import REFUSALS, LimitName, Rule
from advisor_chat.errors import Code, FunctionError


@dataclass(frozen=True)
class Check:
    """One rule applied to one value: an address, an email, a device nonce, a user id."""

    limit: LimitName
    value: str


class Throttle:
    def __init__(self, limiter: Limiter, rules: Mapping[LimitName, Rule], secret: bytes) -> None:
        self.limiter = limiter
        self.rules = rules
        self._key = hmac.new(secret, b"advisor-chat throttle key", hashlib.sha256).digest()

    def _key_of(self, check: Check) -> str:
        message = f"{check.limit}\0{check.value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    async def take(self, *checks: Check) -> list[Check]:
        """Count an attempt under every check, in order; the first that refuses raises
        RATE_LIMITED, and those already counted are given back (a refused attempt counts
        nowhere). Returns the checks, to give back."""
        taken: list[Check] = []
        for check in checks:
            wait = await self.limiter.take(self._key_of(check), self.rules[check.limit])
            if wait is not None:
                await self.give_back(taken)
                raise refusal(check.limit, wait)
            taken.append(check)
        return taken

    async def give_back(self, checks: list[Check]) -> None:
        for check in checks:
            await self.limiter.give_back(self._key_of(check), self.rules[check.limit])

    @asynccontextmanager
    async def failures(self, *checks: Check) -> AsyncIterator[None]:
        """Count the attempt under `checks` while it runs; keep it counted only if it
        failed on its credential (UNAUTHENTICATED: a wrong password or token)."""
        taken = await self.take(*checks)
        try:
            yield
        except FunctionError as error:
            if error.code is not Code.UNAUTHENTICATED:
                await self.give_back(taken)
            raise
        except Exception:  # the server's failure, not a guess: re-raised
            await self.give_back(taken)
            raise
        await self.give_back(taken)


def refusal(limit: LimitName, wait_s: float) -> FunctionError:
    """RATE_LIMITED naming the limit and the whole seconds to wait (the Retry-After)."""
    seconds = max(1, math.ceil(wait_s))
    return FunctionError(
        Code.RATE_LIMITED,
        f"too many {REFUSALS[limit]}; try again in {seconds} s",
        limit=limit,
        retryAfter=seconds,
    )
