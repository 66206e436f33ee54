"""Every table stores its valid documents exactly and refuses each kind of invalid one with
`DocumentInvalid` naming table, field and rule, with nothing written, on every backend."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advisor_chat.errors import DocumentInvalid, DocumentMissing, StoreError
from advisor_chat.schema.fields import (
    Array,
    Id,
    LiteralOf,
    Number,
    Object,
    Optional,
    Validator,
)
from advisor_chat.schema.ids import IdGenerator, table_number_of
from advisor_chat.schema.tables import TABLES
from advisor_chat.store import UNSET, Store, Transaction
from advisor_chat.store.transaction import MAX_DOCUMENT_BYTES
from tests.store.documents import (
    DOCUMENTS,
    SHAPES,
    Doc,
    Parents,
    count,
    document,
    inner,
    insert_parents,
    invalid_documents,
    message,
    user,
    wrong_type,
)

ALL_TABLES = list(TABLES)
SYSTEM = ("_id", "_creationTime")
Change = Callable[[Transaction], Awaitable[object]]


def canonical(value: Any) -> bytes:
    """Type-strict equality: `True == 1` and `1 == 1.0` in Python, not in JSON."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def body(doc: Doc) -> Doc:
    return {k: v for k, v in doc.items() if k not in SYSTEM}


async def get(store: Store, table: str, doc_id: str) -> Doc | None:
    async def read(tx: Transaction) -> Doc | None:
        return await tx.get(table, doc_id)

    return (await store.query(read)).value


async def insert(store: Store, table: str, doc: Doc) -> str:
    async def write(tx: Transaction) -> str:
        return await tx.insert(table, doc)

    return (await store.mutation(write)).value


# --- the examples are what they claim to be ------------------------------------------------


@dataclass
class Coverage:
    """Where a document leaves the schema's optional parts out, or fills them in."""

    optional_missing: list[str] = field(default_factory=list)
    optional_present: list[str] = field(default_factory=list)
    empty_arrays: list[str] = field(default_factory=list)
    open_without_extra_key: list[str] = field(default_factory=list)


def coverage(
    validator: Validator, value: Any, path: str = "", into: Coverage | None = None
) -> Coverage:
    found = Coverage() if into is None else into
    validator = inner(validator)
    if isinstance(validator, Object):
        for name, declared in validator.fields.items():
            where = f"{path}.{name}" if path else name
            optional = isinstance(declared, Optional)
            if name not in value:
                if optional:
                    found.optional_missing.append(where)
                continue
            if optional:
                found.optional_present.append(where)
            coverage(declared, value[name], where, found)
        if validator.open and not set(value) - set(validator.fields):
            found.open_without_extra_key.append(path)
    elif isinstance(validator, Array):
        if not value:
            found.empty_arrays.append(path)
        for i, item in enumerate(value):
            coverage(validator.items, item, f"{path}[{i}]", found)
    return found


def fake_parents() -> Parents:
    """Ids of the right tables, for checks that never reach a database."""
    ids = IdGenerator()
    return Parents(
        ids.new_id("users"),
        ids.new_id("advisors"),
        ids.new_id("conversations"),
        ids.new_id("messages"),
    )


def test_every_table_has_examples() -> None:
    assert list(DOCUMENTS) == ALL_TABLES


@pytest.mark.parametrize("table", ALL_TABLES)
def test_minimal_example_has_only_required_fields(table: str) -> None:
    doc = document(table, "minimal", fake_parents())
    TABLES[table].document.check(doc, table, "")
    assert coverage(TABLES[table].document, doc).optional_present == []


@pytest.mark.parametrize("table", ALL_TABLES)
def test_maximal_example_fills_every_optional_field_at_every_level(table: str) -> None:
    doc = document(table, "maximal", fake_parents())
    TABLES[table].document.check(doc, table, "")
    found = coverage(TABLES[table].document, doc)
    assert found.optional_missing == []
    assert found.empty_arrays == []
    assert found.open_without_extra_key == []


# --- valid documents round-trip ------------------------------------------------------------


@pytest.mark.parametrize("table", ALL_TABLES)
async def test_valid_documents_read_back_equal(store: Store, table: str) -> None:
    """The minimal and the maximal example: `get` and the creation-time index return the
    fields exactly (types included) plus `_id` and `_creationTime`."""
    for shape in SHAPES:
        parents = await insert_parents(store, tag=f"parent-{shape}")
        doc = document(table, shape, parents)
        sent = copy.deepcopy(doc)
        before_ms = time.time() * 1000
        doc_id = await insert(store, table, doc)
        after_ms = time.time() * 1000
        assert doc == sent, shape  # the caller's dict is not touched
        assert table_number_of(doc_id) == TABLES[table].number

        async def read(tx: Transaction, doc_id: str = doc_id) -> tuple[Doc | None, list[Doc]]:
            return await tx.get(table, doc_id), await tx.query(table, "by_creation_time").collect()

        got, listed = (await store.query(read)).value
        assert got is not None, shape
        assert set(got) == set(doc) | set(SYSTEM), shape
        assert canonical(body(got)) == canonical(doc), shape
        assert got["_id"] == doc_id
        assert type(got["_creationTime"]) is float
        assert before_ms - 1 <= got["_creationTime"] <= after_ms + 1
        assert [d for d in listed if d["_id"] == doc_id] == [got], shape


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)  # JSON's exact integers
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=JSON_VALUES)
async def test_any_json_value_reads_back_exactly(store: Store, value: Any) -> None:
    """`v.any()` fields (messages.contentJson, advisorMemories.value) keep every JSON value:
    -0.0, 1e-300, "", unicode, nesting, key order aside."""

    async def write(tx: Transaction) -> str:
        owner = await tx.insert("users", user(f"clerk-{time.time_ns()}"))
        conversation = await tx.insert(
            "conversations", {"userId": owner, "createdAt": 1, "updatedAt": 1}
        )
        return await tx.insert("messages", message(conversation) | {"contentJson": value})

    doc_id = (await store.mutation(write)).value
    got = await get(store, "messages", doc_id)
    assert got is not None
    assert canonical(got["contentJson"]) == canonical(value)


# Values the validators let through that not every database or encoder can hold. Each must
# be stored and read back exactly, or refused as `DocumentInvalid` naming the field; never a
# driver or encoder error, and never differently on one backend.
EDGE_VALUES: list[tuple[str, str, Any, str]] = [
    ("users", "clerkId", "a\x00b", "NUL in an indexed string"),
    ("advisors", "tags", ["a\x00b"], "NUL in an indexed array (advisors__by_tags)"),
    ("users", "name", "a\x00b", "NUL in an unindexed string"),
    ("users", "name", "\ud800", "lone surrogate"),
    ("users", "createdAt", 2**64, "integer beyond 64 bits"),
    ("users", "createdAt", -0.0, "negative zero"),
    ("users", "createdAt", 5e-324, "smallest subnormal"),
    ("users", "createdAt", 2**53, "largest exact integer"),
]


async def test_edge_values_are_stored_exactly_or_refused_by_the_validator(store: Store) -> None:
    parents = await insert_parents(store)
    problems: list[str] = []
    for n, (table, name, value, label) in enumerate(EDGE_VALUES):
        doc = document(table, "minimal", parents) | {name: value}
        if table == "users":
            doc["clerkId"] = doc["clerkId"] if name == "clerkId" else f"clerk-edge-{n}"
        before = await count(store, table)
        outcome: str | StoreError | TypeError
        try:
            outcome = await insert(store, table, doc)
        except (StoreError, TypeError) as error:  # TypeError: what orjson raises today
            outcome = error
        if isinstance(outcome, DocumentInvalid):
            if outcome.table != table or not outcome.field.startswith(name):
                problems.append(f"{label}: refused naming {outcome.table}.{outcome.field}")
            if await count(store, table) != before:
                problems.append(f"{label}: refused, but a row was written")
        elif isinstance(outcome, Exception):
            problems.append(f"{label}: {type(outcome).__name__}: {outcome}")
        else:
            got = await get(store, table, outcome)
            if got is None or canonical(body(got)) != canonical(doc):
                problems.append(f"{label}: read back as {got!r:.80}")
    assert not problems, "\n".join(problems)


# --- invalid documents are refused ---------------------------------------------------------


@pytest.mark.parametrize("table", ALL_TABLES)
def test_every_kind_of_mistake_is_covered(table: str) -> None:
    kinds = {i.kind for i in invalid_documents(table, fake_parents())}
    expected = {"missing required", "wrong type", "unknown field", "system field"}
    validators = [inner(v) for v in TABLES[table].document.fields.values()]
    if any(isinstance(v, Number) for v in validators):
        expected |= {"non-finite", "bool as number"}
    if any(isinstance(v, LiteralOf) for v in validators):
        expected.add("literal not allowed")
    if any(isinstance(v, Id) for v in validators):
        expected.add("id of another table")
    assert expected <= kinds
    if table == "advisors":
        nested = {i.field for i in invalid_documents(table, fake_parents()) if i.kind == "nested"}
        assert {"persona.education.graduationYear", "persona.title", "persona.nickname"} <= nested


@pytest.mark.parametrize("table", ALL_TABLES)
async def test_invalid_writes_are_refused_and_change_nothing(store: Store, table: str) -> None:
    """Insert (after a valid insert in the same mutation), patch and replace."""
    parents = await insert_parents(store)
    await _check_invalid_inserts(store, table, parents)
    await _check_invalid_updates(store, table, parents)


async def _check_invalid_inserts(store: Store, table: str, parents: Parents) -> None:
    valid = document(table, "maximal", parents)
    for case in invalid_documents(table, parents):
        before = await count(store, table)

        async def valid_then_invalid(tx: Transaction, doc: Doc = case.doc) -> None:
            await tx.insert(table, valid)
            await tx.insert(table, doc)

        with pytest.raises(DocumentInvalid) as caught:
            await store.mutation(valid_then_invalid)
        error = caught.value
        assert error.table == table, case.kind
        assert case.named_by(error.field), (case.kind, error.field)
        assert case.rule in error.rule, (case.kind, error.rule)
        assert str(error).startswith(f"{table}.{error.field}: "), case.kind
        assert await count(store, table) == before, case.kind


async def test_a_document_that_is_not_an_object_is_refused(store: Store) -> None:
    with pytest.raises(DocumentInvalid) as caught:
        await store.mutation(lambda tx: tx.insert("users", [("clerkId", "x")]))  # type: ignore[arg-type]  # the JSON edge
    assert (caught.value.table, caught.value.field) == ("users", "(document)")
    assert await count(store, "users") == 0


async def test_a_caught_invalid_write_wrote_nothing_and_the_mutation_goes_on(store: Store) -> None:
    """Validation happens before SQL, so (as in Convex) a mutation may catch it and carry on;
    what it does write commits, the same on every backend."""

    async def catch_and_go_on(tx: Transaction) -> str:
        with pytest.raises(DocumentInvalid):
            await tx.insert("users", user("clerk-bad") | {"plan": 3})
        return await tx.insert("users", user("clerk-good"))

    good = (await store.mutation(catch_and_go_on)).value

    async def read(tx: Transaction) -> list[str]:
        return [d["clerkId"] for d in await tx.query("users").collect()]

    assert (await store.query(read)).value == ["clerk-good"]
    assert await get(store, "users", good) is not None


# --- patch and replace ---------------------------------------------------------------------


async def _check_invalid_updates(store: Store, table: str, parents: Parents) -> None:
    doc_id = await insert(store, table, document(table, "maximal", parents))
    original = await get(store, table, doc_id)
    assert original is not None
    fields = TABLES[table].document.fields
    required = next(n for n, f in fields.items() if not isinstance(f, Optional))
    wrong = wrong_type(inner(fields[required]))
    assert wrong is not None
    wrong_value, wrong_rule = wrong
    minimal = document(table, "minimal", parents)
    number = next(n for n, f in fields.items() if isinstance(inner(f), Number))
    cases: list[tuple[str, Change, str, str]] = [
        (
            "patch wrong type",
            lambda tx: tx.patch(table, doc_id, {required: wrong_value}),
            required,
            wrong_rule,
        ),
        (
            "patch unsets a required field",
            lambda tx: tx.patch(table, doc_id, {required: UNSET}),
            required,
            "required field missing",
        ),
        (
            "patch adds an unknown field",
            lambda tx: tx.patch(table, doc_id, {"bogus": 1}),
            "bogus",
            "unknown field",
        ),
        (
            "patch non-finite",
            lambda tx: tx.patch(table, doc_id, {number: math.nan}),
            number,
            "number must be finite",
        ),
        (
            "patch bool as number",
            lambda tx: tx.patch(table, doc_id, {number: False}),
            number,
            "expected number, got boolean",
        ),
        (
            "patch _id",
            lambda tx: tx.patch(table, doc_id, {"_id": parents.user}),
            "_id",
            "system field",
        ),
        (
            "patch _creationTime",
            lambda tx: tx.patch(table, doc_id, {"_creationTime": 1.0}),
            "_creationTime",
            "system field",
        ),
        (
            "replace without a required field",
            lambda tx: tx.replace(
                table, doc_id, {k: v for k, v in minimal.items() if k != required}
            ),
            required,
            "required field missing",
        ),
        (
            "replace with an unknown field",
            lambda tx: tx.replace(table, doc_id, minimal | {"bogus": 1}),
            "bogus",
            "unknown field",
        ),
    ]
    for kind, change, field_name, rule in cases:
        with pytest.raises(DocumentInvalid) as caught:
            await store.mutation(change)
        assert (caught.value.table, caught.value.field) == (table, field_name), kind
        assert rule in caught.value.rule, (kind, caught.value.rule)
        assert await get(store, table, doc_id) == original, kind

    # A valid replace keeps _id and _creationTime; the store still writes.
    replaced = (await store.mutation(lambda tx: tx.replace(table, doc_id, minimal))).value
    assert replaced == minimal | {k: original[k] for k in SYSTEM}
    assert await get(store, table, doc_id) == replaced


async def test_replace_cannot_set_system_fields(store: Store) -> None:
    """A system field in `replace` must be refused as in insert and patch. Passing another
    document's `_id` must never overwrite that other document."""
    first = await insert(store, "users", user("clerk-first"))
    second = await insert(store, "users", user("clerk-second"))
    before = {d: await get(store, "users", d) for d in (first, second)}
    for system, value in (("_id", second), ("_creationTime", 5.0)):

        async def replace(tx: Transaction, system: str = system, value: Any = value) -> Doc:
            return await tx.replace("users", first, user("clerk-evil") | {system: value})

        with pytest.raises(DocumentInvalid) as caught:
            await store.mutation(replace)
        assert (caught.value.table, caught.value.field) == ("users", system)
        assert {d: await get(store, "users", d) for d in (first, second)} == before, system


async def test_patch_sets_and_unsets_fields(store: Store) -> None:
    parents = await insert_parents(store)
    doc_id = await insert(store, "conversations", document("conversations", "maximal", parents))
    outcome = await store.mutation(
        lambda tx: tx.patch("conversations", doc_id, {"title": "Renamed", "legacyId": UNSET})
    )
    got = await get(store, "conversations", doc_id)
    assert got == outcome.value
    assert got is not None
    assert got["title"] == "Renamed"
    assert "legacyId" not in got
    assert outcome.commit is not None
    assert [w.id for w in outcome.commit.writes] == [doc_id]


async def test_writes_to_a_missing_document_raise_document_missing(store: Store) -> None:
    parents = await insert_parents(store)
    gone = parents.message
    await store.mutation(lambda tx: tx.delete("messages", gone))
    changes: list[Change] = [
        lambda tx: tx.patch("messages", gone, {"content": "x"}),
        lambda tx: tx.replace("messages", gone, message(parents.conversation)),
        lambda tx: tx.delete("messages", gone),
        # An id of another table names no message either.
        lambda tx: tx.patch("messages", parents.user, {"content": "x"}),
        lambda tx: tx.patch("messages", "not an id!", {"content": "x"}),
    ]
    for change in changes:
        with pytest.raises(DocumentMissing) as caught:
            await store.mutation(change)
        assert caught.value.table == "messages"
    assert await count(store, "messages") == 0


# --- size ----------------------------------------------------------------------------------


async def test_documents_over_one_mib_are_refused(store: Store) -> None:
    parents = await insert_parents(store)
    before = await count(store, "messages")
    for content in ("x" * MAX_DOCUMENT_BYTES, "é" * (MAX_DOCUMENT_BYTES // 2 + 1)):  # bytes count
        with pytest.raises(DocumentInvalid) as caught:
            await insert(store, "messages", message(parents.conversation, content))
        assert (caught.value.table, caught.value.field) == ("messages", "(document)")
        assert f"larger than {MAX_DOCUMENT_BYTES} bytes" in caught.value.rule
    assert await count(store, "messages") == before

    # Just under the limit is fine; growing it past the limit by a patch is refused.
    near = MAX_DOCUMENT_BYTES - 1024
    doc_id = await insert(store, "messages", message(parents.conversation, "y" * near))
    stored = await get(store, "messages", doc_id)
    assert stored is not None
    assert len(stored["content"]) == near
    with pytest.raises(DocumentInvalid):
        await store.mutation(lambda tx: tx.patch("messages", doc_id, {"error": "z" * 2048}))
    assert await get(store, "messages", doc_id) == stored


async def test_queries_cannot_write(store: Store) -> None:
    with pytest.raises(StoreError):
        await store.query(lambda tx: tx.insert("users", user("clerk-q")))
    assert await count(store, "users") == 0


async def test_a_refused_document_leaves_the_transaction_usable(store: Store) -> None:
    """The store's own checks run before SQL (only the database's refusals end a
    transaction), and `check` runs them without writing: what importers rely on to skip
    one bad row and go on."""
    parents = await insert_parents(store)
    before = await count(store, "messages")
    too_big = message(parents.conversation, "x" * MAX_DOCUMENT_BYTES)

    async def skip_the_bad_one(tx: Transaction) -> str:
        with pytest.raises(DocumentInvalid, match="larger than"):
            tx.check("messages", too_big)
        with pytest.raises(DocumentInvalid, match="larger than"):
            await tx.insert("messages", too_big)
        with pytest.raises(DocumentInvalid, match="unknown field"):
            tx.check("messages", message(parents.conversation, "ok") | {"extra": 1})
        tx.check("messages", message(parents.conversation, "ok"))
        return await tx.insert("messages", message(parents.conversation, "ok"))

    kept = (await store.mutation(skip_the_bad_one)).value
    assert await count(store, "messages") == before + 1
    assert (await get(store, "messages", kept) or {}).get("content") == "ok"
