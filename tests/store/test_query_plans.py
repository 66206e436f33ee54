"""The seed's hot queries are served by their index, per the database's own plan.

The data is shaped so a planner that could scan would prefer the index: many users,
conversations and advisors, each query selecting a small slice (PostgreSQL analysed). The
plans are of the store's own statements: `IndexQuery.explain` plans exactly the SQL
`paginate` / `collect` would run (`store.sql.range_select` with the read's `RangeShape`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest

from advisor_chat.store import Store, Transaction
from advisor_chat.store.query import IndexQuery
from tests.store.documents import advisor

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
        doc = advisor() | {
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
PAGE = 50


@dataclass(frozen=True)
class Pattern:
    table: str
    index: str
    build: Build
    # PostgreSQL walks the index in order (no Sort) for a page when the selection is larger
    # than a page; for a smaller one its planner may rightly fetch the few rows through a
    # bitmap of the same index and sort them, which costs what the selection costs.
    ordered_on_postgres: bool


def _messages(order: Literal["asc", "desc"]) -> Build:
    return lambda tx, w: (
        tx.query("messages", "by_conversation_created")
        .eq("conversationId", w["conversation"])
        .order(order)
    )


PATTERNS: dict[str, Pattern] = {
    # The seed's four "Primary Query Patterns", as written there.
    "user conversations, newest first": Pattern(
        "conversations",
        "by_user_updated",
        lambda tx, w: (
            tx.query("conversations", "by_user_updated").eq("userId", w["user"]).order("desc")
        ),
        ordered_on_postgres=True,
    ),
    "featured marketplace advisors": Pattern(
        "advisors",
        "by_public_featured",
        lambda tx, w: (
            tx.query("advisors", "by_public_featured").eq("isPublic", True).eq("featured", True)
        ),
        ordered_on_postgres=False,
    ),
    "conversation messages, chronological": Pattern(
        "messages", "by_conversation_created", _messages("asc"), ordered_on_postgres=True
    ),
    "user's selected advisors": Pattern(
        "userAdvisors",
        "by_user",
        lambda tx, w: tx.query("userAdvisors", "by_user").eq("userId", w["user"]),
        ordered_on_postgres=True,
    ),
    # Beyond the seed's list: the array index, a nested field, and the chat scrolling back.
    "advisors by tag": Pattern(
        "advisors",
        "by_tags",
        lambda tx, w: tx.query("advisors", "by_tags").eq("tags", "tag3"),
        ordered_on_postgres=False,
    ),
    "advisors by persona name": Pattern(
        "advisors",
        "by_persona_name",
        lambda tx, w: tx.query("advisors", "by_persona_name").eq("persona.name", "Advisor 42"),
        ordered_on_postgres=True,
    ),
    "conversation messages, newest first": Pattern(
        "messages", "by_conversation_created", _messages("desc"), ordered_on_postgres=True
    ),
}


@pytest.fixture
async def world(store: Store) -> dict[str, str]:
    loaded = (await store.mutation(_load)).value
    if store.backend.dialect.name == "postgres":
        await store.mutation(lambda tx: tx.conn.execute("ANALYZE", ()))
    return loaded


_PG_INDEX_READ = r"(Index Scan|Index Scan Backward|Index Only Scan|Index Only Scan Backward) using"


def _sorts(plan: str) -> bool:
    return any(re.match(r"\s*(->\s+)?(Incremental )?Sort\s+\(", line) for line in plan.splitlines())


def _assert_served_by_index(plan: str, name: str, dialect: str, *, ordered: bool) -> None:
    """SQLite must walk the index in order: a SEARCH through it, no temporary b-tree, no
    SCAN. PostgreSQL must read through the index and never scan the table; it may sort
    only the rows a bitmap of the declared index selected, and only where not `ordered`."""
    if dialect == "sqlite":
        uses = (f"USING INDEX {name} ", f"USING COVERING INDEX {name} ")
        assert any(u in plan for u in uses), plan
        assert "TEMP B-TREE" not in plan, plan
        assert not any(line.strip().startswith("SCAN") for line in plan.splitlines()), plan
        return
    assert "Seq Scan" not in plan, plan
    bitmap = f'Bitmap Index Scan on "{name}"' in plan
    assert re.search(f'{_PG_INDEX_READ} "{re.escape(name)}"', plan) or bitmap, plan
    if _sorts(plan):
        assert not ordered, plan
        assert bitmap, plan


def _assert_whole_range_plan(plan: str, name: str, dialect: str) -> None:
    """A whole range (no LIMIT) costs its selection however it is read; PostgreSQL may
    rightly fetch it through another index with the same leading field (messages
    `by_conversation` for `by_conversation_created`) and sort it. It must not scan."""
    if dialect == "sqlite":
        _assert_served_by_index(plan, name, dialect, ordered=True)
        return
    assert "Seq Scan" not in plan, plan
    assert re.search(r"Index (Only )?Scan", plan), plan


async def test_seed_query_patterns_use_their_index(store: Store, world: dict[str, str]) -> None:
    """The first page, a later page (with a cursor) and the whole range alike, in the very
    SQL the store runs (`explain` plans the statement `paginate` / `collect` would issue);
    then the same reads through the store return the right documents. One test, as loading
    the data costs most of it."""
    dialect = store.backend.dialect.name
    for label, pattern in PATTERNS.items():

        async def plans(tx: Transaction, build: Build = pattern.build) -> list[tuple[str, str]]:
            first = await build(tx, world).paginate(1)
            assert not first.is_done
            return [
                ("first page", await build(tx, world).explain(PAGE)),
                ("next page", await build(tx, world).explain(PAGE, first.continue_cursor)),
                ("collect", await build(tx, world).explain(None)),
            ]

        for read, plan in (await store.query(plans)).value:
            name = f"{pattern.table}.{pattern.index}"
            try:
                if read == "collect":
                    _assert_whole_range_plan(plan, name, dialect)
                else:
                    _assert_served_by_index(
                        plan, name, dialect, ordered=pattern.ordered_on_postgres
                    )
            except AssertionError as exc:
                raise AssertionError(f"{label}, {read}:\n{plan}") from exc
    await _assert_right_documents(store, world)
    await _assert_scrolling_back(store, world)


async def _assert_right_documents(store: Store, world: dict[str, str]) -> None:
    async def read(tx: Transaction) -> dict[str, list[dict[str, Any]]]:
        return {name: await p.build(tx, world).collect() for name, p in PATTERNS.items()}

    got = (await store.query(read)).value
    conversations = got["user conversations, newest first"]
    assert len(conversations) == CONVERSATIONS_PER_USER
    assert all(c["userId"] == world["user"] for c in conversations)
    updated = [c["updatedAt"] for c in conversations]
    assert updated == sorted(updated, reverse=True)
    featured = got["featured marketplace advisors"]
    assert len(featured) == ADVISORS // 20
    assert all(a["isPublic"] and a["featured"] for a in featured)
    assert [a["_creationTime"] for a in featured] == sorted(a["_creationTime"] for a in featured)
    messages = got["conversation messages, chronological"]
    assert all(m["conversationId"] == world["conversation"] for m in messages)
    assert [m["createdAt"] for m in messages] == sorted(m["createdAt"] for m in messages)
    conversation_count = USERS * CONVERSATIONS_PER_USER
    expected = TARGET_MESSAGES + sum(1 for m in range(MESSAGES) if m % conversation_count == 11)
    assert len(messages) == expected
    assert got["conversation messages, newest first"] == messages[::-1]
    selected = got["user's selected advisors"]
    assert len(selected) == 8
    assert all(s["userId"] == world["user"] for s in selected)
    tagged = got["advisors by tag"]
    assert len(tagged) == ADVISORS // 200
    assert all("tag3" in a["tags"] for a in tagged)
    assert [a["persona"]["name"] for a in got["advisors by persona name"]] == ["Advisor 42"]


async def _assert_scrolling_back(store: Store, world: dict[str, str]) -> None:
    """A chat loads its newest page, then older ones by cursor: together they are the
    conversation's messages, newest first, none twice."""
    build = _messages("desc")

    async def pages(tx: Transaction) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        first = await build(tx, world).paginate(PAGE)
        second = await build(tx, world).paginate(PAGE, first.continue_cursor)
        assert not second.is_done
        everything = await _messages("asc")(tx, world).collect()
        return first.page + second.page, everything

    read, everything = (await store.query(pages)).value
    assert [m["_id"] for m in read] == [m["_id"] for m in everything[::-1][: 2 * PAGE]]
