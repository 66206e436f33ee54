"""Presence decided by the server: a user is online from their first authenticated sync
session on any server process until their last one closes, or until the process holding
it dies.

Each process (a "node", random id per start) counts its sessions per user in memory and
holds a lease on each such user's `userPresence` row (`nodes[node]`: when the hold lapses,
ms; see functions/realtime.py), written when the user's first session here opens and
removed when the last one closes. While it holds any, it renews them every third of the
lease. Any process's sweep, as often, ends the leases that lapsed: a node killed with -9
leaves its users online for at most about a lease and a third, and a node that lost the
database for longer than a lease simply takes its leases again when it is back.

Writes are coalesced: sessions open and close synchronously here, and one background task
(owned by the app's lifespan) writes what changed, in batches, so a burst of reconnects
costs a transaction, and a session that opens and closes between two writes costs none.
Leases are compared with each process's clock, as the scheduler's are: clocks are assumed
to agree within a small part of the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from advisor_chat.auth.identities import user_of
from advisor_chat.clock import now_ms
from advisor_chat.functions.context import Identity
from advisor_chat.functions.realtime import (
    SWEEP_BATCH,
    hold_presence,
    release_presence,
    sweep_presence,
)
from advisor_chat.log import get_logger
from advisor_chat.store import Commit, Store, Transaction

log = get_logger(__name__)

RENEWALS_PER_LEASE = 3  # a lease is renewed (and swept) this often within its length
BATCH = 100  # users written per transaction
RETRY_S = 1.0  # after a failed write (the database away), try again this soon
RELEASE_TIMEOUT_S = 5.0  # at shutdown; past it the leases simply lapse


_Wrote = tuple[str, str | None, bool]  # (token identifier, users row, our lease is on it)


@dataclass(eq=False)
class _Held:
    identity: Identity
    sessions: int = 0  # open here now
    user_id: str | None = None  # its users row, once found (None: not stored yet)
    written: bool = False  # our lease is on its presence row


class Hold:
    """One session's part in its user's presence: `identify` with each identity the session
    takes on (None: signed out), `release` when it ends."""

    def __init__(self, presence: Presence) -> None:
        self._presence = presence
        self._identity: Identity | None = None

    def identify(self, identity: Identity | None) -> None:
        before, after = self._identity, identity
        self._identity = identity
        if (before and before.token_identifier) == (after and after.token_identifier):
            return  # a refreshed token of the same user
        if before is not None:
            self._presence.change(before, -1)
        if after is not None:
            self._presence.change(after, 1)

    def release(self) -> None:
        self.identify(None)


class Presence:
    def __init__(self, store: Store, lease_ms: float, node: str | None = None) -> None:
        self.store = store
        self.lease_ms = lease_ms
        self.node = node or f"n_{secrets.token_hex(8)}"
        self._held: dict[str, _Held] = {}  # by token identifier
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()

    @property
    def online_here(self) -> int:
        """Users with a session open on this process."""
        return sum(1 for held in self._held.values() if held.sessions > 0)

    def hold(self) -> Hold:
        return Hold(self)

    def change(self, identity: Identity, sessions: int) -> None:
        """`sessions` more (or fewer) sessions of `identity`'s user are open here."""
        key = identity.token_identifier
        held = self._held.setdefault(key, _Held(identity))
        held.sessions += sessions
        if held.sessions > 0:
            held.identity = identity
        self._dirty.add(key)
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Until cancelled; then this process's leases are given up (best effort)."""
        every = self.lease_ms / 1000 / RENEWALS_PER_LEASE
        stop_listening = self.store.commits.listen(self._on_commit)
        loop = asyncio.get_running_loop()
        due = loop.time()  # the next renewal and sweep
        try:
            while True:
                self._wake.clear()
                periodic = loop.time() >= due
                if periodic:
                    due = loop.time() + every
                ok = await self.write(renew=periodic)
                if periodic:
                    await self.sweep()
                pause = max(0.0, due - loop.time())
                await _wait(self._wake, pause if ok else min(pause, RETRY_S))
        finally:
            stop_listening()
            with contextlib.suppress(Exception):
                async with asyncio.timeout(RELEASE_TIMEOUT_S):
                    await asyncio.shield(self.release_all())

    def _on_commit(self, commit: Commit) -> None:
        """A new users row may be one a session here waits for (it authenticated before
        its `users:store`): look again now rather than at the next renewal."""
        if not any(w.table == "users" and w.old_keys is None for w in commit.writes):
            return
        waiting = [k for k, h in self._held.items() if h.user_id is None and h.sessions > 0]
        if waiting:
            self._dirty.update(waiting)
            self._wake.set()

    async def write(self, *, renew: bool = False) -> bool:
        """Write what changed since the last write (with `renew`, every lease held here);
        returns False if the database refused, the changes kept for the next try."""
        keys = self._dirty | (set(self._held) if renew else set())
        self._dirty = set()
        ordered = sorted(keys)
        try:
            for start in range(0, len(ordered), BATCH):
                batch = ordered[start : start + BATCH]
                self._wrote((await self.store.mutation(self._writer(batch))).value)
        except Exception:  # the database away: the next try writes them
            log.exception("presence_write_failed", users=len(keys))
            self._dirty |= keys
            return False
        return True

    def _writer(self, keys: list[str]) -> Callable[[Transaction], Awaitable[list[_Wrote]]]:
        return lambda tx: self._write(tx, keys)

    async def _write(self, tx: Transaction, keys: list[str]) -> list[_Wrote]:
        """(key, users row, whether our lease is on it) for each; memory is updated from
        this only once the transaction has committed (it may run again)."""
        until = now_ms() + self.lease_ms
        done: list[_Wrote] = []
        for key in keys:
            held = self._held.get(key)
            if held is None:
                continue
            user_id = held.user_id
            if user_id is None:
                user = await user_of(tx, held.identity.issuer, held.identity.subject)
                user_id = None if user is None else user["_id"]
            if user_id is None:
                done.append((key, None, False))
            elif held.sessions > 0:
                done.append((key, user_id, await hold_presence(tx, user_id, self.node, until)))
            else:
                if held.written:
                    await release_presence(tx, user_id, self.node)
                done.append((key, user_id, False))
        return done

    def _wrote(self, written: list[_Wrote]) -> None:
        for key, user_id, holding in written:
            held = self._held.get(key)
            if held is None:
                continue
            held.user_id, held.written = user_id, holding
            if held.sessions <= 0 and not holding and key not in self._dirty:
                del self._held[key]

    async def sweep(self) -> int:
        """End every lease that lapsed (a dead process's); returns the rows settled."""
        settled = 0
        try:
            while True:
                swept = (await self.store.mutation(lambda tx: sweep_presence(tx, now_ms()))).value
                settled += swept
                if swept < SWEEP_BATCH:
                    return settled
        except Exception:  # the database away: the next sweep does it
            log.exception("presence_sweep_failed")
            return settled

    async def release_all(self) -> None:
        """Give up every lease of this process (it is stopping)."""
        for held in self._held.values():
            held.sessions = 0
        self._dirty |= {k for k, held in self._held.items() if held.written}
        await self.write()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` pass (not `asyncio.wait_for`: see
    functions/scheduled.py `_wait`)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
