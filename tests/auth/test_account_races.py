"""Local accounts under concurrency, raced for real on each backend.

scrypt runs on worker threads, so a sign-in and a password change interleave for real: each
round starts one a little later than the other, the offsets spread over the time a password
change takes, so every interleaving comes up (before, inside and after the other's window
between reading the account and writing). After both finish, the invariants a user would
notice must hold: nothing obtained with the old password still works, and of two changes
made with the same old password exactly one took effect, and a refresh token presented
twice at once leaves its sign-in one unspent session.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest

from advisor_chat.auth.accounts import Accounts, Tokens
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.errors import Code, FunctionError
from advisor_chat.store import Store
from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from tests.auth.spends import spends_pass_the_grace_window
from tests.store.documents import documents
from tests.twins import twin

T = TypeVar("T")
ROUNDS = 16  # per test and backend; about a third of the offsets land in the racy window
OLD = "old-password"
NEW = "new-password"


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, LocalTokens(b"s" * 40))


@pytest.fixture
async def elsewhere(backend: Backend, store: Store) -> AsyncIterator[Accounts]:
    """Accounts of another server process: its own Store on the same database (opened
    after `store` migrated it)."""
    async with Store(twin(backend, pool_size=2)) as opened:
        yield Accounts(opened, LocalTokens(b"s" * 40))


class Pace:
    """Start offsets for the rounds, spread over 1.5 times the duration of the latest
    password change (verify, hash, write), as measured under the load the test itself
    makes: so they straddle the change's write however busy the machine is."""

    def __init__(self) -> None:
        self.change_s = 0.0

    def offset(self, n: int) -> float:
        return 1.5 * self.change_s * n / ROUNDS

    async def change(self, call: Awaitable[None]) -> None:
        start = time.perf_counter()
        try:
            await call
        finally:
            self.change_s = time.perf_counter() - start


async def _after(delay_s: float, call: Awaitable[T]) -> T:
    await asyncio.sleep(delay_s)  # an offset to provoke an interleaving, not a wait
    return await call


async def _refused(call: Awaitable[object], code: Code = Code.UNAUTHENTICATED) -> FunctionError:
    with pytest.raises(FunctionError) as refused:
        await call
    assert refused.value.code is code
    return refused.value


async def test_a_sign_in_racing_a_password_change_keeps_no_session(accounts: Accounts) -> None:
    """A change verifies, hashes, then writes (two hash times); a sign-in starting less than
    one hash time before the write verified the old hash but issues after the write."""
    pace = Pace()
    seen: Counter[str] = Counter()
    for n in range(ROUNDS):
        email = f"sign-in-{n}@example.test"
        me = accounts.tokens.verify((await accounts.create(email, OLD)).access_token)
        signed_in, changed = await asyncio.gather(
            _after(pace.offset(n), accounts.sign_in(email, OLD)),
            pace.change(accounts.change_password(me, OLD, NEW)),
            return_exceptions=True,
        )
        assert changed is None
        if isinstance(signed_in, Tokens):
            seen["signed in"] += 1
            await _refused(accounts.refresh(signed_in.refresh_token))
        else:
            assert isinstance(signed_in, FunctionError), signed_in
            assert signed_in.code is Code.UNAUTHENTICATED
            seen["refused"] += 1
        await asyncio.gather(_refused(accounts.sign_in(email, OLD)), accounts.sign_in(email, NEW))
    assert set(seen) == {"signed in", "refused"}, seen  # the offsets straddled the change


async def test_of_two_changes_from_the_same_password_exactly_one_wins(
    accounts: Accounts,
) -> None:
    pace = Pace()
    seen: Counter[Code] = Counter()
    for n in range(ROUNDS):
        email = f"two-changes-{n}@example.test"
        me = accounts.tokens.verify((await accounts.create(email, OLD)).access_token)
        results = await asyncio.gather(
            pace.change(accounts.change_password(me, OLD, "first-new")),
            _after(pace.offset(n), accounts.change_password(me, OLD, "second-new")),
            return_exceptions=True,
        )
        outcomes = dict(zip(("first-new", "second-new"), results, strict=True))
        winners = [password for password, result in outcomes.items() if result is None]
        assert len(winners) == 1, outcomes
        (loser,) = {"first-new", "second-new"} - set(winners)
        refusal = outcomes[loser]
        assert isinstance(refusal, FunctionError), refusal
        if refusal.code is Code.CONFLICT:  # both checked the old password before either wrote
            assert refusal.data == {"field": "oldPassword"}
        else:  # the winner's change had already ended the sign-in both were made in
            assert refusal.code is Code.UNAUTHENTICATED
            assert refusal.message == "signed out: the password was changed; sign in again"
        seen[refusal.code] += 1
        await asyncio.gather(
            accounts.sign_in(email, winners[0]),
            _refused(accounts.sign_in(email, loser)),
            _refused(accounts.sign_in(email, OLD)),
        )
    # Both verified the old password before either wrote, in some rounds at least.
    assert seen[Code.CONFLICT], seen


async def test_a_refresh_racing_a_password_change_keeps_no_session(accounts: Accounts) -> None:
    pace = Pace()
    seen: Counter[str] = Counter()
    for n in range(ROUNDS):
        email = f"refresh-{n}@example.test"
        created = await accounts.create(email, OLD)
        me = accounts.tokens.verify(created.access_token)
        refreshed, changed = await asyncio.gather(
            _after(pace.offset(n), accounts.refresh(created.refresh_token)),
            pace.change(accounts.change_password(me, OLD, NEW)),
            return_exceptions=True,
        )
        assert changed is None
        if isinstance(refreshed, Tokens):
            seen["refreshed"] += 1
            await _refused(accounts.refresh(refreshed.refresh_token))
        else:
            assert isinstance(refreshed, FunctionError), refreshed
            assert refreshed.code is Code.UNAUTHENTICATED
            seen["refused"] += 1
        await _refused(accounts.refresh(created.refresh_token))
    assert set(seen) == {"refreshed", "refused"}, seen


async def test_a_sign_out_racing_a_refresh_of_the_same_token_ends_the_session(
    accounts: Accounts,
) -> None:
    """Two tabs sharing a refresh token: one refreshes while the other signs out. Whichever
    commits first, the user is signed out: the refreshed token, if any, is refused."""
    created = await accounts.create("sign-out@example.test", OLD)
    seen: Counter[str] = Counter()
    for n in range(ROUNDS):
        token = (await accounts.sign_in("sign-out@example.test", OLD)).refresh_token
        lead_s = (n - ROUNDS / 2) * 0.0005  # > 0: the sign-out starts later
        refreshed, signed_out = await asyncio.gather(
            _after(max(-lead_s, 0), accounts.refresh(token)),
            _after(max(lead_s, 0), accounts.sign_out(token)),
            return_exceptions=True,
        )
        assert signed_out is None
        if isinstance(refreshed, Tokens):
            seen["refreshed first"] += 1
            await _refused(accounts.refresh(refreshed.refresh_token))
        else:
            assert isinstance(refreshed, FunctionError), refreshed
            assert refreshed.code is Code.UNAUTHENTICATED
            seen["signed out first"] += 1
        await _refused(accounts.refresh(token))
    assert set(seen) == {"refreshed first", "signed out first"}, seen
    await accounts.refresh(created.refresh_token)  # another sign-in's session lives on


async def test_a_refresh_token_presented_twice_at_once_leaves_one_unspent_session(
    accounts: Accounts, elsewhere: Accounts, store: Store, backend: Backend
) -> None:
    """Two tabs, or a request and its retry, refresh with the same token at the same moment,
    through two server processes: both are answered (the later within the grace window),
    and the sign-in keeps one unspent session, the later answer's, whose chain goes on."""
    seen: Counter[str] = Counter()
    retries = store.stats.retries + elsewhere.store.stats.retries
    for n in range(ROUNDS):
        created = await accounts.create(f"twice-{n}@example.test", OLD)
        lead_s = (n - ROUNDS / 2) * 0.0005  # > 0: the second process starts later
        here, there = await asyncio.gather(
            _after(max(-lead_s, 0), accounts.refresh(created.refresh_token)),
            _after(max(lead_s, 0), elsewhere.refresh(created.refresh_token)),
        )
        sign_in = accounts.tokens.verify(created.access_token).sign_in
        sessions = [s for s in await documents(store, "sessions") if s["signInId"] == sign_in]
        [unspent] = [s for s in sessions if "revokedAt" not in s]
        kept = {hashlib.sha256(t.refresh_token.encode()).hexdigest(): t for t in (here, there)}
        newest = kept.pop(unspent["refreshHash"])
        [spent] = kept.values()
        seen["here last" if newest is here else "there last"] += 1
        await spends_pass_the_grace_window(store)
        onward = await accounts.refresh(newest.refresh_token)  # the chain goes on
        await _refused(elsewhere.refresh(spent.refresh_token))  # reuse: the sign-in ends
        await _refused(accounts.refresh(onward.refresh_token))
    assert set(seen) == {"here last", "there last"}, seen
    # The two transactions overlapped for real in some rounds: the database refused one.
    if isinstance(backend, PostgresBackend):  # SQLite's writers wait for its lock instead
        # The two transactions overlapped for real: the database refused one, which ran
        # again and took the grace (a dozen rounds in sixteen, here).
        assert store.stats.retries + elsewhere.store.stats.retries > retries
