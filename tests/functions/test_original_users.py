"""The original app's `auth:*` and `users:*` calls, argument for argument: the caller is
always the verified identity, a deleted account is gone with its data and sign-ins, and
the admin functions answer to the admin role (granted as `advisor-chat users admin`
grants it), never to a plan."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from advisor_chat.auth.accounts import Accounts
from advisor_chat.auth.identities import tombstone_of
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.cli.roles import set_admin
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions import account, users
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.plans import limits_from
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.calls import call, refusal
from tests.functions.world import ALICE, BOB, World, snapshot

SECRET = b"s" * 40


async def _rows(store: Store, table: str) -> list[dict[str, Any]]:
    return (await store.query(lambda tx: tx.query(table).collect())).value


# --- auth:* ---------------------------------------------------------------------------------


async def test_current_user_info_is_null_signed_out_and_before_the_sync(runner: Runner) -> None:
    assert await call(runner, "auth:getCurrentUserInfo", {}, None) is None
    assert await call(runner, "auth:getCurrentUserInfo", {}, ALICE) is None
    synced = await call(runner, "auth:syncUserFromClerk", {}, ALICE)
    assert synced["clerkId"] == ALICE.subject
    assert synced["email"] == ALICE.email
    assert synced["plan"] == "free"
    assert await call(runner, "auth:getCurrentUserInfo", {}, ALICE) == synced
    again = await call(runner, "auth:syncUserFromClerk", {}, ALICE)
    assert again == synced  # nothing changed in the token: the row as it was
    ensured = await call(runner, "auth:ensureUserExists", {}, ALICE)
    assert ensured == {"success": True, "userId": synced["_id"]}
    assert await call(runner, "auth:ensureUserExists", {}, BOB) != ensured
    assert await call(runner, "auth:getCurrentUserInfo", {}, BOB) is not None


async def test_update_current_user_profile_answers_the_id_and_checks_as_ours(
    runner: Runner, world: World
) -> None:
    answer = await call(
        runner,
        "auth:updateCurrentUserProfile",
        {"name": "Alice R.", "image": "https://img.example.test/a.png"},
        ALICE,
    )
    assert answer == world.alice
    me = await call(runner, "auth:getCurrentUserInfo", {}, ALICE)
    assert (me["name"], me["image"]) == ("Alice R.", "https://img.example.test/a.png")
    refused = await refusal(
        runner, "auth:updateCurrentUserProfile", {"image": "javascript:alert(1)"}, ALICE
    )
    assert (refused.code, refused.data["field"]) == (Code.INVALID_ARGUMENT, "image")
    assert (await call(runner, "users:current", {}, BOB))["name"] == "Bob"


async def test_has_user_plan_is_false_signed_out_and_says_the_callers_plan(
    runner: Runner, world: World
) -> None:
    assert await call(runner, "auth:hasUserPlan", {"plan": "free"}, None) is False
    assert await call(runner, "auth:hasUserPlan", {"plan": "free"}, ALICE) is True
    assert await call(runner, "auth:hasUserPlan", {"plan": "pro"}, ALICE) is False
    stranger = dataclasses.replace(ALICE, subject="user_never_stored")
    assert await call(runner, "auth:hasUserPlan", {"plan": "free"}, stranger) is False


async def test_stats_count_the_callers_conversations_and_messages(
    runner: Runner, world: World
) -> None:
    first = await call(runner, "auth:getCurrentUserStats", {}, ALICE)
    me = await call(runner, "users:current", {}, ALICE)
    # Her "Hello" and the advisor's answer: every message of her conversations counts.
    assert first == {
        "conversationCount": 1,
        "messageCount": 2,
        "plan": "free",
        "memberSince": me["createdAt"],
        "capped": False,
    }
    other = await call(
        runner, "conversations:createConversation", {"title": "Hiring", "advisorIds": []}, ALICE
    )
    for text in ("one", "two"):
        await runner.call("messages:sendMessage", {"conversationId": other, "content": text}, ALICE)
    later = await call(runner, "auth:getCurrentUserStats", {}, ALICE)
    assert (later["conversationCount"], later["messageCount"]) == (2, 4)
    bobs = await call(runner, "auth:getCurrentUserStats", {}, BOB)
    assert (bobs["conversationCount"], bobs["messageCount"], bobs["capped"]) == (0, 0, False)


async def test_stats_stop_at_their_caps_and_say_so(
    runner: Runner, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = await call(
        runner, "conversations:createConversation", {"title": "Newer", "advisorIds": []}, ALICE
    )
    await runner.call("messages:sendMessage", {"conversationId": newer, "content": "a"}, ALICE)
    monkeypatch.setattr(account, "STATS_CONVERSATIONS", 1)  # the most recently active only
    stats = await call(runner, "auth:getCurrentUserStats", {}, ALICE)
    assert (stats["conversationCount"], stats["messageCount"], stats["capped"]) == (2, 1, True)
    monkeypatch.setattr(account, "STATS_CONVERSATIONS", 100)
    monkeypatch.setattr(account, "STATS_CAP", 2)
    stats = await call(runner, "auth:getCurrentUserStats", {}, ALICE)
    assert (stats["conversationCount"], stats["messageCount"], stats["capped"]) == (2, 2, True)


async def test_delete_current_user_takes_their_data_and_keeps_them_deleted(
    store: Store, runner: Runner, world: World
) -> None:
    bob_before = await call(runner, "users:current", {}, BOB)
    assert await call(runner, "auth:deleteCurrentUser", {}, ALICE) == {"success": True}
    assert await call(runner, "auth:getCurrentUserInfo", {}, ALICE) is None
    assert await _rows(store, "conversations") == []
    assert await _rows(store, "messages") == []
    assert await _rows(store, "advisorMemories") == []
    assert await store.query(lambda tx: tombstone_of(tx, ALICE.subject)) is not None
    # Her token from before the deletion cannot bring the account back.
    refused = await refusal(runner, "auth:syncUserFromClerk", {}, ALICE)
    assert refused.code is Code.UNAUTHENTICATED
    assert "deleted" in refused.message
    assert await call(runner, "users:current", {}, BOB) == bob_before


async def test_deleting_a_local_account_ends_its_sign_ins(store: Store, runner: Runner) -> None:
    accounts = Accounts(store, LocalTokens(SECRET))
    tokens = await accounts.create("local@example.test", "password-123")
    other = await accounts.sign_in("local@example.test", "password-123")
    me = LocalTokens(SECRET).verify(tokens.access_token)
    elsewhere = LocalTokens(SECRET).verify(other.access_token)
    assert (await call(runner, "auth:getCurrentUserInfo", {}, me))["_id"] == tokens.user_id
    assert await call(runner, "auth:deleteCurrentUser", {}, me) == {"success": True}
    for identity in (me, elsewhere):
        ended = await refusal(runner, "auth:getCurrentUserInfo", {}, identity)
        assert ended.code is Code.UNAUTHENTICATED
    with pytest.raises(FunctionError):
        await accounts.refresh(other.refresh_token)
    with pytest.raises(FunctionError):
        await accounts.sign_in("local@example.test", "password-123")
    assert await _rows(store, "accounts") == []
    assert await _rows(store, "users") == []


@pytest.mark.parametrize(
    ("path", "instead"),
    [
        ("auth:updateCurrentUserPlan", "users:updateUserPlan"),
        ("users:create", "advisor-chat import"),
        ("users:list", "advisor-chat import"),
    ],
)
async def test_retired_paths_say_why_and_change_nothing(
    store: Store, runner: Runner, world: World, path: str, instead: str
) -> None:
    before = await snapshot(store)
    refused = await refusal(runner, path, {"plan": "enterprise"}, ALICE)
    assert refused.code is Code.NOT_FOUND
    assert refused.data["retired"] is True
    assert instead in refused.message
    assert await snapshot(store) == before


# --- users:* --------------------------------------------------------------------------------


async def test_get_or_create_user_with_the_originals_arguments(
    store: Store, runner: Runner
) -> None:
    original = {
        "clerkId": ALICE.subject,
        "email": "Alice@Example.test",
        "name": "Alice Reyes",
        "image": "https://img.example.test/alice.png",
    }
    user_id = await call(runner, "users:getOrCreateUser", original, ALICE)
    me = await call(runner, "users:current", {}, ALICE)
    assert me["_id"] == user_id
    assert (me["name"], me["image"], me["email"]) == (
        "Alice Reyes",
        "https://img.example.test/alice.png",
        ALICE.email,
    )
    assert await call(runner, "users:getOrCreateUser", {"clerkId": ALICE.subject}, ALICE) == user_id
    before = await snapshot(store)
    for field, value in (("clerkId", BOB.subject), ("email", "mallory@example.test")):
        refused = await refusal(runner, "users:getOrCreateUser", {**original, field: value}, ALICE)
        assert (refused.code, refused.data["field"]) == (Code.INVALID_ARGUMENT, field)
    # Bob naming Alice's clerkId neither reads nor writes her row, nor creates his own.
    refused = await refusal(runner, "users:getOrCreateUser", original, BOB)
    assert (refused.code, refused.data["field"]) == (Code.INVALID_ARGUMENT, "clerkId")
    assert await snapshot(store) == before


async def test_get_user_by_id_reads_only_the_callers_own(
    store: Store, runner: Runner, world: World
) -> None:
    mine = await call(runner, "users:getUserById", {"userId": world.alice}, ALICE)
    assert mine["clerkId"] == ALICE.subject
    assert await call(runner, "users:getUserById", {"userId": world.alice}, BOB) is None
    await call(runner, "auth:deleteCurrentUser", {}, BOB)
    bob_again = dataclasses.replace(BOB, subject="user_bob_2")
    await call(runner, "users:store", {}, bob_again)
    assert await call(runner, "users:getUserById", {"userId": world.alice}, bob_again) is None
    # An administrator looks anyone up, by id or by Clerk id (the original's admin lookups).
    await _grant(store, "bob@example.test")
    theirs = await call(runner, "users:getUserById", {"userId": world.alice}, bob_again)
    assert theirs == mine
    by_clerk = await call(runner, "users:getUserByClerkId", {"clerkId": ALICE.subject}, bob_again)
    assert by_clerk == mine


async def _grant(store: Store, email: str, admin: bool = True) -> None:
    await set_admin(store, email, admin)


async def test_admin_lists_users_as_an_array_or_a_page(
    store: Store, runner: Runner, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _grant(store, "alice@example.test")
    everyone = await call(runner, "users:getAllUsers", {}, ALICE)
    assert [u["clerkId"] for u in everyone] == [ALICE.subject, BOB.subject]
    page = await call(
        runner, "users:getAllUsers", {"paginationOpts": {"numItems": 1, "cursor": None}}, ALICE
    )
    assert [u["clerkId"] for u in page["page"]] == [ALICE.subject]
    assert page["isDone"] is False
    rest = await call(
        runner,
        "users:getAllUsers",
        {"paginationOpts": {"numItems": 10, "cursor": page["continueCursor"]}},
        ALICE,
    )
    assert ([u["clerkId"] for u in rest["page"]], rest["isDone"]) == ([BOB.subject], True)
    monkeypatch.setattr(users, "ALL_USERS_CAP", 1)
    assert len(await call(runner, "users:getAllUsers", {}, ALICE)) == 1


async def test_admin_sets_another_users_plan_from_the_configured_plans(
    store: Store, world: World
) -> None:
    runner = Runner(store, build_registry(), limits_from({"team": {"messagesPerMinute": 40}}))
    await _grant(store, "alice@example.test")
    bob = await call(runner, "users:current", {}, BOB)
    for plan in ("pro", "team"):
        assert (
            await call(runner, "users:updateUserPlan", {"userId": bob["_id"], "plan": plan}, ALICE)
            is None
        )
        assert await call(runner, "auth:hasUserPlan", {"plan": plan}, BOB) is True
    before = await snapshot(store)
    unknown = await refusal(
        runner, "users:updateUserPlan", {"userId": bob["_id"], "plan": "platinum"}, ALICE
    )
    assert (unknown.code, unknown.data["field"]) == (Code.INVALID_ARGUMENT, "plan")
    assert "team" in unknown.message
    own = await refusal(
        runner, "users:updateUserPlan", {"userId": world.alice, "plan": "enterprise"}, ALICE
    )
    assert (own.code, own.data["field"]) == (Code.INVALID_ARGUMENT, "userId")
    assert await snapshot(store) == before


async def test_update_user_profile_with_a_user_id_is_for_admins_or_oneself(
    store: Store, runner: Runner, world: World
) -> None:
    bob = await call(runner, "users:current", {}, BOB)
    own = await call(
        runner, "users:updateUserProfile", {"userId": world.alice, "name": "Me"}, ALICE
    )
    assert own["name"] == "Me"
    before = await snapshot(store)
    refused = await refusal(
        runner, "users:updateUserProfile", {"userId": bob["_id"], "name": "Mallory"}, ALICE
    )
    assert refused.code is Code.FORBIDDEN
    assert await snapshot(store) == before
    await _grant(store, "alice@example.test")
    renamed = await call(
        runner, "users:updateUserProfile", {"userId": bob["_id"], "name": "Robert"}, ALICE
    )
    assert (renamed["_id"], renamed["name"]) == (bob["_id"], "Robert")
    bad = await refusal(
        runner, "users:updateUserProfile", {"userId": bob["_id"], "image": "ftp://x.test/a"}, ALICE
    )
    assert (bad.code, bad.data["field"]) == (Code.INVALID_ARGUMENT, "image")


async def test_admin_deletes_a_user_as_their_own_deletion_does(
    store: Store, runner: Runner, world: World
) -> None:
    await _grant(store, "bob@example.test")
    assert await call(runner, "users:deleteUser", {"userId": world.alice}, BOB) is None
    assert await _rows(store, "conversations") == []
    assert await _rows(store, "messages") == []
    assert [u["clerkId"] for u in await _rows(store, "users")] == [BOB.subject]
    refused = await refusal(runner, "auth:syncUserFromClerk", {}, ALICE)
    assert refused.code is Code.UNAUTHENTICATED
    gone = await refusal(runner, "users:deleteUser", {"userId": world.alice}, BOB)
    assert gone.code is Code.NOT_FOUND


async def test_a_revoked_admin_is_refused_again(store: Store, runner: Runner, world: World) -> None:
    await _grant(store, "alice@example.test")
    assert len(await call(runner, "users:getAllUsers", {}, ALICE)) == 2
    await _grant(store, "alice@example.test", admin=False)
    refused = await refusal(runner, "users:getAllUsers", {}, ALICE)
    assert refused.code is Code.FORBIDDEN
    assert "role" not in await call(runner, "users:current", {}, ALICE)


async def test_no_function_grants_the_role(store: Store, runner: Runner, world: World) -> None:
    """What the original let a client write about a user never reaches `role`."""
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("users:updateUserProfile", {"role": "admin"}),
        ("auth:updateCurrentUserProfile", {"role": "admin"}),
        ("users:getOrCreateUser", {"role": "admin"}),
    ]
    for path, args in attempts:
        refused = await refusal(runner, path, args, ALICE)
        assert refused.code is Code.INVALID_ARGUMENT

    async def roles(tx: Transaction) -> list[Any]:
        return [u.get("role") for u in await tx.query("users").collect()]

    assert (await store.query(roles)).value == [None, None]
