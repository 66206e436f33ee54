"""`advisor-chat init`, `serve`, `chat`, `users …`, `import …`, `export …`, configured from
the environment and .env."""

from __future__ import annotations

import asyncio
import gc
import secrets
import sys
from collections import Counter
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from advisor_chat.auth.accounts import Accounts
from advisor_chat.auth.secret import load_secret
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.cli.chat import chat
from advisor_chat.cli.imports import exports, imports
from advisor_chat.cli.roles import admin, list_admins
from advisor_chat.errors import AdvisorChatError, FunctionError, StoreError
from advisor_chat.importers.marketplace import load_shipped
from advisor_chat.importers.report import Report
from advisor_chat.log import configure_logging
from advisor_chat.settings import Settings
from advisor_chat.store import Store

app = typer.Typer(
    help="AI Advisor Chat: a self-hostable, real-time AI advisory board.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


async def _init(settings: Settings) -> tuple[list[str], Report]:
    async with Store.from_settings(settings) as store:
        return await store.migrate(), await load_shipped(store)


@app.command()
def init() -> None:
    """Create the database, or upgrade an existing one in place, and load the shipped
    marketplace (advisors and team templates; re-running changes nothing)."""
    settings = Settings()
    configure_logging(settings)
    try:
        done, shipped = asyncio.run(_init(settings))
    except (AdvisorChatError, OSError) as exc:
        console.print(f"[red]init failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    where = "PostgreSQL" if settings.uses_postgres else str(settings.sqlite_path)
    if done:
        console.print(f"Database at {where}: {len(done)} change(s) applied.")
        for line in done:
            console.print(f"  {line}")
    else:
        console.print(f"Database at {where} is up to date.")
    advisors = shipped.counts.get("advisors", Counter())
    teams = shipped.counts.get("teamTemplates", Counter())
    console.print(
        f"Marketplace: {sum(advisors.values())} advisors, {sum(teams.values())} team templates "
        f"({shipped.changed} added or updated)."
    )
    for item in shipped.skipped():
        console.print(f"  [red]skipped[/red] {escape(item.source)}: {escape(item.reason)}")


# Young generations collected as often as Python's defaults would, the oldest far less: a
# full collection walks every live object (each session's queries, results and read sets),
# 55-384 ms with 1,100 sessions, a pause every subscriber then waits out.
GC_THRESHOLDS = (2_000, 20, 1_000)


def quiet_collector() -> None:
    """What the server loaded before serving (modules, the app) is frozen out of every
    later collection, and full collections become rare (bench/live_fanout.py measures it)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the product (creating or upgrading the database first)."""
    import uvicorn

    from advisor_chat.api.app import create_app
    from advisor_chat.api.connections import ConnectionLimits, Connections

    settings = Settings()
    configure_logging(settings)
    connections = Connections(ConnectionLimits.from_settings(settings))
    http, ws = connections.protocols()  # the bounds before any request is read
    app = create_app(settings, connections)
    quiet_collector()
    uvicorn.run(
        app,
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level=settings.log_level,
        http=http,
        ws=ws,
        timeout_keep_alive=settings.keep_alive_timeout,
        ws_max_size=settings.ws_max_size,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


app.command()(chat)

users = typer.Typer(
    help="Local accounts and the admin role, for scripts and operators.", no_args_is_help=True
)
app.add_typer(users, name="users")
users.command("admin")(admin)
users.command("admins")(list_admins)
app.add_typer(imports, name="import")
app.add_typer(exports, name="export")


def _accounts_call(settings: Settings, work: str, *args: str) -> object:
    async def run() -> object:
        async with Store.from_settings(settings) as store:
            await store.migrate()
            accounts = Accounts(store, LocalTokens(load_secret(settings)))
            if work == "create":
                email, password, name, plan = args
                return await accounts.create(email, password, name or None, plan)
            return await accounts.token_for(args[0])

    try:
        return asyncio.run(run())
    except (FunctionError, StoreError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


@users.command("create")
def users_create(
    email: str,
    password: Annotated[
        str | None,
        typer.Option(help="Prompted for when omitted (or generated without a terminal)."),
    ] = None,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    plan: Annotated[str, typer.Option(help="free, pro or enterprise.")] = "free",
) -> None:
    """Create a local account (and its users row)."""
    settings = Settings()
    generated = False
    if password is None:
        if sys.stdin.isatty():
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password, generated = secrets.token_urlsafe(12), True
    assert password is not None
    _accounts_call(settings, "create", email, password, name, plan)
    console.print(f"Created {email} ({plan}).")
    if generated:
        console.print(f"Password: {password}")


@users.command("token")
def users_token(email: str) -> None:
    """Print a bearer token for an existing local account."""
    token = _accounts_call(Settings(), "token", email)
    print(token)


def main() -> None:
    app()
