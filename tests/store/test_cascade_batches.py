"""Large deletes: the document goes at once, its children in durable batches of bounded
size that the scheduled worker runs and a restart resumes (store/cascade.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.store import Commit, Store, Transaction
from advisor_chat.store.cascade import BATCH_ROWS, CASCADE_FUNCTION, INLINE_ROWS
from advisor_chat.store.sqlite import SqliteBackend
from tests.store.documents import advisor, conversation, count, message, stream_delta, user

MANY = INLINE_ROWS + 2 * BATCH_ROWS + 7  # more than one transaction takes inline


async def _conversation_with(store: Store, messages: int, deltas: int = 0) -> dict[str, Any]:
    async def fill(tx: Transaction) -> dict[str, Any]:
        user_id = await tx.insert("users", user("clerk-ada"))
        conv = await tx.insert("conversations", conversation(user_id))
        board = await tx.insert("advisors", advisor())
        ids = [await tx.insert("messages", message(conv, f"m{i}")) for i in range(messages)]
        for i in range(deltas):
            await tx.insert("streamDeltas", stream_delta(ids[0], i, "x"))
        memory = {"conversationId": conv, "advisorId": board, "key": "goal", "value": 1}
        await tx.insert("advisorMemories", memory | {"createdAt": 1, "updatedAt": 1})
        return {"user": user_id, "conversation": conv, "messages": ids}

    return (await store.mutation(fill)).value


async def _pending_cascades(store: Store) -> list[dict[str, Any]]:
    async def read(tx: Transaction) -> list[dict[str, Any]]:
        q = tx.query("scheduledFunctions", "by_state_time").eq("state", "pending")
        return [j for j in await q.take(100) if j["name"] == CASCADE_FUNCTION]

    return (await store.query(read)).value


async def _drain(store: Store) -> int:
    """Run scheduled work until none is due; returns the calls run."""
    worker = ScheduledWorker(store, Runner(store, build_registry()))
    ran = 0
    while n := await worker.run_due():
        ran += n
    return ran


async def test_a_large_delete_answers_at_once_and_schedules_the_rest(store: Store) -> None:
    world = await _conversation_with(store, MANY)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    await store.mutation(lambda tx: tx.delete("conversations", world["conversation"]))
    stop()
    (commit,) = seen
    deleted = {(w.table, w.id) for w in commit.writes if w.new_keys is None}
    assert ("conversations", world["conversation"]) in deleted
    assert not any(table == "messages" for table, _ in deleted)  # left for the batches
    assert "advisorMemories" in {t for t, _ in deleted}  # the few that fit went at once
    (pending,) = await _pending_cascades(store)
    assert pending["args"] == {
        "table": "messages",
        "field": "conversationId",
        "parent": world["conversation"],
    }
    assert pending["lane"] == "short"
    assert await count(store, "messages") == MANY


async def test_batches_remove_every_child_each_in_a_small_transaction(store: Store) -> None:
    world = await _conversation_with(store, MANY)
    await store.mutation(lambda tx: tx.delete("conversations", world["conversation"]))
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    ran = await _drain(store)
    stop()
    assert await count(store, "messages") == 0
    assert await count(store, "advisorMemories") == 0
    batch = BATCH_ROWS // 2  # a message costs itself and the look-up of its deltas
    assert ran == MANY // batch + 1  # the last batch finds fewer than a batch
    for commit in seen:
        removed = [w for w in commit.writes if w.table == "messages"]
        assert len(removed) <= batch
    assert await _pending_cascades(store) == []


async def test_grandchildren_beyond_the_room_are_batched_too(store: Store) -> None:
    """A message of a small conversation with more deltas than fit: the message goes at
    once, its deltas follow in batches."""
    world = await _conversation_with(store, 3, deltas=INLINE_ROWS + 10)
    await store.mutation(lambda tx: tx.delete("conversations", world["conversation"]))
    assert await count(store, "messages") == 0
    assert await count(store, "streamDeltas") == INLINE_ROWS + 10
    (pending,) = await _pending_cascades(store)
    assert pending["args"]["table"] == "streamDeltas"
    await _drain(store)
    assert await count(store, "streamDeltas") == 0


async def test_deleting_a_user_batches_their_conversations_and_theirs(store: Store) -> None:
    async def fill(tx: Transaction) -> str:
        user_id = await tx.insert("users", user("clerk-ada"))
        for c in range(INLINE_ROWS):
            conv = await tx.insert("conversations", conversation(user_id))
            await tx.insert("messages", message(conv, f"c{c}"))
        return user_id

    user_id = (await store.mutation(fill)).value
    await store.mutation(lambda tx: tx.delete("users", user_id))
    assert await count(store, "users") == 0
    assert await count(store, "conversations") == INLINE_ROWS
    await _drain(store)
    assert await count(store, "conversations") == 0
    assert await count(store, "messages") == 0


async def test_a_restart_resumes_the_batches(tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite3"
    async with Store(SqliteBackend(path)) as store:
        await store.migrate()
        world = await _conversation_with(store, MANY)
        await store.mutation(lambda tx: tx.delete("conversations", world["conversation"]))
        worker = ScheduledWorker(store, Runner(store, build_registry()))
        assert await worker.run_due() == 1  # one batch, then the server stops
        assert await count(store, "messages") == MANY - BATCH_ROWS // 2
    async with Store(SqliteBackend(path)) as store:
        await _drain(store)
        assert await count(store, "messages") == 0


async def test_batches_stop_when_the_parent_is_restored(store: Store) -> None:
    """A backup imported over a deleted conversation brings it back, with the messages the
    batches had not reached yet: those are its own again and must stay."""
    world = await _conversation_with(store, MANY)

    async def read_conversation(tx: Transaction) -> dict[str, Any] | None:
        return await tx.get("conversations", world["conversation"])

    saved = (await store.query(read_conversation)).value
    assert saved is not None
    await store.mutation(lambda tx: tx.delete("conversations", world["conversation"]))

    async def restore(tx: Transaction) -> None:
        fields = {k: v for k, v in saved.items() if not k.startswith("_")}
        await tx.insert(
            "conversations", fields, id=saved["_id"], creation_time=saved["_creationTime"]
        )

    await store.mutation(restore)
    await _drain(store)
    assert await count(store, "messages") == MANY
    assert await _pending_cascades(store) == []
