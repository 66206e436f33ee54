"""users: a caller stores, reads and edits only their own row, the one of their (issuer,
subject); a deleted user's earlier tokens do not bring the row back."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from advisor_chat.auth.accounts import Accounts
from advisor_chat.auth.identities import delete_user, tombstone_of, user_of
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.store import Store, Transaction

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
    # An image the web app can show safely: http(s), or a data: image (never SVG, which
    # can carry script, nor javascript: and the like).
    for refused in (
        "javascript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:text/html;base64,PGI+",
        "ftp://example.test/me.png",
        "https://example.test/a b.png",
    ):
        with pytest.raises(FunctionError) as caught:
            await runner.call("users:updateUserProfile", {"image": refused}, ALICE)
        assert caught.value.code is Code.INVALID_ARGUMENT, refused
        assert caught.value.data["field"] == "image"
    for accepted in ("https://img.example.test/me.png", "data:image/png;base64,iVBORw0KGgo="):
        user = (await runner.call("users:updateUserProfile", {"image": accepted}, ALICE)).value
        assert user["image"] == accepted
    with pytest.raises(FunctionError) as caught:
        await runner.call("users:updateUserProfile", {"name": "Ali\u001bce"}, ALICE)
    assert (caught.value.code, caught.value.data["field"]) == (Code.INVALID_ARGUMENT, "name")
    user = (await runner.call("users:updateUserProfile", {"name": "  Alice B.  "}, ALICE)).value
    assert user["name"] == "Alice B."


async def test_profile_text_from_an_issuers_token_is_made_to_fit(
    runner: Runner, store: Store
) -> None:
    """Claims come from elsewhere: kept to what every screen shows safely, never refused
    (which would keep the user from signing in)."""
    claims = dataclasses.replace(
        ALICE,
        name="Ada\nReyes " + "x" * 500,
        email="a" * 400 + "@example.test",
        picture_url="javascript:alert(1)",
    )
    await runner.call("users:store", {}, claims)
    (user,) = await _users(store)
    assert user["name"].startswith("Ada Reyes x")
    assert len(user["name"]) == 200
    assert "email" not in user
    assert "image" not in user


# --- identity is (issuer, subject) -------------------------------------------------------

ELSEWHERE = Identity("user_alice", "https://elsewhere.test", email="mallory@example.test")


async def _users(store: Store) -> list[dict[str, Any]]:
    return (await store.query(lambda tx: tx.query("users").collect())).value


async def test_another_issuers_token_of_the_same_subject_is_not_the_user(
    runner: Runner, store: Store
) -> None:
    await runner.call("users:store", {}, ALICE)
    [row] = await _users(store)
    assert row["tokenIssuer"] == ALICE.issuer
    assert (await runner.call("users:current", {}, ELSEWHERE)).value is None
    by_id = await runner.call("users:getUserByClerkId", {"clerkId": "user_alice"}, ELSEWHERE)
    assert by_id.value is None
    for path, args in (("users:store", {}), ("users:updateUserProfile", {"name": "M"})):
        with pytest.raises(FunctionError) as refused:
            await runner.call(path, args, ELSEWHERE)
        assert refused.value.code is Code.UNAUTHENTICATED
    assert await _users(store) == [row]  # neither taken over nor duplicated


async def test_a_local_accounts_subject_is_out_of_every_other_issuers_reach(
    runner: Runner, store: Store
) -> None:
    tokens = await Accounts(store, LocalTokens(b"s" * 40)).create("l@example.test", "password-1")
    local = LocalTokens(b"s" * 40).verify(tokens.access_token)
    forged = Identity(local.subject, "https://issuer.test")
    assert (await runner.call("users:current", {}, forged)).value is None
    with pytest.raises(FunctionError):
        await runner.call("users:store", {}, forged)
    assert (await runner.call("users:current", {}, local)).value["_id"] == tokens.user_id


async def test_our_issuer_never_stores_a_row_no_sign_up_made(runner: Runner, store: Store) -> None:
    """Local accounts' rows come from sign-up; a token of ours for any other subject (a
    leftover, or a forgery the sign-in check would refuse first) makes none."""
    with pytest.raises(FunctionError) as refused:
        await runner.call("users:store", {}, Identity("local_nobody", LOCAL_ISSUER))
    assert refused.value.code is Code.UNAUTHENTICATED
    assert await _users(store) == []


async def test_a_row_from_before_issuers_is_the_configured_issuers_and_is_claimed(
    runner: Runner, store: Store
) -> None:
    """A row with no tokenIssuer (stored before the field, or imported from the original
    app) belongs to the configured OIDC issuer: its first users:store records it; our
    issuer never reaches it."""
    now = now_ms()
    row = {"clerkId": "user_alice", "plan": "pro", "createdAt": now, "updatedAt": now}
    await store.mutation(lambda tx: tx.insert("users", row))
    ours = Identity("user_alice", LOCAL_ISSUER)
    assert (await runner.call("users:current", {}, ours)).value is None
    assert (await runner.call("users:current", {}, ALICE)).value["plan"] == "pro"
    await runner.call("users:store", {}, ALICE)
    [claimed] = await _users(store)
    assert claimed["tokenIssuer"] == ALICE.issuer
    assert (await runner.call("users:current", {}, ELSEWHERE)).value is None


# --- a deleted user stays deleted ----------------------------------------------------------


async def _delete(store: Store, identity: Identity) -> float:
    async def delete(tx: Transaction) -> float:
        user = await user_of(tx, identity.issuer, identity.subject)
        assert user is not None
        await delete_user(tx, user)
        tombstone = await tombstone_of(tx, identity.subject)
        assert tombstone is not None
        return float(tombstone["deletedAt"])

    return (await store.mutation(delete)).value


@pytest.mark.parametrize("issued", ["before", "within the leeway", "never said"])
async def test_a_token_issued_before_the_deletion_cannot_recreate_the_user(
    runner: Runner, store: Store, issued: str
) -> None:
    await runner.call("users:store", {}, ALICE)
    deleted_at_s = int(await _delete(store, ALICE) / 1000)
    issued_at = {"before": deleted_at_s - 60, "within the leeway": deleted_at_s + 5}.get(issued)
    old = dataclasses.replace(ALICE, issued_at=issued_at)
    with pytest.raises(FunctionError) as refused:
        await runner.call("users:store", {}, old)
    assert refused.value.code is Code.UNAUTHENTICATED
    assert "deleted" in refused.value.message
    assert (await runner.call("users:current", {}, old)).value is None
    assert await _users(store) == []


async def test_a_token_issued_after_the_deletion_starts_a_new_user(
    runner: Runner, store: Store
) -> None:
    first = (await runner.call("users:store", {}, ALICE)).value
    deleted_at_s = int(await _delete(store, ALICE) / 1000)
    new = dataclasses.replace(ALICE, issued_at=deleted_at_s + 120)
    second = (await runner.call("users:store", {}, new)).value
    assert second != first
    assert (await store.query(lambda tx: tombstone_of(tx, ALICE.subject))).value is None


async def test_a_deleted_users_private_advisors_go_and_public_ones_stay_ownerless(
    runner: Runner, store: Store
) -> None:
    await runner.call("users:store", {}, ALICE)
    await runner.call("users:store", {}, BOB)
    persona = {"persona": {"name": "Mira Sol", "title": "Coach"}, "tags": []}
    private = (await runner.call("advisors:createAdvisor", persona, ALICE)).value
    published = (await runner.call("advisors:createAdvisor", persona, ALICE)).value
    await store.mutation(lambda tx: tx.patch("advisors", published, {"isPublic": True}))
    await runner.call("marketplace:selectAdvisor", {"advisorId": published}, BOB)
    await _delete(store, ALICE)

    async def advisors(tx: Transaction) -> dict[str, Any]:
        return {doc_id: await tx.get("advisors", doc_id) for doc_id in (private, published)}

    left = (await store.query(advisors)).value
    assert left[private] is None
    assert left[published] is not None
    assert "ownerId" not in left[published]
    bobs_board = (await runner.call("marketplace:getUserSelectedAdvisors", {}, BOB)).value
    assert [a["_id"] for a in bobs_board] == [published]  # Bob's board keeps it
