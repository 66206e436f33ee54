"""`advisor-chat init` and `advisor-chat serve`, configured from the environment and .env."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console

from advisor_chat.errors import StoreError
from advisor_chat.log import configure_logging
from advisor_chat.settings import Settings
from advisor_chat.store import Store

app = typer.Typer(
    help="AI Advisor Chat: a self-hostable, real-time AI advisory board.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


async def _init(settings: Settings) -> list[str]:
    async with Store.from_settings(settings) as store:
        return await store.migrate()


@app.command()
def init() -> None:
    """Create the database, or upgrade an existing one in place."""
    settings = Settings()
    configure_logging(settings)
    try:
        done = asyncio.run(_init(settings))
    except (StoreError, OSError) as exc:
        console.print(f"[red]init failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    where = "PostgreSQL" if settings.uses_postgres else str(settings.sqlite_path)
    if done:
        console.print(f"Database at {where}: {len(done)} change(s) applied.")
        for line in done:
            console.print(f"  {line}")
    else:
        console.print(f"Database at {where} is up to date.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Serve the product (creating or upgrading the database first)."""
    import uvicorn

    from advisor_chat.api.app import create_app

    settings = Settings()
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_level=settings.log_level,
    )


def main() -> None:
    app()
