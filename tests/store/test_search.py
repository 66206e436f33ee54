"""Full-text search indexes: every word must match (the last as a prefix), filters are
exact, the index follows every write, an existing database gets it filled, and the
database's own plan uses it."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.errors import DocumentInvalid, QueryInvalid
from advisor_chat.schema.derive import layout_of
from advisor_chat.schema.tables import TABLES
from advisor_chat.store import Store, Transaction
from advisor_chat.store.search import (
    MAX_CANDIDATES,
    MAX_FTS_FILTER_VALUES,
    MAX_RESULTS,
    create_statements,
)
from tests.store.documents import insert_parents


def _message(conversation: str, content: str, n: int = 0) -> dict[str, Any]:
    return {
        "conversationId": conversation,
        "sender": "user",
        "content": content,
        "mentions": [],
        "createdAt": n,
    }


async def _conversation(tx: Transaction, user: str, conversation_id: str | None = None) -> str:
    fields = {"userId": user, "createdAt": 1, "updatedAt": 1}
    return await tx.insert("conversations", fields, id=conversation_id)


async def _search(store: Store, text: str, conversations: list[str], limit: int = 20) -> list[str]:
    async def run(tx: Transaction) -> list[str]:
        found = await tx.search(
            "messages", "search_content", text, {"conversationId": conversations}, limit
        )
        return [d["content"] for d in found]

    return (await store.query(run)).value


async def test_every_word_must_match_and_the_last_may_be_a_prefix(store: Store) -> None:
    parents = await insert_parents(store)

    async def load(tx: Transaction) -> str:
        c = await _conversation(tx, parents.user)
        for n, text in enumerate(
            [
                "Our runway is fourteen months",
                "Runway planning for the seed round",
                "Hiring plan: two engineers",
                "RUNWAY, runway, runway!",
                "Ünïcode wörds and emoji 🚀 work",
            ]
        ):
            await tx.insert("messages", _message(c, text, n))
        return c

    c = (await store.mutation(load)).value
    assert set(await _search(store, "runway", [c])) == {
        "Our runway is fourteen months",
        "Runway planning for the seed round",
        "RUNWAY, runway, runway!",
    }
    assert await _search(store, "runway plan", [c]) == ["Runway planning for the seed round"]
    assert await _search(store, "fourt", [c]) == ["Our runway is fourteen months"]
    assert await _search(store, "wörds", [c]) == ["Ünïcode wörds and emoji 🚀 work"]
    assert await _search(store, "runway zebra", [c]) == []
    assert await _search(store, "  !!! ", [c]) == []  # no words: nothing, not everything
    # Quotes, stars and operators are not syntax: only words count.
    assert len(await _search(store, '"runway"* (', [c])) == 3
    assert await _search(store, "fourteen OR zebra", [c]) == []
    assert await _search(store, "fourteen _", [c]) == ["Our runway is fourteen months"]
    best = await _search(store, "runway", [c], limit=1)
    assert best == ["RUNWAY, runway, runway!"]  # the most relevant first


async def test_a_common_word_is_ranked_among_capped_candidates_of_the_callers(
    store: Store,
) -> None:
    """More matches than MAX_CANDIDATES in the caller's conversation: the best of the
    candidates come back, all the caller's (another conversation's newer and better
    matches do not use up the cap), and a best match outside the candidates does not.
    The two best are the oldest and the newest: SQLite takes the newest candidates,
    PostgreSQL the first its index yields, so exactly one of them is a candidate."""
    parents = await insert_parents(store)
    weak = "runway, once, in a longer message about hiring and pricing"

    async def load(tx: Transaction) -> tuple[str, str]:
        mine, theirs = await _conversation(tx, parents.user), await _conversation(tx, parents.user)
        await tx.insert("messages", _message(mine, "runway " * 8 + "oldest", 0))
        for n in range(1, MAX_CANDIDATES):
            await tx.insert("messages", _message(mine, "runway runway" if n == 500 else weak, n))
        await tx.insert("messages", _message(mine, "runway " * 8 + "newest", MAX_CANDIDATES))
        for n in range(MAX_CANDIDATES + 50):
            await tx.insert("messages", _message(theirs, "runway " * 9, 10**6 + n))
        return mine, theirs

    mine, theirs = (await store.mutation(load)).value

    async def run(tx: Transaction) -> list[dict[str, Any]]:
        return await tx.search("messages", "search_content", "runw", {"conversationId": [mine]})

    found = [d["content"] for d in (await store.query(run)).value]
    assert len(found) == 20
    best = {"runway " * 8 + "oldest", "runway " * 8 + "newest"}
    assert found[0] in best
    assert found[1] == "runway runway"
    assert not best <= set(found)  # without the cap both would be found, first
    assert set(found[2:]) == {weak}
    assert theirs


async def test_many_filter_values_still_narrow_inside_the_text_index(store: Store) -> None:
    """Past MAX_FTS_FILTER_VALUES the filter is split into groups, each narrowed in the
    index and capped alone; the groups' candidates merge newest first."""
    parents = await insert_parents(store)
    count = MAX_FTS_FILTER_VALUES + 40

    async def load(tx: Transaction) -> list[str]:
        ids = [await _conversation(tx, parents.user) for _ in range(count)]
        other = await _conversation(tx, parents.user)
        for n, c in enumerate(ids):
            await tx.insert("messages", _message(c, f"budget line {n}", n))
        for n in range(MAX_CANDIDATES + 10):  # newer matches elsewhere
            await tx.insert("messages", _message(other, "budget budget", 10**6 + n))
        return ids

    ids = (await store.mutation(load)).value
    found = await _search(store, "budget", ids)
    # Equal ranks, so newest first: the last 20 written, all in the second group.
    assert found == [f"budget line {n}" for n in range(count - 1, count - 21, -1)]
    assert await _search(store, "budget", ids[:3]) == [f"budget line {n}" for n in (2, 1, 0)]


async def test_filters_are_exact_even_for_ids_that_contain_each_other(store: Store) -> None:
    parents = await insert_parents(store)

    async def load(tx: Transaction) -> list[str]:
        # Imported ids with separators: "a-b" is a phrase inside "x-a-b" for a tokenizer.
        ids = [await _conversation(tx, parents.user, i) for i in ("a-b", "x-a-b", "a_b_c")]
        for c in ids:
            await tx.insert("messages", _message(c, f"budget for {c}"))
        return ids

    ab, xab, abc = (await store.mutation(load)).value
    assert await _search(store, "budget", [ab]) == ["budget for a-b"]
    assert set(await _search(store, "budget", [ab, abc])) == {"budget for a-b", "budget for a_b_c"}
    assert await _search(store, "budget", []) == []
    assert len(await _search(store, "budget", [ab, xab, abc])) == 3


async def test_the_index_follows_updates_deletes_and_cascades(store: Store) -> None:
    parents = await insert_parents(store)

    async def load(tx: Transaction) -> tuple[str, str, str]:
        c = await _conversation(tx, parents.user)
        kept = await tx.insert("messages", _message(c, "pricing draft one"))
        edited = await tx.insert("messages", _message(c, "pricing draft two"))
        return c, kept, edited

    c, kept, edited = (await store.mutation(load)).value

    async def edit(tx: Transaction) -> None:
        await tx.patch("messages", edited, {"content": "final numbers"})
        await tx.delete("messages", kept)

    await store.mutation(edit)
    assert await _search(store, "pricing", [c]) == []
    assert await _search(store, "final", [c]) == ["final numbers"]

    async def drop(tx: Transaction) -> None:
        await tx.delete("conversations", c)

    await store.mutation(drop)
    assert await _search(store, "final", [c]) == []


async def test_a_search_records_what_it_depends_on(store: Store) -> None:
    parents = await insert_parents(store)

    async def run(tx: Transaction) -> None:
        await tx.search("messages", "search_content", "x", {"conversationId": ["c1"]})

    outcome = await store.query(run)
    layout = layout_of("messages")
    by_conversation = layout.indexes["by_conversation"]
    inside = by_conversation.key(_message("c1", "y") | {"_creationTime": 1.0, "_id": "m"})
    outside = by_conversation.key(_message("c2", "y") | {"_creationTime": 1.0, "_id": "m"})
    assert outcome.reads.overlaps("messages", "by_conversation", inside)
    assert not outcome.reads.overlaps("messages", "by_conversation", outside)
    assert parents.user


@pytest.mark.parametrize(
    ("index", "filters", "limit", "error"),
    [
        ("nope", {}, 20, "no search index 'nope'"),
        ("search_content", {"sender": ["user"]}, 20, "cannot filter on sender"),
        ("search_content", {}, 0, "limit must be between"),
        ("search_content", {}, MAX_RESULTS + 1, "limit must be between"),
    ],
)
async def test_bad_searches_are_refused(
    store: Store, index: str, filters: dict[str, list[str]], limit: int, error: str
) -> None:
    async def run(tx: Transaction) -> None:
        await tx.search("messages", index, "x", filters, limit)

    with pytest.raises(QueryInvalid, match=error):
        await store.query(run)


async def test_an_existing_database_gets_the_index_filled(store: Store) -> None:
    parents = await insert_parents(store)
    d = store.backend.dialect
    layout = layout_of("messages")
    [search_index] = TABLES["messages"].search_indexes

    async def older_release(tx: Transaction) -> str:
        """The database as a release without search left it, with messages in it."""
        c = await _conversation(tx, parents.user)
        await tx.insert("messages", _message(c, "written before search existed"))
        if d.name == "sqlite":
            for suffix in ("_ai", "_ad", "_au"):
                await tx.conn.execute(f'DROP TRIGGER "messages__search_content{suffix}"', ())
            await tx.conn.execute('DROP TABLE "messages__search_content"', ())
            await tx.conn.execute('DROP VIEW "messages__search_content_source"', ())
        else:
            await tx.conn.execute('DROP INDEX "messages.search_content"', ())
        return c

    c = (await store.mutation(older_release)).value
    done = await store.migrate()
    assert done == ["created search index messages.search_content"]
    assert await _search(store, "before search", [c]) == ["written before search existed"]
    assert await store.migrate() == []
    assert create_statements(d, layout, search_index)  # the same statements, re-runnable


async def test_the_database_plan_uses_the_text_index(store: Store) -> None:
    parents = await insert_parents(store)

    async def load(tx: Transaction) -> list[str]:
        ids = [await _conversation(tx, parents.user) for _ in range(40)]
        for n in range(4000):
            await tx.insert("messages", _message(ids[n % 40], f"note {n} about topic{n % 97}", n))
        return ids

    ids = (await store.mutation(load)).value
    d = store.backend.dialect
    from advisor_chat.store import search as search_sql

    [index] = TABLES["messages"].search_indexes
    sql, params = search_sql.select(
        d, layout_of("messages"), index, ["topic5"], {"conversationId": ids[:2]}, 20
    )

    async def plan(tx: Transaction) -> str:
        if d.name == "postgres":
            await tx.conn.execute('ANALYZE "messages"', ())
            rows = await tx.conn.fetch("EXPLAIN " + sql, params)
        else:
            rows = await tx.conn.fetch("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(" ".join(str(c) for c in row) for row in rows)

    text = (await store.query(plan)).value
    # The rows ranked are capped inside the statement: a LIMIT below the ranking's own.
    assert params.count(MAX_CANDIDATES) == 1
    assert params[-1] == 20
    if d.name == "sqlite":
        assert "VIRTUAL TABLE INDEX" in text, text
        assert "SCAN t" not in text, text
        assert "MATERIALIZE f" in text, text  # the capped candidates, ranked alone
    else:
        assert "Seq Scan on messages" not in text, text
        assert "messages.search_content" in text or "messages.by_conversation" in text, text
        assert text.count("Limit") == 2, text
    assert len(await _search(store, "topic5", ids[:2])) == 20


async def test_nul_is_refused_in_searched_text_and_fine_elsewhere(store: Store) -> None:
    parents = await insert_parents(store)

    async def write(tx: Transaction, fields: dict[str, Any]) -> str:
        return await tx.insert("messages", _message(parents.conversation, "x") | fields)

    with pytest.raises(DocumentInvalid, match=r"messages\.content: searched text contains NUL"):
        await store.mutation(lambda tx: write(tx, {"content": "bad\x00text"}))
    await store.mutation(lambda tx: write(tx, {"content": "nul nearby", "contentJson": "\x00"}))
    assert await _search(store, "nearby", [parents.conversation]) == ["nul nearby"]
