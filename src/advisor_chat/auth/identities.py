"""Which users row a verified identity acts as. Identity is (issuer, subject).

A users row records the issuer whose tokens act as it (`tokenIssuer`); `clerkId` is the
subject, unique across issuers as seed 002 has it ("clerkId (unique)"). A token acts as the
row of its subject only if the row is its issuer's, so a token from one issuer never acts as
a user of another, whatever `sub` it names: a subject held by another issuer's row reads as
no user, and `users:store` refuses to take it over.

Rows without `tokenIssuer` were stored before issuers were recorded, or imported from the
original app (Prisma or a Convex export), whose users were all Clerk's: they belong to the
configured OIDC issuer, and its first `users:store` records it there. Our own subjects are
made at sign-up (`local_` and 96 random bits), and the data migration that introduced the
field recorded our issuer on every local account's row, so no other issuer reaches one.

A deleted user leaves a tombstone (`deletedUsers`, by subject, with the time): a token issued
before the deletion cannot bring the row back through `users:store` (Clerk's session tokens
outlive a deletion by their minute; another issuer's, by their hours). `delete_user` is the
one way a user is deleted. Our own tokens need no tombstone: they end with their sign-in
(auth/signins.py), and `users:store` never creates a local account's row.
"""

from __future__ import annotations

from typing import Any

from advisor_chat.auth.tokens import LEEWAY_S
from advisor_chat.clock import now_ms
from advisor_chat.functions.context import Identity
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.store import UNSET, Document, Transaction

TOMBSTONES = "deletedUsers"


def is_local(user: Document) -> bool:
    """A local account's row (or its would-be owner's: ours)."""
    return user.get("tokenIssuer") == LOCAL_ISSUER


def owned_by(user: Document, issuer: str) -> bool:
    """Whether tokens of `issuer` act as this row: its recorded issuer, or for a row that
    records none, any issuer but ours (the configured OIDC issuer: no other is trusted)."""
    recorded = user.get("tokenIssuer")
    if recorded is None:
        return issuer != LOCAL_ISSUER
    return bool(recorded == issuer)


async def by_subject(tx: Transaction, subject: str) -> Document | None:
    """The row of `subject`, whoever's it is: for deciding, never for acting as."""
    return await tx.query("users", "by_clerk_id").eq("clerkId", subject).unique()


async def user_of(tx: Transaction, issuer: str, subject: str) -> Document | None:
    """The users row (issuer, subject) acts as, or None."""
    user = await by_subject(tx, subject)
    return user if user is not None and owned_by(user, issuer) else None


async def tombstone_of(tx: Transaction, subject: str) -> Document | None:
    return await tx.query(TOMBSTONES, "by_clerk_id").eq("clerkId", subject).unique()


def issued_before(identity: Identity, tombstone: Document) -> bool:
    """Whether the identity's token may predate the deletion. Within the clock leeway counts
    as before, and so does a token without `iat`: refusing one too many costs a sign-in,
    letting one through would bring a deleted account back."""
    if identity.issued_at is None:
        return True
    deleted_at: float = tombstone["deletedAt"]
    return identity.issued_at * 1000 < deleted_at + LEEWAY_S * 1000


async def bury(tx: Transaction, subject: str, issuer: str | None) -> None:
    """Record that `subject`'s user was deleted now (again, if it was before)."""
    fields: dict[str, Any] = {"clerkId": subject, "deletedAt": now_ms()}
    if issuer is not None:
        fields["tokenIssuer"] = issuer
    existing = await tombstone_of(tx, subject)
    if existing is None:
        await tx.insert(TOMBSTONES, fields)
    else:
        await tx.replace(TOMBSTONES, existing["_id"], fields)


async def delete_user(tx: Transaction, user: Document) -> None:
    """Delete a user (their conversations, sessions and the rest go with the row) and leave
    the tombstone that keeps their earlier tokens from recreating it. A local account goes
    first, by hand: the cascade may leave it to later batches (a user with many
    conversations), and without it every access token of theirs ends at once."""
    account = await tx.query("accounts", "by_user").eq("userId", user["_id"]).unique()
    if account is not None:
        await tx.delete("accounts", account["_id"])
    await release_advisors(tx, user)
    await bury(tx, user["clerkId"], user.get("tokenIssuer"))
    await tx.delete("users", user["_id"])


async def release_advisors(tx: Transaction, user: Document) -> None:
    """Before a user goes: a public advisor they owned stays in the marketplace for the
    boards that seat it, owned by no one. Their private ones (what they wrote of them is
    theirs alone) then go with the user row, off every board, through the schema's
    cascade, in batches past its first few hundred rows like any large deletion."""
    owned = tx.query("advisors", "by_owner").eq("ownerId", user["_id"])
    for advisor in await owned.collect():
        if advisor.get("isPublic"):
            await tx.patch("advisors", advisor["_id"], {"ownerId": UNSET})
