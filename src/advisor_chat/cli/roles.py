"""`advisor-chat users admin EMAIL [--revoke]` and `advisor-chat users admins`: the admin
role (the users row's `role: "admin"`), which only an operator grants. Admin functions
(`users:getAllUsers`, `users:deleteUser`, `users:updateUserPlan`, ...) answer to it; no
function grants it, and no plan implies it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from advisor_chat.clock import now_ms
from advisor_chat.errors import AdvisorChatError, Code, FunctionError
from advisor_chat.settings import Settings
from advisor_chat.store import UNSET, Document, Store, Transaction

ADMIN = "admin"
PAGE = 500  # users rows one read of `admins` takes

console = Console(soft_wrap=True)
T = TypeVar("T")


async def user_by_email(tx: Transaction, email: str) -> Document:
    """The one users row of `email`: a local account's (by its sign-in email, any case),
    else the row whose profile email it is. Refused when none or several hold it, so a
    grant never lands on a guess."""
    wanted = email.strip()
    account = await tx.query("accounts", "by_email").eq("email", wanted.lower()).unique()
    if account is not None:
        user = await tx.get("users", account["userId"])
        if user is not None:
            return user
    found = await tx.query("users", "by_email").eq("email", wanted).take(2)
    if not found and wanted != wanted.lower():
        found = await tx.query("users", "by_email").eq("email", wanted.lower()).take(2)
    if not found:
        raise FunctionError(Code.NOT_FOUND, f"no user with the email {wanted}")
    if len(found) > 1:
        raise FunctionError(
            Code.CONFLICT, f"several users have the email {wanted}; the role was not changed"
        )
    return found[0]


async def set_admin(store: Store, email: str, admin: bool) -> tuple[Document, bool]:
    """Grant (or revoke) the role of `email`'s user: the row, and whether it changed."""

    async def change(tx: Transaction) -> tuple[Document, bool]:
        user = await user_by_email(tx, email)
        if (user.get("role") == ADMIN) == admin:
            return user, False
        role = ADMIN if admin else UNSET
        return await tx.patch("users", user["_id"], {"role": role, "updatedAt": now_ms()}), True

    return (await store.mutation(change)).value


async def admins(store: Store) -> list[Document]:
    """Every user holding the role, oldest first: users read a page at a time (no index
    names roles; an operator's listing may walk the table, a function never does)."""
    found: list[Document] = []
    cursor: str | None = None
    while True:

        async def read(
            tx: Transaction, after: str | None = cursor
        ) -> tuple[list[Document], str, bool]:
            page = await tx.query("users").paginate(PAGE, after)
            return page.page, page.continue_cursor, page.is_done

        rows, cursor, done = (await store.query(read)).value
        found += [row for row in rows if row.get("role") == ADMIN]
        if done:
            return found


def _with_store(work: Callable[[Store], Awaitable[T]]) -> T:
    settings = Settings()

    async def run() -> T:
        async with Store.from_settings(settings) as store:
            await store.migrate()
            return await work(store)

    try:
        return asyncio.run(run())
    except (AdvisorChatError, OSError) as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from exc


def _who(user: Document) -> str:
    label = user.get("email") or user["clerkId"]
    name = user.get("name")
    return escape(f"{label} ({name}, {user['_id']})" if name else f"{label} ({user['_id']})")


def admin(
    email: Annotated[str, typer.Argument(help="The user's email (a local account's or Clerk's).")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Take the role away.")] = False,
) -> None:
    """Grant a user the admin role (for the admin functions), or take it with --revoke."""
    user, changed = _with_store(lambda store: set_admin(store, email, not revoke))
    if revoke:
        console.print(f"{_who(user)} {'is no longer' if changed else 'was not'} an admin.")
    else:
        console.print(f"{_who(user)} {'is now' if changed else 'was already'} an admin.")


def list_admins() -> None:
    """List the users holding the admin role."""
    found = _with_store(admins)
    for user in found:
        console.print(_who(user))
    if not found:
        console.print("No admins.")
