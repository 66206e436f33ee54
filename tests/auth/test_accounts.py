"""Local accounts' session rows on each backend: a password change is one small write
however many sessions the account has, and the rows it signs out are pruned a bounded page
at a time by the sessions issued after it. (The endpoints: tests/api/test_accounts.py.)"""

from __future__ import annotations

import math

import pytest

from advisor_chat.auth.accounts import PRUNE_PAGE, Accounts
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.errors import Code, FunctionError
from advisor_chat.store import Store
from tests.store.documents import documents

REFRESHES = 40  # sessions piled up by one device: each refresh adds a row


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, LocalTokens(b"s" * 40))


async def test_a_password_change_is_one_write_and_dead_sessions_are_pruned(
    accounts: Accounts, store: Store
) -> None:
    created = await accounts.create("pile@example.test", "old-password")
    tokens = [created.refresh_token]
    for _ in range(REFRESHES):
        tokens.append((await accounts.refresh(tokens[-1])).refresh_token)
    assert len(await documents(store, "sessions")) == REFRESHES + 1

    before = store.commits.latest_ts
    await accounts.change_password(
        accounts.tokens.verify(created.access_token), "old-password", "new-password"
    )
    (change,) = store.commits.since(before)
    assert [write.table for write in change.writes] == ["accounts"]
    for token in (tokens[0], tokens[-1]):
        with pytest.raises(FunctionError) as refused:
            await accounts.refresh(token)
        assert refused.value.code is Code.UNAUTHENTICATED

    before = store.commits.latest_ts
    issued = math.ceil((REFRESHES + 1) / PRUNE_PAGE)  # enough pages to prune every dead row
    token = (await accounts.sign_in("pile@example.test", "new-password")).refresh_token
    for _ in range(issued - 1):
        token = (await accounts.refresh(token)).refresh_token
    assert all(len(c.writes) <= PRUNE_PAGE + 2 for c in store.commits.since(before))
    left = await documents(store, "sessions")
    assert len(left) == issued  # the new sign-in's own rows, nothing older
    assert {session["epoch"] for session in left} == {1}


async def test_a_sign_up_name_is_bounded_and_plain(accounts: Accounts, store: Store) -> None:
    for name in ("x" * 201, "x" * 500_000, "Ada\nReyes", "Ada\x1b[31m"):
        with pytest.raises(FunctionError) as caught:
            await accounts.create("named@example.test", "a-fine-password", name)
        assert caught.value.code is Code.INVALID_ARGUMENT
        assert caught.value.data["field"] == "name"
    assert await documents(store, "users") == []
    await accounts.create("named@example.test", "a-fine-password", "  Ada Reyes  ")
    [user] = await documents(store, "users")
    assert user["name"] == "Ada Reyes"
