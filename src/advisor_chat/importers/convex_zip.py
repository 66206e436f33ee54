"""Convex snapshot exports, both ways: `advisor-chat export convex FILE.zip` and
`advisor-chat import convex FILE.zip`.

The layout is Convex's (`npx convex export`): `_tables/documents.jsonl` lists the tables
(`{"name", "id"}` a line), `<table>/documents.jsonl` holds one document a line with its
`_id` and `_creationTime`, `_storage/documents.jsonl` lists stored files (we have none).
We write no `generated_schema.jsonl`: our values are plain JSON (float64 numbers, strings,
booleans, arrays, objects, null), which Convex reads without one.

An import keeps every document's `_id` and `_creationTime`, so references between
documents hold. It is one transaction: a ZIP that is not a Convex export or holds a line
that is not JSON changes nothing; a document our schema refuses is reported and skipped.
Tables we do not have are reported, not guessed at. Scheduled calls are neither exported
nor imported.
"""

from __future__ import annotations

import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson

from advisor_chat.errors import DocumentInvalid, SourceInvalid
from advisor_chat.importers.report import NoProgress, Outcome, Progress, Report
from advisor_chat.importers.writing import transaction, unique_conflict
from advisor_chat.schema.ids import TABLE_NUMBERS
from advisor_chat.schema.tables import SYSTEM_FIELDS, TABLES
from advisor_chat.store import Store, Transaction

TABLE_LIST = "_tables/documents.jsonl"
STORAGE_LIST = "_storage/documents.jsonl"
CONVEX_TABLE_BASE = 10000  # Convex numbers user tables from 10001
PAGE = 1000
#: Every table but the scheduled calls (carried to another server they would run there
#: again, as their callers; Convex leaves its `_scheduled_functions` out too), the
#: sign-in throttle's counters and mutation receipts (short-lived, of this server's clients).
NOT_EXPORTED = ("scheduledFunctions", "throttles", "mutationReceipts")
EXPORTED = tuple(name for name in TABLES if name not in NOT_EXPORTED)
README = """# AI Advisor Chat snapshot export

This ZIP has the layout of a Convex snapshot export. `_tables/documents.jsonl` lists the
tables; each `<table>/documents.jsonl` holds one JSON document a line, with its `_id` and
`_creationTime`. Load it with `advisor-chat import convex FILE.zip` or
`npx convex import FILE.zip`.
"""


async def export_convex(store: Store, path: Path, *, progress: Progress | None = None) -> Report:
    """Every table, read in one consistent snapshot, each in creation order. Written to a
    temporary file beside `path` and renamed, so a failed export never leaves half a ZIP."""
    bars = progress or NoProgress()
    report = Report()
    partial = path.with_name(path.name + ".partial")

    async def read(tx: Transaction) -> None:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("README.md", README)
            listing = b"".join(
                orjson.dumps({"name": name, "id": CONVEX_TABLE_BASE + TABLE_NUMBERS[name]}) + b"\n"
                for name in EXPORTED
            )
            archive.writestr(TABLE_LIST, listing)
            archive.writestr(STORAGE_LIST, b"")
            alive = _Alive(tx)
            for name in EXPORTED:
                bars.start(f"export {name}", None)
                left_out = 0
                with archive.open(f"{name}/documents.jsonl", "w") as out:
                    async for batch in _documents(tx, name):
                        kept = [doc for doc in batch if await alive.parents_of(name, doc)]
                        left_out += len(batch) - len(kept)
                        out.write(b"".join(orjson.dumps(doc) + b"\n" for doc in kept))
                        for _ in kept:
                            report.record(name, Outcome.EXPORTED, named=False)
                        bars.advance(f"export {name}", len(batch))
                if left_out:
                    report.notes.append(
                        f"{left_out} {name} document(s) left out: what they belong to was "
                        "deleted and they are being removed"
                    )

    try:
        await store.query(read)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return report


class _Alive:
    """Whether a document's parents (the schema's cascading `OnDelete` rules) still exist,
    and theirs: a large delete leaves its children to batches (store/cascade.py), and an
    export taken meanwhile must not carry them to a database that has no batch to remove
    them. Answers are cached per parent, so a conversation is looked up once."""

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx
        self._known: dict[tuple[str, str], bool] = {}

    async def parents_of(self, table: str, doc: dict[str, Any]) -> bool:
        for rule in TABLES[table].on_delete:
            parent_id = doc.get(rule.field)
            cascades = rule.action == "cascade" and isinstance(parent_id, str)
            if cascades and not await self._exists(rule.parent, str(parent_id)):
                return False
        return True

    async def _exists(self, table: str, doc_id: str) -> bool:
        key = (table, doc_id)
        if key not in self._known:
            doc = await self._tx.get(table, doc_id)
            self._known[key] = doc is not None and await self.parents_of(table, doc)
        return self._known[key]


async def _documents(tx: Transaction, table: str) -> AsyncIterator[list[dict[str, Any]]]:
    cursor: str | None = None
    while True:
        page = await tx.query(table).paginate(PAGE, cursor)
        if page.page:
            yield page.page
        if page.is_done:
            return
        cursor = page.continue_cursor


def _open(path: Path) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise SourceInvalid(str(path), "no such file") from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceInvalid(str(path), f"not a ZIP file ({exc})") from exc
    names = set(archive.namelist())
    if TABLE_LIST not in names:
        archive.close()
        raise SourceInvalid(str(path), f"not a Convex export: it has no {TABLE_LIST}")
    return archive


def _lines(archive: zipfile.ZipFile, member: str, label: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line; a malformed line refuses the file."""
    with archive.open(member) as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            try:
                yield number, orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise SourceInvalid(
                    f"{label}:{member}", f"line {number}: not JSON ({exc})"
                ) from exc


def _tables(archive: zipfile.ZipFile, label: str) -> list[str]:
    names: list[str] = []
    for number, entry in _lines(archive, TABLE_LIST, label):
        if type(entry) is not dict or type(entry.get("name")) is not str:
            raise SourceInvalid(f"{label}:{TABLE_LIST}", f'line {number}: expected {{"name": …}}')
        names.append(entry["name"])
    return names


async def import_convex(
    store: Store, path: Path, *, dry_run: bool = False, progress: Progress | None = None
) -> Report:
    bars = progress or NoProgress()
    label = str(path)
    archive = _open(path)
    try:
        listed = _tables(archive, label)
        members = set(archive.namelist())
        report = Report(dry_run=dry_run)
        ours: list[str] = []
        for name in listed:
            member = f"{name}/documents.jsonl"
            if member not in members:
                raise SourceInvalid(label, f"{TABLE_LIST} lists {name!r} but {member} is missing")
            if name in EXPORTED:
                ours.append(name)
                continue
            count = sum(1 for _ in _lines(archive, member, label))
            report.notes.append(
                f"table {name!r} is not in our schema: {count} document(s) left out"
            )
            report.record(name, Outcome.SKIPPED, member, "not a table of ours", named=True)

        async def write(tx: Transaction) -> Report:
            done = Report()
            for name in ours:
                bars.start(f"import {name}", None)
                member = f"{name}/documents.jsonl"
                for number, doc in _lines(archive, member, label):
                    source = f"{member}:{number}"
                    try:
                        outcome = await _put(tx, name, doc)
                    except DocumentInvalid as exc:
                        done.record(name, Outcome.SKIPPED, source, str(exc), named=True)
                        continue
                    done.record(name, outcome, source, named=False)
                    bars.advance(f"import {name}")
            return done

        report.merge(await transaction(store, write, dry_run=dry_run))
        return report
    finally:
        archive.close()


async def _put(tx: Transaction, table: str, doc: Any) -> Outcome:
    """Insert a document under its own _id, or bring the stored one up to date."""
    if type(doc) is not dict:
        raise DocumentInvalid(table, "(document)", "expected a JSON object")
    doc_id = doc.get("_id")
    created = doc.get("_creationTime")
    if type(doc_id) is not str:
        raise DocumentInvalid(table, "_id", "missing or not a string")
    if type(created) not in (int, float):
        raise DocumentInvalid(table, "_creationTime", "missing or not a number")
    fields = {k: v for k, v in doc.items() if k not in SYSTEM_FIELDS}
    tx.check(table, fields)  # before the unique look-ups, which need well-typed keys
    existing = await tx.get(table, doc_id)
    conflict = await unique_conflict(tx, table, fields, doc_id)
    if conflict:
        raise DocumentInvalid(table, conflict, "unique rule: already taken by another document")
    if existing is None:
        await tx.insert(table, fields, id=doc_id, creation_time=created)
        return Outcome.IMPORTED
    if {k: v for k, v in existing.items() if k not in SYSTEM_FIELDS} == fields:
        return Outcome.UNCHANGED
    await tx.replace(table, doc_id, fields)
    return Outcome.UPDATED
