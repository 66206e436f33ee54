"""`advisor-chat import …` and `advisor-chat export …`: thin commands over `importers`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from advisor_chat.cli.reports import Bars, show
from advisor_chat.errors import AdvisorChatError
from advisor_chat.importers.convex_zip import export_convex, import_convex
from advisor_chat.importers.marketplace import import_advisors, import_teams
from advisor_chat.importers.prisma import import_prisma
from advisor_chat.importers.report import Outcome, Progress, Report
from advisor_chat.log import configure_logging
from advisor_chat.settings import Settings
from advisor_chat.store import Store

imports = typer.Typer(
    help="Bring data in: advisor/team files, Prisma, Convex.", no_args_is_help=True
)
exports = typer.Typer(help="Take data out: a Convex snapshot export.", no_args_is_help=True)
console = Console(soft_wrap=True)  # paths and reasons stay whole, for grep and logs

DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; write nothing.")]
Paths = Annotated[list[Path], typer.Argument(help="Files, or folders searched for *.json.")]


class NeedsInit(AdvisorChatError):
    """A dry run against a database that `init` would first create or upgrade."""


def _run(
    title: str, work: Callable[[Store, Progress], Awaitable[Report]], *, dry_run: bool = False
) -> Report:
    """Open the store (creating or upgrading it, unless dry-running), run `work` with
    progress bars, show the report; a source that cannot be read at all exits 2 with its
    error, nothing written."""
    settings = Settings()
    configure_logging(settings)

    async def go() -> Report:
        async with Store.from_settings(settings) as store:
            pending = await store.migrate(apply=not dry_run)
            if dry_run and pending:
                raise NeedsInit(
                    f"the database needs `advisor-chat init` first ({len(pending)} change(s) "
                    "to its tables); a dry run changes nothing"
                )
            with Bars(console) as bars:
                return await work(store, bars)

    try:
        report = asyncio.run(go())
    except (AdvisorChatError, OSError) as exc:
        console.print(f"[red]{title} failed:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    show(console, report, title)
    if report.total(Outcome.SKIPPED):
        raise typer.Exit(1)
    return report


@imports.command("advisors")
def advisors(paths: Paths, dry_run: DryRun = False) -> None:
    """Advisor files (advisorSchemaVersion 1.1-base) into the marketplace, by advisorId."""
    _run(
        "Advisor import",
        lambda store, _: import_advisors(store, paths, dry_run=dry_run),
        dry_run=dry_run,
    )


@imports.command("teams")
def teams(paths: Paths, dry_run: DryRun = False) -> None:
    """Team template files, their roles pointing at advisors already imported."""
    _run(
        "Team import", lambda store, _: import_teams(store, paths, dry_run=dry_run), dry_run=dry_run
    )


@imports.command("prisma")
def prisma(
    database_url: Annotated[
        str, typer.Argument(help="The original app's database: postgresql://… or file:./dev.db")
    ],
    dry_run: DryRun = False,
) -> None:
    """Everything in the original app's Prisma database; safe to re-run or resume."""
    _run(
        "Prisma import",
        lambda store, bars: import_prisma(store, database_url, dry_run=dry_run, progress=bars),
        dry_run=dry_run,
    )


@imports.command("convex")
def convex_in(
    file: Annotated[Path, typer.Argument(help="A Convex snapshot export (.zip).")],
    dry_run: DryRun = False,
) -> None:
    """A Convex snapshot export, keeping every document's _id and _creationTime."""
    _run(
        "Convex import",
        lambda store, bars: import_convex(store, file, dry_run=dry_run, progress=bars),
        dry_run=dry_run,
    )


@exports.command("convex")
def convex_out(
    file: Annotated[Path, typer.Argument(help="The .zip to write (replaced if it exists).")],
) -> None:
    """Every table as a Convex snapshot export, importable by `npx convex import`."""
    _run("Convex export", lambda store, bars: export_convex(store, file, progress=bars))
