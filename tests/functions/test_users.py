"""users: a caller stores, reads and edits only their own row."""

from __future__ import annotations

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store

ALICE = Identity("user_alice", "https://issuer.test", email="alice@example.test", name="Alice")
BOB = Identity("user_bob", "https://issuer.test", email="bob@example.test")


async def test_store_creates_then_refreshes_the_callers_row(runner: Runner) -> None:
    first = (await runner.call("users:store", {}, ALICE)).value
    again = (await runner.call("users:getOrCreateUser", {}, ALICE)).value
    assert first == again
    me = (await runner.call("users:current", {}, ALICE)).value
    assert me["clerkId"] == "user_alice"
    assert me["email"] == "alice@example.test"
    assert me["plan"] == "free"
    renamed = Identity("user_alice", "https://issuer.test", email="alice@example.test", name="Al")
    await runner.call("users:store", {}, renamed)
    assert (await runner.call("users:current", {}, ALICE)).value["name"] == "Al"


async def test_another_users_row_reads_as_missing(runner: Runner) -> None:
    await runner.call("users:store", {}, ALICE)
    await runner.call("users:store", {}, BOB)
    own = (await runner.call("users:getUserByClerkId", {"clerkId": "user_alice"}, ALICE)).value
    assert own["clerkId"] == "user_alice"
    other = (await runner.call("users:getUserByClerkId", {"clerkId": "user_alice"}, BOB)).value
    absent = (await runner.call("users:getUserByClerkId", {"clerkId": "nobody"}, BOB)).value
    assert other is None
    assert absent is None


async def test_update_profile_changes_only_the_callers_row(runner: Runner) -> None:
    await runner.call("users:store", {}, ALICE)
    await runner.call("users:store", {}, BOB)
    updated = (await runner.call("users:updateUserProfile", {"name": "Alice R."}, ALICE)).value
    assert updated["name"] == "Alice R."
    bob = (await runner.call("users:current", {}, BOB)).value
    assert "name" not in bob


@pytest.mark.parametrize(
    ("path", "args"),
    [
        ("users:current", {}),
        ("users:store", {}),
        ("users:getUserByClerkId", {"clerkId": "user_alice"}),
        ("users:updateUserProfile", {"name": "x"}),
    ],
)
async def test_unauthenticated_calls_are_refused_and_write_nothing(
    runner: Runner, store: Store, path: str, args: dict[str, str]
) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call(path, args, None)
    assert caught.value.code is Code.UNAUTHENTICATED
    users = await store.query(lambda tx: tx.query("users").collect())
    assert users.value == []


async def test_profile_limits(runner: Runner) -> None:
    await runner.call("users:store", {}, ALICE)
    with pytest.raises(FunctionError) as caught:
        await runner.call("users:updateUserProfile", {"name": "x" * 201}, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert caught.value.data["field"] == "name"
