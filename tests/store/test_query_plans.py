"""The seed's hot queries are served by their index, per the database's own plan.

The data is shaped so a planner that could scan would prefer the index: many users,
conversations and advisors, each query selecting a small slice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from advisor_chat.store import Store, Transaction
from advisor_chat.store.query import IndexQuery
from tests.store.examples import example

USERS = 60
CONVERSATIONS_PER_USER = 15
MESSAGES = 30_000
TARGET_MESSAGES = 1000  # about 3% of all messages: the planner must not walk by time
ADVISORS = 3000


def _message(conversation: str, n: int) -> dict[str, Any]:
    return {
        "conversationId": conversation,
        "sender": "user",
        "content": f"message {n}",
        "mentions": [],
        "createdAt": n,
    }


async def _load(tx: Transaction) -> dict[str, str]:
    users = []
    for u in range(USERS):
        users.append(
            await tx.insert(
                "users", {"clerkId": f"u{u}", "plan": "free", "createdAt": u, "updatedAt": u}
            )
        )
    advisors = []
    for a in range(ADVISORS):
        doc = example("advisors", None, full=False) | {
            "isPublic": a % 4 == 0,
            "featured": a % 20 == 0,
            "tags": [f"tag{a % 200}", f"group{a % 7}"],
            "persona": {"name": f"Advisor {a}", "title": "Advisor"},
        }
        advisors.append(await tx.insert("advisors", doc))
    conversations = []
    for n, user in enumerate(users):
        for c in range(CONVERSATIONS_PER_USER):
            conversations.append(
                await tx.insert(
                    "conversations", {"userId": user, "createdAt": c, "updatedAt": (n * c) % 97}
                )
            )
        for a in range(8):
            await tx.insert(
                "userAdvisors",
                {
                    "userId": user,
                    "advisorId": advisors[(n * 8 + a) % ADVISORS],
                    "selectedAt": a,
                    "source": "marketplace",
                },
            )
    # A long conversation, written in one burst as a chat is, among many short ones.
    target = conversations[11]
    for m in range(TARGET_MESSAGES):
        await tx.insert("messages", _message(target, m * MESSAGES // TARGET_MESSAGES))
    for m in range(MESSAGES):
        await tx.insert("messages", _message(conversations[m % len(conversations)], m))
    return {"user": users[7], "conversation": target}


Build = Callable[[Transaction, dict[str, str]], IndexQuery]

PATTERNS: dict[str, tuple[str, str, Build]] = {
    "user conversations, newest first": (
        "conversations",
        "by_user_updated",
        lambda tx, w: (
            tx.query("conversations", "by_user_updated").eq("userId", w["user"]).order("desc")
        ),
    ),
    "featured marketplace advisors": (
        "advisors",
        "by_public_featured",
        lambda tx, w: (
            tx.query("advisors", "by_public_featured").eq("isPublic", True).eq("featured", True)
        ),
    ),
    "conversation messages, chronological": (
        "messages",
        "by_conversation_created",
        lambda tx, w: (
            tx.query("messages", "by_conversation_created")
            .eq("conversationId", w["conversation"])
            .order("asc")
        ),
    ),
    "user's selected advisors": (
        "userAdvisors",
        "by_user",
        lambda tx, w: tx.query("userAdvisors", "by_user").eq("userId", w["user"]),
    ),
    "advisors by tag": (
        "advisors",
        "by_tags",
        lambda tx, w: tx.query("advisors", "by_tags").eq("tags", "tag3"),
    ),
    "advisors by persona name": (
        "advisors",
        "by_persona_name",
        lambda tx, w: tx.query("advisors", "by_persona_name").eq("persona.name", "Advisor 42"),
    ),
}


@pytest.fixture
async def world(store: Store) -> dict[str, str]:
    loaded = (await store.mutation(_load)).value
    if store.backend.dialect.name == "postgres":
        await store.mutation(lambda tx: tx.conn.execute("ANALYZE", ()))
    return loaded


def _assert_index_plan(plan: str, table: str, index: str, dialect: str) -> None:
    """SQLite must walk the index in order (no temporary sort, no scan). PostgreSQL must
    read through the index and never scan the table; on small selections its planner may
    prefer a bitmap scan of the index and a sort of the rows it selected, which still costs
    what the matching rows cost, not what the table holds."""
    name = f"{table}.{index}"
    if dialect == "sqlite":
        assert f"USING INDEX {name} " in plan or f"USING COVERING INDEX {name} " in plan, plan
        assert "TEMP B-TREE" not in plan, plan
        for line in plan.splitlines():
            assert not line.strip().startswith("SCAN"), plan
    else:
        assert "Seq Scan" not in plan, plan
        assert re.search(
            f'(Index Scan|Index Scan Backward|Index Only Scan) using "{name}"', plan
        ) or (f'Bitmap Index Scan on "{name}"' in plan), plan


async def test_seed_query_patterns_use_their_index(store: Store, world: dict[str, str]) -> None:
    """First page and a later page (with a cursor) alike."""
    dialect = store.backend.dialect.name
    for table, index, build in PATTERNS.values():

        async def plans(tx: Transaction, build: Build = build) -> tuple[str, str]:
            first = await build(tx, world).paginate(1)
            assert not first.is_done
            plan = await build(tx, world).explain(50)
            return plan, await build(tx, world).explain(50, first.continue_cursor)

        plan, next_plan = (await store.query(plans)).value
        _assert_index_plan(plan, table, index, dialect)
        _assert_index_plan(next_plan, table, index, dialect)

    async def read(tx: Transaction) -> dict[str, list[dict[str, Any]]]:
        return {name: await build(tx, world).collect() for name, (_, _, build) in PATTERNS.items()}

    got = (await store.query(read)).value
    conversations = got["user conversations, newest first"]
    assert len(conversations) == CONVERSATIONS_PER_USER
    assert all(c["userId"] == world["user"] for c in conversations)
    updated = [c["updatedAt"] for c in conversations]
    assert updated == sorted(updated, reverse=True)
    featured = got["featured marketplace advisors"]
    assert len(featured) == ADVISORS // 20
    assert all(a["isPublic"] and a["featured"] for a in featured)
    messages = got["conversation messages, chronological"]
    assert [m["createdAt"] for m in messages] == sorted(m["createdAt"] for m in messages)
    conversation_count = USERS * CONVERSATIONS_PER_USER
    expected = TARGET_MESSAGES + sum(1 for m in range(MESSAGES) if m % conversation_count == 11)
    assert len(messages) == expected
    assert len(got["user's selected advisors"]) == 8
    tagged = got["advisors by tag"]
    assert len(tagged) == ADVISORS // 200
    assert all("tag3" in a["tags"] for a in tagged)
    assert [a["persona"]["name"] for a in got["advisors by persona name"]] == ["Advisor 42"]
