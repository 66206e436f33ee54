"""Advisor and team files into the marketplace: `advisor-chat import advisors|teams`, and
the content the product ships (`advisor_chat/content/`), loaded by `init`.

Each file is one item of the report: imported, updated, unchanged, or skipped and why.
Files that cannot be read at all refuse the whole import before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
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


async def write_advisors(tx: Transaction, batch: Batch[Parsed], only_missing: bool) -> Report:
    done = Report()
    for source, item in batch:
        key = {"legacyId": item.legacy_id}
        if only_missing and await _exists(tx, "advisors", "by_legacy_id", key):
            done.record("advisors", Outcome.UNCHANGED, source, named=True)
            continue
        fields = item.fields | {"isPublic": True}
        try:
            outcome, _ = await upsert(tx, "advisors", "by_legacy_id", key, fields)
        except DocumentInvalid as exc:
            done.record("advisors", Outcome.SKIPPED, source, str(exc), named=True)
            continue
        done.record("advisors", outcome, source, "; ".join(item.notes), named=True)
    return done


async def write_teams(tx: Transaction, batch: Batch[ParsedTeam], only_missing: bool) -> Report:
    done = Report()
    for source, item in batch:
        key = {"id": item.legacy_id}
        if only_missing and await _exists(tx, "teamTemplates", "by_template_id", key):
            done.record("teamTemplates", Outcome.UNCHANGED, source, named=True)
            continue
        board, roles, notes = resolve_roles(item, await _advisor_ids(tx, item))
        if not board:
            reason = "none of its advisors is in this database (import their files first)"
            done.record("teamTemplates", Outcome.SKIPPED, source, reason, named=True)
            continue
        fields = item.fields | {"advisorIds": board, "advisorRoles": roles}
        try:
            outcome, _ = await upsert(tx, "teamTemplates", "by_template_id", key, fields)
        except DocumentInvalid as exc:
            done.record("teamTemplates", Outcome.SKIPPED, source, str(exc), named=True)
            continue
        done.record("teamTemplates", outcome, source, "; ".join(item.notes + notes), named=True)
    return done


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


async def _exists(tx: Transaction, table: str, index: str, key: Mapping[str, str]) -> bool:
    [(field, value)] = key.items()
    return await tx.query(table, index).eq(field, value).first() is not None


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
