"""Advisor and team files into the marketplace: `advisor-chat import advisors|teams`, and
the content the product ships (`advisor_chat/content/`), loaded by `init`.

Each file is one item of the report: imported, updated, unchanged, or skipped and why.
Files that cannot be read at all refuse the whole import before anything is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from advisor_chat.errors import DocumentInvalid
from advisor_chat.importers.files import Kind, load_all
from advisor_chat.importers.formats import (
    FormatProblem,
    Parsed,
    ParsedTeam,
    advisor_from_file,
    resolve_roles,
    team_from_file,
)
from advisor_chat.importers.report import Outcome, Report
from advisor_chat.importers.writing import transaction, upsert
from advisor_chat.store import Store, Transaction

P = TypeVar("P", bound=Parsed)
Batch = list[tuple[str, P]]  # (source file, parsed content)


def shipped_content() -> Path:
    """The folder of the marketplace the product ships (advisors/ and teams/)."""
    return Path(str(resources.files("advisor_chat") / "content"))


def _read(
    paths: Iterable[Path],
    kind: Kind,
    parse: Callable[[Mapping[str, Any], str], P],
    report: Report,
) -> Batch[P]:
    """Load every file (all or nothing), then parse each; a file whose content cannot
    become a document is reported as skipped."""
    table = "advisors" if kind == "advisor" else "teamTemplates"
    batch: Batch[P] = []
    for file in load_all(paths, kind):
        try:
            batch.append((str(file.path), parse(file.data, file.path.stem)))
        except FormatProblem as exc:
            report.record(table, Outcome.SKIPPED, str(file.path), str(exc), named=True)
    return batch


# What a parsed file becomes in this database: its fields and notes. Raises FormatProblem
# when it cannot be written here (the file is then skipped with that reason).
Resolve = Callable[[Transaction, P], Awaitable[tuple[dict[str, Any], list[str]]]]


async def _write(
    tx: Transaction,
    table: str,
    index: str,
    key_field: str,
    batch: Batch[P],
    resolve: Resolve[P],
    only_missing: bool,
) -> Report:
    """Upsert each parsed file by its key, one reported item each."""
    done = Report()
    for source, item in batch:
        key = {key_field: item.legacy_id}
        if only_missing and await tx.query(table, index).eq(key_field, item.legacy_id).first():
            done.record(table, Outcome.UNCHANGED, source, named=True)
            continue
        try:
            fields, notes = await resolve(tx, item)
            outcome, _ = await upsert(tx, table, index, key, fields)
        except (FormatProblem, DocumentInvalid) as exc:
            done.record(table, Outcome.SKIPPED, source, str(exc), named=True)
            continue
        done.record(table, outcome, source, "; ".join(item.notes + notes), named=True)
    return done


async def _advisor_fields(tx: Transaction, item: Parsed) -> tuple[dict[str, Any], list[str]]:
    return item.fields | {"isPublic": True}, []


async def _team_fields(tx: Transaction, item: ParsedTeam) -> tuple[dict[str, Any], list[str]]:
    board, roles, notes = resolve_roles(item, await _advisor_ids(tx, item))
    if not board:
        raise FormatProblem("none of its advisors is in this database (import their files first)")
    return item.fields | {"advisorIds": board, "advisorRoles": roles}, notes


async def write_advisors(tx: Transaction, batch: Batch[Parsed], only_missing: bool) -> Report:
    return await _write(
        tx, "advisors", "by_legacy_id", "legacyId", batch, _advisor_fields, only_missing
    )


async def write_teams(tx: Transaction, batch: Batch[ParsedTeam], only_missing: bool) -> Report:
    return await _write(
        tx, "teamTemplates", "by_template_id", "id", batch, _team_fields, only_missing
    )


async def import_advisors(store: Store, paths: Iterable[Path], *, dry_run: bool = False) -> Report:
    """Advisor files become public marketplace advisors, keyed by their advisorId."""
    report = Report(dry_run=dry_run)
    batch = _read(paths, "advisor", advisor_from_file, report)
    report.merge(
        await transaction(store, lambda tx: write_advisors(tx, batch, False), dry_run=dry_run)
    )
    return report


async def import_teams(store: Store, paths: Iterable[Path], *, dry_run: bool = False) -> Report:
    """Team files become team templates keyed by teamId; their roles point at advisors
    already imported (by advisorId), in session priority order."""
    report = Report(dry_run=dry_run)
    batch = _read(paths, "team", team_from_file, report)
    report.merge(
        await transaction(store, lambda tx: write_teams(tx, batch, False), dry_run=dry_run)
    )
    return report


async def load_shipped(
    store: Store, *, dry_run: bool = False, only_missing: bool = False
) -> Report:
    """The shipped marketplace, advisors then teams, in one transaction. Re-running
    changes nothing; `only_missing` adds what is absent and leaves the rest as it is."""
    content = shipped_content()
    report = Report(dry_run=dry_run)
    advisors = _read([content / "advisors"], "advisor", advisor_from_file, report)
    teams = _read([content / "teams"], "team", team_from_file, report)

    async def write(tx: Transaction) -> Report:
        done = await write_advisors(tx, advisors, only_missing)
        done.merge(await write_teams(tx, teams, only_missing))
        return done

    report.merge(await transaction(store, write, dry_run=dry_run))
    return report


async def _advisor_ids(tx: Transaction, team: ParsedTeam) -> dict[str, str]:
    """The advisorIds its roles name, mapped to the advisors' ids here (found ones only)."""
    found: dict[str, str] = {}
    for role in team.roles:
        legacy = role.get("advisorId")
        if type(legacy) is not str or legacy in found:
            continue
        advisor = await tx.query("advisors", "by_legacy_id").eq("legacyId", legacy).first()
        if advisor is not None:
            found[legacy] = advisor["_id"]
    return found
