"""Every declared index really exists, per the database's own catalog."""

from __future__ import annotations

from advisor_chat.schema.derive import all_layouts
from advisor_chat.store import Store, Transaction
from advisor_chat.store.backend import Catalog
from advisor_chat.store.search import name_in_catalog
from advisor_chat.store.sql import table_fillfactor

TAIL = ("_creationTime", "_id")


async def _catalog(store: Store) -> Catalog:
    async def read(tx: Transaction) -> Catalog:
        return await store.backend.catalog(tx.conn)

    return (await store.query(read)).value


async def test_every_declared_index_exists_with_its_fields_in_order(store: Store) -> None:
    catalog = await _catalog(store)
    count = 0
    for layout in all_layouts():
        for index in layout.indexes.values():
            table = index.entries_table or layout.name
            columns = index.field_names if index.unique else (*index.field_names, *TAIL)
            assert catalog.indexes.get(index.sql_name) == (table, columns, index.unique), (
                index.sql_name
            )
            count += 1
    assert count == sum(len(layout.indexes) for layout in all_layouts())


async def test_every_table_has_its_declared_fillfactor(store: Store) -> None:
    """PostgreSQL: the quota counters keep room for in-place (HOT) updates, every other
    table is at the default; SQLite has no such setting."""
    catalog = await _catalog(store)
    dialect = store.backend.dialect
    declared = {
        layout.name: fillfactor
        for layout in all_layouts()
        if (fillfactor := table_fillfactor(dialect, layout)) is not None
    }
    assert catalog.fillfactors == declared
    assert declared == ({} if _is_sqlite(store) else {"rateLimits": 50})


# The seed's indexes, written out by hand so a wrong derivation cannot pass by construction.
SEED_INDEXES = {
    "users.by_clerk_id": ("users", ("clerkId",), True),
    "users.by_email": ("users", ("email", *TAIL), False),
    "advisors.by_tags": ("advisors__by_tags", ("tags", *TAIL), False),
    "advisors.by_persona_name": ("advisors", ("persona.name", *TAIL), False),
    "advisors.by_public_featured": ("advisors", ("isPublic", "featured", *TAIL), False),
    "advisors.by_public_category": ("advisors", ("isPublic", "category", *TAIL), False),
    "userAdvisors.by_user_advisor": ("userAdvisors", ("userId", "advisorId"), True),
    "userAdvisors.by_selected_at": ("userAdvisors", ("selectedAt", *TAIL), False),
    "teamTemplates.by_featured_sort": ("teamTemplates", ("featured", "sortOrder", *TAIL), False),
    "teamTemplates.by_category_sort": ("teamTemplates", ("category", "sortOrder", *TAIL), False),
    "conversations.by_user_updated": ("conversations", ("userId", "updatedAt", *TAIL), False),
    "conversations.by_advisor": ("conversations", ("activeAdvisorId", *TAIL), False),
    "messages.by_conversation_created": (
        "messages",
        ("conversationId", "createdAt", *TAIL),
        False,
    ),
    "messages.by_sender": ("messages", ("sender", *TAIL), False),
    "advisorMemories.by_conversation_advisor_key": (
        "advisorMemories",
        ("conversationId", "advisorId", "key"),
        True,
    ),
    "threadSummaries.by_conversation": ("threadSummaries", ("conversationId", *TAIL), False),
    "typingIndicators.by_conversation_typing": (
        "typingIndicators",
        ("conversationId", "isTyping", *TAIL),
        False,
    ),
    "typingIndicators.by_conversation_user": (
        "typingIndicators",
        ("conversationId", "userId"),
        True,
    ),
    "userPresence.by_user": ("userPresence", ("userId",), True),
    "userPresence.by_conversation": ("userPresence", ("currentConversationId", *TAIL), False),
}


async def test_the_seed_indexes_by_hand(store: Store) -> None:
    catalog = await _catalog(store)
    for name, expected in SEED_INDEXES.items():
        assert catalog.indexes.get(name) == expected, name


async def test_every_seed_index_name_is_declared(store: Store) -> None:
    """All 46 indexes of the seed, by table and name."""
    seed = {
        "users": ["by_clerk_id", "by_email", "by_plan"],
        "advisors": [
            "by_status",
            "by_tags",
            "by_created_at",
            "by_schema_version",
            "by_persona_name",
            "by_owner",
            "by_public",
            "by_featured",
            "by_category",
            "by_public_featured",
            "by_public_category",
        ],
        "userAdvisors": [
            "by_user",
            "by_advisor",
            "by_user_advisor",
            "by_team",
            "by_source",
            "by_selected_at",
        ],
        "teamTemplates": [
            "by_category",
            "by_featured",
            "by_sort_order",
            "by_featured_sort",
            "by_category_sort",
        ],
        "conversations": ["by_user", "by_advisor", "by_updated_at", "by_user_updated"],
        "messages": [
            "by_conversation",
            "by_conversation_created",
            "by_advisor",
            "by_sender",
            "by_created_at",
        ],
        "advisorMemories": [
            "by_conversation",
            "by_advisor",
            "by_conversation_advisor",
            "by_conversation_advisor_key",
        ],
        "threadSummaries": ["by_conversation", "by_created_at"],
        "typingIndicators": ["by_conversation", "by_user", "by_conversation_typing"],
        "userPresence": ["by_user", "by_online", "by_conversation"],
    }
    assert sum(len(v) for v in seed.values()) == 46
    catalog = await _catalog(store)
    for table, names in seed.items():
        for name in names:
            assert f"{table}.{name}" in catalog.indexes, f"{table}.{name}"


async def test_the_catalog_holds_nothing_undeclared(store: Store) -> None:
    """Tables: the declared ones, their entries tables, `_meta`, the commit log `_commits`
    (on SQLite with the `sqlite_sequence` its AUTOINCREMENT keeps), and on SQLite each search
    index's FTS5 table with the shadow tables FTS5 keeps. Indexes: the declared ones,
    each entries table's lookup by `_id`, the primary keys, and on PostgreSQL each search
    index's GIN index."""
    catalog = await _catalog(store)
    layouts = all_layouts()
    arrays = [i for layout in layouts for i in layout.indexes.values() if i.entries_table]
    tables = {layout.name for layout in layouts} | {i.entries_table for i in arrays}
    searches = [
        name_in_catalog(store.backend.dialect, layout, s)
        for layout in layouts
        for s in layout.table.search_indexes
    ]
    assert searches == [
        "messages__search_content" if _is_sqlite(store) else "messages.search_content"
    ]
    if _is_sqlite(store):
        shadows = ("", "_data", "_idx", "_docsize", "_config")
        tables |= {f"{name}{suffix}" for name in searches for suffix in shadows}
    own = {"_meta", "_commits"} | ({"sqlite_sequence"} if _is_sqlite(store) else set())
    assert set(catalog.columns) == tables | own
    declared = {i.sql_name for layout in layouts for i in layout.indexes.values()}
    declared |= {f"{i.entries_table}.by_doc" for i in arrays}
    declared |= set(searches)
    for name, (_table, columns, unique) in catalog.indexes.items():
        if columns in (("_id",), ("key",), ("seq",)) and unique:
            continue  # a primary key (PostgreSQL lists them under its own names)
        assert name in declared, name


def _is_sqlite(store: Store) -> bool:
    return store.backend.dialect.name == "sqlite"
