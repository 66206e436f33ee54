"""Sessions that end, on each backend: a call made with one of our access tokens runs only
while the token's sign-in holds. A sign-out, a password change, a reuse of a spent refresh
token (after the grace window that forgives a client's own second presentation) and the
user's deletion end the access tokens they concern at the next call, whatever
its kind; a refresh does not end its own sign-in's earlier access token. The calls are made
through a second Store on the same database, which sees none of the first one's in-process
commits, as another server process would not. (Over HTTP against real server processes:
tests/api/test_sessions.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import jwt
import pytest
from structlog.testing import capture_logs

from advisor_chat.auth.accounts import Accounts, Tokens
from advisor_chat.auth.identities import delete_user
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.auth.verifier import TokenVerifier
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import ActionCtx, Identity, MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, Registry, action, mutation, query
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.users import FUNCTIONS as USER_FUNCTIONS
from advisor_chat.store import Document, Store, Transaction
from advisor_chat.store.backend import Backend
from advisor_chat.store.cascade import CASCADE_FUNCTION, INLINE_ROWS
from tests.auth.spends import spends_pass_the_grace_window
from tests.store.documents import advisor, documents
from tests.twins import twin

PASSWORD = "old-password"
TOKENS = LocalTokens(b"s" * 40)


@query("probe:read", {})
async def read(ctx: QueryCtx, args: Args) -> str:
    return "read"


@mutation("probe:write", {})
async def write(ctx: MutationCtx, args: Args) -> str:
    return "written"


@action("probe:act", {})
async def act(ctx: ActionCtx, args: Args) -> str:
    return "acted"


@dataclass
class Elsewhere:
    """Another server process: its own Store on the same database, verifying tokens and
    calling functions as a request does."""

    verifier: TokenVerifier
    runner: Runner

    async def call(self, token: str, path: str = "users:current") -> Identity:
        identity = await self.verifier.verify(token)
        await self.runner.call(path, {}, identity)
        return identity


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, TOKENS)


@pytest.fixture
async def elsewhere(backend: Backend, store: Store) -> AsyncIterator[Elsewhere]:
    """Opened after `store` migrated the database."""
    async with Store(twin(backend, pool_size=2)) as opened:
        registry = Registry([*USER_FUNCTIONS, read, write, act])
        yield Elsewhere(TokenVerifier(TOKENS), Runner(opened, registry))


async def _holds(elsewhere: Elsewhere, tokens: Tokens) -> Identity:
    return await elsewhere.call(tokens.access_token)


async def _ended(
    elsewhere: Elsewhere, tokens: Tokens, reason: str, path: str = "users:current"
) -> None:
    with pytest.raises(FunctionError) as refused:
        await elsewhere.call(tokens.access_token, path)
    assert refused.value.code is Code.UNAUTHENTICATED
    assert refused.value.message == f"signed out: {reason}; sign in again"


async def test_a_sign_out_ends_that_sign_ins_access_tokens_at_once(
    accounts: Accounts, elsewhere: Elsewhere
) -> None:
    first = await accounts.create("out@example.test", PASSWORD)
    other = await accounts.sign_in("out@example.test", PASSWORD)
    renewed = await accounts.refresh(first.refresh_token)
    for tokens in (first, renewed, other):  # a refresh leaves the earlier token good
        await _holds(elsewhere, tokens)
    await accounts.sign_out(first.refresh_token)  # the spent token still finds its sign-in
    for path in ("users:current", "probe:read", "probe:write", "probe:act"):  # every kind
        await _ended(elsewhere, first, "this sign-in has ended", path)
        await _ended(elsewhere, renewed, "this sign-in has ended", path)
    await _holds(elsewhere, other)  # another device's sign-in lives on


async def test_a_password_change_ends_every_sign_in_of_the_account(
    accounts: Accounts, elsewhere: Elsewhere
) -> None:
    first = await accounts.create("change@example.test", PASSWORD)
    other = await accounts.sign_in("change@example.test", PASSWORD)
    script = await accounts.token_for("change@example.test")  # the CLI's, a sign-in too
    await elsewhere.call(script)
    me = await _holds(elsewhere, first)
    await accounts.change_password(me, PASSWORD, "new-password")
    await _ended(elsewhere, first, "the password was changed")
    await _ended(elsewhere, other, "the password was changed")
    with pytest.raises(FunctionError, match="the password was changed"):
        await elsewhere.call(script)
    with pytest.raises(FunctionError, match="signed out: the password was changed"):
        await accounts.change_password(me, "new-password", "newer-password")  # ended too
    await _holds(elsewhere, await accounts.sign_in("change@example.test", "new-password"))


async def test_reusing_a_spent_refresh_token_after_the_grace_window_ends_the_whole_sign_in(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    first = await accounts.create("reuse@example.test", PASSWORD)
    other = await accounts.sign_in("reuse@example.test", PASSWORD)
    successor = await accounts.refresh(first.refresh_token)
    await spends_pass_the_grace_window(store)
    with pytest.raises(FunctionError) as refused:  # a stolen copy, or the thief's first use
        await accounts.refresh(first.refresh_token)
    assert refused.value.code is Code.UNAUTHENTICATED
    assert "already used" in refused.value.message
    with pytest.raises(FunctionError):  # the successor is ended too, refresh and access
        await accounts.refresh(successor.refresh_token)
    await _ended(elsewhere, successor, "this sign-in has ended")
    await _ended(elsewhere, first, "this sign-in has ended")
    await _holds(elsewhere, other)
    await accounts.refresh(other.refresh_token)
    unspent = [s for s in await documents(store, "sessions") if "revokedAt" not in s]
    assert len(unspent) == 1  # other's new one: the reused sign-in kept none


async def _unspent(store: Store, tokens: Tokens) -> list[Document]:
    """The unspent sessions of the sign-in `tokens` belong to."""
    sign_in = TOKENS.verify(tokens.access_token).sign_in
    sessions = await documents(store, "sessions")
    return [s for s in sessions if s["signInId"] == sign_in and "revokedAt" not in s]


async def _refused(accounts: Accounts, refresh_token: str) -> None:
    with pytest.raises(FunctionError) as refused:
        await accounts.refresh(refresh_token)
    assert refused.value.code is Code.UNAUTHENTICATED
    assert "already used or signed out" in refused.value.message


async def test_a_token_presented_again_within_the_grace_window_rotates_and_the_sign_in_holds(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    """A reload or a second tab sends the token a refresh just spent: it is answered fresh
    tokens, every access token of the sign-in keeps working, the chain goes on from the
    newest answer, and the sign-in still has a single unspent session."""
    first = await accounts.create("grace@example.test", PASSWORD)
    successor = await accounts.refresh(first.refresh_token)
    with capture_logs() as logs:
        again = await accounts.refresh(first.refresh_token)  # within the window
    assert again.refresh_token != successor.refresh_token
    sign_in = TOKENS.verify(first.access_token).sign_in
    [graced] = [e for e in logs if e["event"] == "refresh_token_reused_within_grace"]
    assert graced["sign_in"] == sign_in  # for an operator: whose token came twice
    assert again.user_id == first.user_id
    for tokens in (first, successor, again):
        await _holds(elsewhere, tokens)
    [unspent] = await _unspent(store, first)
    third = await accounts.refresh(first.refresh_token)  # a third presentation: likewise
    assert [s["_id"] for s in await _unspent(store, first)] != [unspent["_id"]]
    assert len(await _unspent(store, first)) == 1
    onward = await accounts.refresh(third.refresh_token)  # the chain continues
    onward = await accounts.refresh(onward.refresh_token)
    for tokens in (first, successor, again, third, onward):
        await _holds(elsewhere, tokens)
    assert len(await _unspent(store, first)) == 1


async def test_the_holder_left_with_a_token_the_grace_spent_ends_the_sign_in_after_the_window(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    """Two holders of one token (a thief's copy, say) both rotate within the window; the
    grace spends the first successor, so the one holding it ends the sign-in at its next
    refresh: the two never rotate on apart."""
    first = await accounts.create("two-holders@example.test", PASSWORD)
    other = await accounts.sign_in("two-holders@example.test", PASSWORD)
    successor = await accounts.refresh(first.refresh_token)
    again = await accounts.refresh(first.refresh_token)
    await spends_pass_the_grace_window(store)
    await _refused(accounts, successor.refresh_token)
    await _refused(accounts, again.refresh_token)  # ended with it
    for tokens in (first, successor, again):
        await _ended(elsewhere, tokens, "this sign-in has ended")
    await _holds(elsewhere, other)


@pytest.mark.parametrize("spent_by", ["its own sign-out", "a sign-out after its refresh"])
async def test_a_signed_out_token_gets_no_grace(
    accounts: Accounts, elsewhere: Elsewhere, store: Store, spent_by: str
) -> None:
    first = await accounts.create("out-grace@example.test", PASSWORD)
    if spent_by == "its own sign-out":
        await accounts.sign_out(first.refresh_token)
    else:
        successor = await accounts.refresh(first.refresh_token)
        await accounts.sign_out(successor.refresh_token)
    await _refused(accounts, first.refresh_token)  # at once: a sign-out is final
    await _ended(elsewhere, first, "this sign-in has ended")
    assert await _unspent(store, first) == []


async def test_a_token_spent_before_a_password_change_gets_no_grace(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    first = await accounts.create("change-grace@example.test", PASSWORD)
    successor = await accounts.refresh(first.refresh_token)
    me = await _holds(elsewhere, successor)
    await accounts.change_password(me, PASSWORD, "new-password")
    await _refused(accounts, first.refresh_token)
    await _ended(elsewhere, successor, "this sign-in has ended")
    assert await _unspent(store, first) == []


async def test_a_token_spent_by_a_refresh_of_an_expired_sign_in_gets_no_grace(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    first = await accounts.create("expired-grace@example.test", PASSWORD)
    await accounts.refresh(first.refresh_token)

    async def expire(tx: Transaction) -> None:
        for session in await tx.query("sessions").collect():
            if "revokedAt" not in session:
                await tx.patch("sessions", session["_id"], {"expiresAt": now_ms() - 1})

    await store.mutation(expire)
    await _refused(accounts, first.refresh_token)
    await _ended(elsewhere, first, "this sign-in has ended")


@pytest.mark.parametrize("how", ["delete_user", "a plain delete"])
async def test_a_deleted_users_tokens_end(
    accounts: Accounts, elsewhere: Elsewhere, store: Store, how: str
) -> None:
    tokens = await accounts.create("gone@example.test", PASSWORD)
    await _holds(elsewhere, tokens)

    async def delete(tx: Transaction) -> None:
        user = await tx.get("users", tokens.user_id)
        assert user is not None
        if how == "delete_user":
            await delete_user(tx, user)
        else:
            await tx.delete("users", user["_id"])

    await store.mutation(delete)
    await _ended(elsewhere, tokens, "this sign-in has ended")
    with pytest.raises(FunctionError):
        await accounts.refresh(tokens.refresh_token)


async def test_a_user_whose_deletion_is_finished_in_batches_is_signed_out_at_once(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    """A user with more than a transaction's worth of children: the cascade leaves what
    does not fit (here, everything after their INLINE_ROWS selections, the account
    included) to later batches, but `delete_user` takes the account at once."""
    tokens = await accounts.create("many@example.test", PASSWORD)

    async def select_many(tx: Transaction) -> None:
        for _ in range(INLINE_ROWS):
            advisor_id = await tx.insert("advisors", advisor())
            selection = {"userId": tokens.user_id, "advisorId": advisor_id}
            await tx.insert("userAdvisors", selection | {"selectedAt": 0, "source": "custom"})

    await store.mutation(select_many)

    async def delete(tx: Transaction) -> None:
        user = await tx.get("users", tokens.user_id)
        assert user is not None
        await delete_user(tx, user)

    await store.mutation(delete)
    assert await documents(store, "sessions")  # left for the batches
    assert [c["name"] for c in await documents(store, "scheduledFunctions")] == [CASCADE_FUNCTION]
    await _ended(elsewhere, tokens, "the account no longer exists")


async def test_a_token_names_its_sign_in_and_one_of_no_live_sign_in_is_refused(
    accounts: Accounts, elsewhere: Elsewhere
) -> None:
    tokens = await accounts.create("named@example.test", PASSWORD)
    me = await _holds(elsewhere, tokens)
    assert me.sign_in is not None
    assert me.issued_at is not None
    never = TOKENS.issue(Identity(me.subject, me.issuer), "0" * 27)  # a sign-in never made
    await _ended(elsewhere, Tokens(never, "", 0, ""), "this sign-in has ended")
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    del claims["sid"]  # well signed, of no sign-in: as tokens were before sign-ins
    unnamed = jwt.encode(claims, TOKENS.secret, algorithm="HS256")
    with pytest.raises(FunctionError, match="names no sign-in"):
        await elsewhere.call(unnamed)


async def test_a_sign_in_from_before_sessions_named_themselves_refreshes_into_one_that_does(
    accounts: Accounts, elsewhere: Elsewhere, store: Store
) -> None:
    """A first session written before `signInId` named itself: its refresh token still
    works, and the sign-in it continues is checked like any other."""
    tokens = await accounts.create("older@example.test", PASSWORD)

    async def unname(tx: Transaction) -> None:
        (session,) = await tx.query("sessions").collect()
        old = {k: v for k, v in session.items() if k not in ("_id", "_creationTime")}
        del old["signInId"]
        await tx.replace("sessions", session["_id"], old)

    await store.mutation(unname)
    renewed = await accounts.refresh(tokens.refresh_token)
    await _holds(elsewhere, renewed)
    await accounts.sign_out(tokens.refresh_token)
    await _ended(elsewhere, renewed, "this sign-in has ended")
