"""Deleting a conversation (or a user) takes exactly its children with it, in the same
transaction, and the commit's write set names exactly what changed (schema `OnDelete`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from advisor_chat.schema.ids import DocumentId
from advisor_chat.store import Commit, Store, Transaction, Write
from tests.store.documents import (
    Doc,
    account,
    advisor,
    conversation,
    message,
    session,
    snapshot,
    stream_delta,
    user,
)

CHILDREN = ["messages", "streamDeltas", "advisorMemories", "threadSummaries", "typingIndicators"]
TABLES_SEEN = [
    "users",
    "accounts",
    "sessions",
    "advisors",
    "userAdvisors",
    "conversations",
    "userPresence",
    *CHILDREN,
]
Snapshot = dict[str, dict[str, Doc]]


@dataclass
class World:
    users: dict[str, DocumentId] = field(default_factory=dict)  # by name
    conversations: dict[str, list[DocumentId]] = field(default_factory=dict)  # by owner name
    children: dict[DocumentId, dict[str, set[DocumentId]]] = field(default_factory=dict)
    presence: dict[str, DocumentId] = field(default_factory=dict)  # by user name
    typing_by: dict[DocumentId, set[DocumentId]] = field(default_factory=dict)  # user -> rows
    selections: dict[str, DocumentId] = field(default_factory=dict)  # userAdvisors by user
    sign_ins: dict[str, dict[str, DocumentId]] = field(default_factory=dict)  # name -> table -> id


async def build_world(tx: Transaction) -> World:
    """ada and bo own two conversations each, full of children; cy owns none. ada and cy
    are looking at ada's first conversation; each owner types in their own conversations,
    and bo also in ada's first and ada in bo's first."""
    world = World()
    board = await tx.insert("advisors", advisor())
    for name in ("ada", "bo", "cy"):
        user_id = world.users[name] = await tx.insert("users", user(f"clerk-{name}"))
        world.typing_by[user_id] = set()
        world.sign_ins[name] = {
            "accounts": await tx.insert("accounts", account(user_id, f"{name}@example.test")),
            "sessions": await tx.insert("sessions", session(user_id, f"sha256-{name}")),
        }
    for owner in ("ada", "bo"):
        owner_id = world.users[owner]
        world.selections[owner] = await tx.insert(
            "userAdvisors",
            {"userId": owner_id, "advisorId": board, "selectedAt": 1, "source": "marketplace"},
        )
        world.conversations[owner] = []
        for c in range(2):
            conv = await tx.insert("conversations", conversation(owner_id))
            world.conversations[owner].append(conv)
            kids: dict[str, set[DocumentId]] = {t: set() for t in CHILDREN}
            world.children[conv] = kids
            first_message = last_message = ""
            for m in range(3):
                msg = await tx.insert("messages", message(conv, f"{owner}-{c}-{m}"))
                first_message = first_message or msg
                last_message = msg
                kids["messages"].add(msg)
                for start, text in ((0, "Hel"), (3, "lo")):
                    kids["streamDeltas"].add(
                        await tx.insert("streamDeltas", stream_delta(msg, start, text))
                    )
            for key in ("goal", "runway"):
                kids["advisorMemories"].add(
                    await tx.insert(
                        "advisorMemories",
                        {
                            "conversationId": conv,
                            "advisorId": board,
                            "key": key,
                            "value": {"of": owner},
                            "createdAt": 1,
                            "updatedAt": 1,
                        },
                    )
                )
            kids["threadSummaries"].add(
                await tx.insert(
                    "threadSummaries",
                    {
                        "conversationId": conv,
                        "content": "So far",
                        "startMessageId": first_message,
                        "endMessageId": last_message,
                        "createdAt": 1,
                    },
                )
            )
            await _typing(tx, world, conv, owner_id)
    ada_first, bo_first = world.conversations["ada"][0], world.conversations["bo"][0]
    await _typing(tx, world, ada_first, world.users["bo"])
    await _typing(tx, world, bo_first, world.users["ada"])
    for name, looking_at in (("ada", ada_first), ("bo", bo_first), ("cy", ada_first)):
        world.presence[name] = await tx.insert(
            "userPresence",
            {
                "userId": world.users[name],
                "isOnline": True,
                "lastSeenAt": 1,
                "currentConversationId": looking_at,
            },
        )
    return world


async def _typing(tx: Transaction, world: World, conv: DocumentId, user_id: DocumentId) -> None:
    row = await tx.insert(
        "typingIndicators",
        {"conversationId": conv, "userId": user_id, "isTyping": True, "lastTypingAt": 1},
    )
    world.children[conv]["typingIndicators"].add(row)
    world.typing_by[user_id].add(row)


def _removed_with(world: World, conv: DocumentId) -> dict[str, set[DocumentId]]:
    return {"conversations": {conv}, **world.children[conv]}


def _expect(
    before: Snapshot, removed: dict[str, set[DocumentId]], unset: set[DocumentId]
) -> Snapshot:
    """`before` less the removed documents, with `currentConversationId` gone from `unset`."""
    expected: Snapshot = {}
    for table, docs in before.items():
        gone = removed.get(table, set())
        expected[table] = {
            doc_id: (
                {k: v for k, v in doc.items() if k != "currentConversationId"}
                if doc_id in unset
                else doc
            )
            for doc_id, doc in docs.items()
            if doc_id not in gone
        }
    return expected


def _check_write_set(
    writes: tuple[Write, ...], removed: dict[str, set[DocumentId]], unset: set[DocumentId]
) -> None:
    """Each removed document is deleted once; the rows left pointing nowhere are patched.
    (A row patched and then deleted, as a user's own presence is, shows as both.)"""
    deleted = [(w.table, w.id) for w in writes if w.new_keys is None]
    patched = [(w.table, w.id) for w in writes if w.old_keys is not None and w.new_keys is not None]
    assert len(deleted) + len(patched) == len(writes)  # nothing inserted
    assert sorted(deleted) == sorted((t, i) for t, ids in removed.items() for i in ids)
    assert {i for _, i in patched} - {i for _, i in deleted} == unset
    assert {t for t, _ in patched} <= {"userPresence"}
    for write in writes:
        if write.table == "userPresence" and write.new_keys is not None:
            ((conversation_key, *_),) = write.new_keys["by_conversation"]
            assert conversation_key is None  # the row now sorts with the missing values


async def test_deleting_a_conversation_removes_exactly_its_children(store: Store) -> None:
    world = (await store.mutation(build_world)).value
    victim = world.conversations["ada"][0]
    removed = _removed_with(world, victim)
    assert all(removed.values())  # the victim has children of every kind
    unset = {world.presence["ada"], world.presence["cy"]}
    before = await snapshot(store, TABLES_SEEN)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)

    async def delete_and_look(tx: Transaction) -> dict[str, int]:
        await tx.delete("conversations", victim)
        left = {}
        for table in ("messages", "advisorMemories", "threadSummaries", "typingIndicators"):
            rows = await tx.query(table, "by_conversation").eq("conversationId", victim).collect()
            left[table] = len(rows)
        return left

    outcome = await store.mutation(delete_and_look)
    stop()
    # Inside the mutation its own indexes already showed the children gone.
    assert outcome.value == dict.fromkeys(outcome.value, 0)
    assert await snapshot(store, TABLES_SEEN) == _expect(before, removed, unset)

    assert outcome.commit is not None
    assert seen == [outcome.commit]
    _check_write_set(outcome.commit.writes, removed, unset)


async def test_a_mutation_that_deletes_then_fails_leaves_everything(store: Store) -> None:
    world = (await store.mutation(build_world)).value
    before = await snapshot(store, TABLES_SEEN)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)

    async def delete_then_fail(tx: Transaction) -> None:
        await tx.delete("conversations", world.conversations["ada"][0])
        raise RuntimeError("the caller changed its mind")

    with pytest.raises(RuntimeError, match="changed its mind"):
        await store.mutation(delete_then_fail)
    stop()
    assert seen == []
    assert await snapshot(store, TABLES_SEEN) == before


async def test_deleting_a_user_removes_their_conversations_and_rows(store: Store) -> None:
    world = (await store.mutation(build_world)).value
    ada = world.users["ada"]
    removed: dict[str, set[DocumentId]] = {
        "users": {ada},
        **{table: {doc_id} for table, doc_id in world.sign_ins["ada"].items()},
        "userPresence": {world.presence["ada"]},
        "userAdvisors": {world.selections["ada"]},
        "typingIndicators": set(world.typing_by[ada]),  # in bo's conversation too
    }
    for conv in world.conversations["ada"]:
        for table, ids in _removed_with(world, conv).items():
            removed.setdefault(table, set()).update(ids)
    unset = {world.presence["cy"]}  # cy was looking at ada's conversation
    before = await snapshot(store, TABLES_SEEN)

    outcome = await store.mutation(lambda tx: tx.delete("users", ada))
    assert await snapshot(store, TABLES_SEEN) == _expect(before, removed, unset)
    assert outcome.commit is not None
    _check_write_set(outcome.commit.writes, removed, unset)


async def test_deleting_an_advisor_takes_it_off_every_board_and_keeps_its_answers(
    store: Store,
) -> None:
    async def build(tx: Transaction) -> dict[str, DocumentId]:
        ids: dict[str, DocumentId] = {"owner": await tx.insert("users", user("clerk-owner"))}
        ids["gone"] = await tx.insert("advisors", advisor())
        ids["stays"] = await tx.insert("advisors", advisor())
        base = conversation(ids["owner"])
        ids["active"] = await tx.insert(
            "conversations",
            base | {"advisorIds": [ids["gone"], ids["stays"]], "activeAdvisorId": ids["gone"]},
        )
        ids["member"] = await tx.insert(
            "conversations",
            base | {"advisorIds": [ids["stays"], ids["gone"]], "activeAdvisorId": ids["stays"]},
        )
        ids["other"] = await tx.insert("conversations", base | {"advisorIds": [ids["stays"]]})
        answer = message(ids["active"]) | {"sender": "advisor", "advisorId": ids["gone"]}
        ids["answer"] = await tx.insert("messages", answer)
        return ids

    ids = (await store.mutation(build)).value
    before = await snapshot(store, ["conversations", "messages"])
    outcome = await store.mutation(lambda tx: tx.delete("advisors", ids["gone"]))
    after = await snapshot(store, ["conversations", "messages"])

    active = after["conversations"][ids["active"]]
    assert active["advisorIds"] == [ids["stays"]]
    assert "activeAdvisorId" not in active
    member = after["conversations"][ids["member"]]
    assert member["advisorIds"] == [ids["stays"]]
    assert member["activeAdvisorId"] == ids["stays"]
    assert after["conversations"][ids["other"]] == before["conversations"][ids["other"]]
    assert after["messages"] == before["messages"]  # the answer keeps its advisor's id
    assert outcome.commit is not None
    changed = {(w.table, w.id) for w in outcome.commit.writes}
    assert changed == {
        ("advisors", ids["gone"]),
        ("conversations", ids["active"]),
        ("conversations", ids["member"]),
    }
