"""Every table accepts valid documents and rejects each kind of invalid one, unchanged."""

from __future__ import annotations

import math
from typing import Any

import pytest

from advisor_chat.errors import DocumentInvalid, DocumentMissing, StoreError
from advisor_chat.schema.fields import Id, LiteralOf, Number, Optional, String, Validator
from advisor_chat.schema.tables import TABLES
from advisor_chat.store import UNSET, Store, Transaction
from tests.store.examples import Parents, example, make_parents

ALL_TABLES = list(TABLES)


async def _parents(store: Store) -> Parents:
    return (await store.mutation(make_parents)).value


async def _count(store: Store, table: str) -> int:
    async def run(tx: Transaction) -> int:
        return len(await tx.query(table).collect())

    return (await store.query(run)).value


def _inner(validator: Validator) -> Validator:
    return validator.inner if isinstance(validator, Optional) else validator


def _fields(table: str) -> dict[str, Validator]:
    return dict(TABLES[table].document.fields)


@pytest.mark.parametrize("full", [False, True], ids=["minimal", "full"])
@pytest.mark.parametrize("table", ALL_TABLES)
async def test_valid_document_round_trips(store: Store, table: str, full: bool) -> None:
    parents = await _parents(store)
    doc = example(table, parents, full=full)

    async def insert(tx: Transaction) -> str:
        return await tx.insert(table, doc)

    doc_id = (await store.mutation(insert)).value

    async def read(tx: Transaction) -> dict[str, Any] | None:
        return await tx.get(table, doc_id)

    stored = (await store.query(read)).value
    assert stored is not None
    assert stored["_id"] == doc_id
    assert isinstance(stored["_creationTime"], float)
    assert {k: v for k, v in stored.items() if not k.startswith("_")} == doc


def _invalid_variants(table: str, parents: Parents) -> list[tuple[str, dict[str, Any], str, str]]:
    """(kind, document, field named in the error, words in the rule)."""
    base = example(table, parents, full=False)
    fields = _fields(table)
    variants: list[tuple[str, dict[str, Any], str, str]] = []
    required = next(n for n, v in fields.items() if not isinstance(v, Optional))
    missing = {k: v for k, v in base.items() if k != required}
    variants.append(("missing required", missing, required, "required field missing"))
    for name, validator in fields.items():
        if name in base and isinstance(_inner(validator), String | Id | LiteralOf):
            variants.append(("wrong type", base | {name: 123}, name, "got number"))
            break
    variants.append(("unknown field", base | {"bogus": 1}, "bogus", "unknown field"))
    variants.append(("system field", base | {"_id": "abc"}, "_id", "system field"))
    optional = [n for n, v in fields.items() if isinstance(v, Optional)]
    if optional:
        variants.append(("null for optional", base | {optional[0]: None}, optional[0], "got null"))
    for name, validator in fields.items():
        if isinstance(_inner(validator), LiteralOf):
            variants.append(("wrong literal", base | {name: "nonsense"}, name, "expected one of"))
            break
    for name, validator in fields.items():
        inner = _inner(validator)
        if isinstance(inner, Id):
            other = parents.message if inner.table != "messages" else parents.user
            variants.append(("id of another table", base | {name: other}, name, "another table"))
            break
    for name, validator in fields.items():
        if isinstance(_inner(validator), Number):
            variants.append(("non-finite number", base | {name: math.inf}, name, "finite"))
            break
    if table == "advisors":
        persona = base["persona"] | {"education": {"graduationYear": "2004"}}
        variants.append(
            (
                "nested invalid",
                base | {"persona": persona},
                "persona.education.graduationYear",
                "got string",
            )
        )
    return variants


@pytest.mark.parametrize("table", ALL_TABLES)
async def test_invalid_documents_are_rejected_and_nothing_is_written(
    store: Store, table: str
) -> None:
    parents = await _parents(store)
    variants = _invalid_variants(table, parents)
    assert len(variants) >= 5
    before = await _count(store, table)
    for kind, doc, field, rule in variants:

        async def insert(tx: Transaction, doc: dict[str, Any] = doc) -> str:
            return await tx.insert(table, doc)

        with pytest.raises(DocumentInvalid) as caught:
            await store.mutation(insert)
        assert caught.value.table == table, kind
        assert caught.value.field == field, kind
        assert rule in caught.value.rule, (kind, caught.value.rule)
        assert str(caught.value).startswith(f"{table}.{field}: "), kind
    assert await _count(store, table) == before


async def test_a_failed_write_rolls_back_the_whole_mutation(store: Store) -> None:
    parents = await _parents(store)

    async def two_writes(tx: Transaction) -> None:
        await tx.insert("messages", example("messages", parents, full=True))
        await tx.insert("messages", example("messages", parents, full=False) | {"sender": "bot"})

    before = await _count(store, "messages")
    with pytest.raises(DocumentInvalid):
        await store.mutation(two_writes)
    assert await _count(store, "messages") == before


async def test_patch_and_replace_are_validated_and_leave_the_old_document(store: Store) -> None:
    parents = await _parents(store)

    async def read(tx: Transaction) -> dict[str, Any] | None:
        return await tx.get("conversations", parents.conversation)

    original = (await store.query(read)).value
    for change in (
        lambda tx: tx.patch("conversations", parents.conversation, {"title": 7}),
        lambda tx: tx.patch("conversations", parents.conversation, {"userId": UNSET}),
        lambda tx: tx.replace("conversations", parents.conversation, {"title": "no owner"}),
    ):
        with pytest.raises(DocumentInvalid):
            await store.mutation(change)
    assert (await store.query(read)).value == original

    patched = await store.mutation(
        lambda tx: tx.patch("conversations", parents.conversation, {"title": "Renamed"})
    )
    assert patched.value["title"] == "Renamed"
    assert (await store.query(read)).value == patched.value


async def test_writes_to_a_missing_document_raise_document_missing(store: Store) -> None:
    parents = await _parents(store)
    await store.mutation(lambda tx: tx.delete("messages", parents.message))
    for change in (
        lambda tx: tx.patch("messages", parents.message, {"content": "x"}),
        lambda tx: tx.replace(
            "messages", parents.message, example("messages", parents, full=False)
        ),
        lambda tx: tx.delete("messages", parents.message),
    ):
        with pytest.raises(DocumentMissing):
            await store.mutation(change)


async def test_oversized_document_is_rejected(store: Store) -> None:
    parents = await _parents(store)
    doc = example("messages", parents, full=False) | {"content": "x" * (1 << 20)}
    with pytest.raises(DocumentInvalid) as caught:
        await store.mutation(lambda tx: tx.insert("messages", doc))
    assert "larger than" in caught.value.rule


async def test_queries_cannot_write(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.query(
            lambda tx: tx.insert(
                "users", {"clerkId": "q", "plan": "free", "createdAt": 1, "updatedAt": 1}
            )
        )
    assert await _count(store, "users") == 0
