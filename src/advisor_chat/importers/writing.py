"""How importers write: upsert by a unique key, and a dry run that is the real run rolled
back, so it reports exactly what would change (uniqueness and validation included)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, Literal, TypeVar, cast

from advisor_chat.clock import now_ms
from advisor_chat.importers.report import Outcome
from advisor_chat.schema.tables import SYSTEM_FIELDS, TABLES
from advisor_chat.store import Store, Transaction

T = TypeVar("T")
Policy = Literal["replace", "newer", "insert"]


class _RolledBack(Exception, Generic[T]):  # control flow, never escapes this module
    def __init__(self, value: T) -> None:
        super().__init__("dry run")
        self.value = value


async def transaction(
    store: Store, fn: Callable[[Transaction], Awaitable[T]], *, dry_run: bool
) -> T:
    """Run `fn` in one mutation; with `dry_run`, roll it back and return what it returned.

    `fn` may run more than once (a conflict retries it), so it must build its report
    afresh each time and return it rather than add to one outside.
    """

    async def run(tx: Transaction) -> T:
        value = await fn(tx)
        if dry_run:
            raise _RolledBack(value)
        return value

    try:
        return (await store.mutation(run)).value
    except _RolledBack as rolled_back:
        return cast(T, rolled_back.value)


async def upsert(
    tx: Transaction,
    table: str,
    index: str,
    key: Mapping[str, Any],
    fields: dict[str, Any],
    *,
    timestamps: tuple[str, ...] = ("createdAt", "updatedAt"),
    creation_time: float | None = None,
    id: str | None = None,
    policy: Policy = "replace",
) -> tuple[Outcome, str]:
    """Insert the document found by `key` on the unique `index`, or bring it up to date:
    `replace` it with `fields`; or, with `newer`, only when the source's `updatedAt` is not
    older than the stored one's (else only the fields the stored document lacks are
    added: what changed here since wins); or, with `insert`, leave it as it is.

    Timestamps the source did not give keep the stored document's values (or become now
    on insert), so re-importing an unchanged source changes nothing. A document the
    schema refuses raises `DocumentInvalid` and leaves the transaction usable for the next
    (the store checks before it writes).
    """
    q = tx.query(table, index)
    for name, value in key.items():
        q = q.eq(name, value)
    existing = await q.unique()
    now = now_ms()
    for name in timestamps:
        if name not in fields:
            fields[name] = existing[name] if existing and name in existing else now
    if existing is None:
        doc_id = await tx.insert(table, fields, id=id, creation_time=creation_time)
        return Outcome.IMPORTED, doc_id
    current = {k: v for k, v in existing.items() if k not in SYSTEM_FIELDS}
    if current == fields or policy == "insert":
        return Outcome.UNCHANGED, existing["_id"]
    if policy == "newer" and current.get("updatedAt", 0) > fields.get("updatedAt", 0):
        gaps = {k: v for k, v in fields.items() if k not in current}
        if not gaps:
            return Outcome.UNCHANGED, existing["_id"]
        await tx.patch(table, existing["_id"], gaps)
        return Outcome.UPDATED, existing["_id"]
    await tx.replace(table, existing["_id"], fields)
    return Outcome.UPDATED, existing["_id"]


async def unique_conflict(
    tx: Transaction, table: str, fields: Mapping[str, Any], own_id: str
) -> str | None:
    """The unique index `fields` would break if written as document `own_id` (another
    document holds the same key), or None. Checked before writing, because a refused
    write would fail the whole transaction."""
    for index in TABLES[table].indexes:
        if not index.unique or any(name not in fields for name in index.fields):
            continue
        q = tx.query(table, index.name)
        for name in index.fields:
            q = q.eq(name, fields[name])
        holder = await q.first()
        if holder is not None and holder["_id"] != own_id:
            return index.name
    return None
