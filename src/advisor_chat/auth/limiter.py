"""A rate limiter shared by every server process: the generic cell rate algorithm (GCRA)
over the database, or over Redis when one is configured.

GCRA keeps one number per key, the "theoretical arrival time" (TAT, ms): when the key's
allowance would be whole again. An attempt is allowed if, moved forward by one interval
(`window / count`), the TAT stays within a window of now; a refused attempt changes
nothing. So `count` attempts may come at once, then one per interval, and the state never
needs more than one row per key, however many attempts.

    take(key, rule)       None: allowed and counted; else seconds until one would be
    give_back(key, rule)  undo one counted take (an attempt that turned out fine)

Both backends run the step atomically: the store in one mutation (per-key serialised, and
serializable besides), Redis in one Lua script. If Redis fails (refused, timed out), the
call falls back to the store, logged: a sign-in never fails for it, nor goes uncounted.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from redis.asyncio import Redis
from redis.exceptions import RedisError

from advisor_chat.auth.limits import Rule
from advisor_chat.clock import now_ms
from advisor_chat.log import get_logger
from advisor_chat.store import Store, Transaction

log = get_logger(__name__)

TABLE = "throttles"
PRUNE = 4  # expired rows a new row deletes: each insert removes more than it adds
EPSILON_MS = 0.001  # float rounding: `count` takes at one instant land on the window exactly
REDIS_PREFIX = "advisor-chat:throttle:"


def step(tat: float | None, now: float, rule: Rule) -> tuple[float, float]:
    """One GCRA take: (the new TAT, 0) if allowed, else (the TAT unchanged, ms to wait)."""
    current = now if tat is None else max(tat, now)
    new = current + rule.interval_ms
    over = new - now - rule.window_ms
    if over > EPSILON_MS:
        return (now if tat is None else tat), over
    return new, 0.0


class Limiter(ABC):
    @abstractmethod
    async def take(self, key: str, rule: Rule) -> float | None:
        """None if allowed (and counted); else the seconds until an attempt would be."""

    @abstractmethod
    async def give_back(self, key: str, rule: Rule) -> None:
        """Undo one counted take of `key` under `rule`."""


class StoreLimiter(Limiter):
    """The `throttles` table: a row per key with its TAT. A row past its TAT means what no
    row means, so rows are pruned lazily: each new row deletes up to PRUNE expired ones."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def take(self, key: str, rule: Rule) -> float | None:
        async def take(tx: Transaction) -> float | None:
            now = now_ms()
            row = await tx.query(TABLE, "by_key").eq("key", key).unique()
            tat, wait = step(None if row is None else float(row["tat"]), now, rule)
            if wait:
                return wait / 1000
            if row is not None:
                await tx.patch(TABLE, row["_id"], {"tat": tat})
                return None
            for expired in await tx.query(TABLE, "by_tat").lt("tat", now).take(PRUNE):
                await tx.delete(TABLE, expired["_id"])
            await tx.insert(TABLE, {"key": key, "tat": tat})
            return None

        return (await self.store.mutation(take, key=f"throttle:{key}")).value

    async def give_back(self, key: str, rule: Rule) -> None:
        async def give_back(tx: Transaction) -> None:
            row = await tx.query(TABLE, "by_key").eq("key", key).unique()
            if row is None:
                return
            tat = float(row["tat"]) - rule.interval_ms
            if tat <= now_ms():
                await tx.delete(TABLE, row["_id"])
            else:
                await tx.patch(TABLE, row["_id"], {"tat": tat})

        await self.store.mutation(give_back, key=f"throttle:{key}")


# KEYS[1]: the key. ARGV: interval (ms), window (ms), "take" | "give", EPSILON_MS.
# Returns "" (allowed, or given back) or the ms to wait. Now is Redis's own clock: one
# clock for every process, and calls stamped in the order they run (a client's clock would
# let a call stamped earlier run later, and be refused for the allowance it should have).
# Numbers go out as %.3f strings: Lua's own formatting keeps 14 digits, 0.1 ms at today's
# epoch.
_GCRA_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local new
if ARGV[3] == 'take' then
  new = math.max(tat, now) + interval
  local over = new - now - window
  if over > tonumber(ARGV[4]) then
    return string.format('%.3f', over)
  end
else
  new = tat - interval
  if new <= now then
    redis.call('DEL', KEYS[1])
    return ''
  end
end
redis.call('SET', KEYS[1], string.format('%.3f', new))
redis.call('PEXPIRE', KEYS[1], math.ceil(new - now))
return ''
"""


class RedisLimiter(Limiter):
    """Each key a Redis string holding its TAT, expiring when the TAT passes. A failing
    Redis hands the call to `fallback` (the store), so a sign-in is counted somewhere."""

    def __init__(self, client: Redis, fallback: Limiter) -> None:
        self.client = client
        self.fallback = fallback
        self._script = client.register_script(_GCRA_LUA)

    async def _run(self, key: str, rule: Rule, mode: str) -> float:
        answer = await self._script(
            keys=[REDIS_PREFIX + key],
            args=[rule.interval_ms, rule.window_ms, mode, EPSILON_MS],
        )
        text = answer.decode() if isinstance(answer, bytes) else str(answer)
        return float(text) if text else 0.0

    async def take(self, key: str, rule: Rule) -> float | None:
        try:
            wait = await self._run(key, rule, "take")
        except (RedisError, OSError) as exc:
            log.warning("throttle_redis_failed", error=str(exc), fallback="store")
            return await self.fallback.take(key, rule)
        return wait / 1000 if wait else None

    async def give_back(self, key: str, rule: Rule) -> None:
        try:
            await self._run(key, rule, "give")
        except (RedisError, OSError) as exc:
            log.warning("throttle_redis_failed", error=str(exc), fallback="store")
            await self.fallback.give_back(key, rule)
