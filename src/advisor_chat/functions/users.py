"""users: the caller's own account row (seed: one per Clerk user)."""

from __future__ import annotations

from typing import Any

from advisor_chat.auth.identities import (
    TOMBSTONES,
    by_subject,
    issued_before,
    owned_by,
    tombstone_of,
)
from advisor_chat.auth.profiles import checked_image, checked_name, copied_profile
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import current_user, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.store import UNSET, Document

NAME = v.optional(v.string(max_length=limits.NAME))
URL = v.optional(v.string(max_length=limits.URL))


@query("users:current", {})
async def current(ctx: QueryCtx, args: Args) -> Document | None:
    """The caller's users row, or null before the first `users:store`."""
    return await current_user(ctx)


@query("users:getUserByClerkId", {"clerkId": v.string(max_length=limits.SUBJECT)})
async def get_user_by_clerk_id(ctx: QueryCtx, args: Args) -> Document | None:
    """A users row by Clerk id: only the caller's own, of the caller's issuer; anyone
    else's reads as missing."""
    identity = ctx.require_identity()
    if args["clerkId"] != identity.subject:
        return None
    return await current_user(ctx)


@mutation("users:store", {})
async def store(ctx: MutationCtx, args: Args) -> str:
    """Create the caller's users row from their verified token, or refresh it. Never for
    a subject another issuer's row holds, never a local account's row (sign-up makes
    those), and never a deleted user's from a token issued before the deletion."""
    identity = ctx.require_identity()
    existing = await by_subject(ctx.db, identity.subject)
    if existing is not None and not owned_by(existing, identity.issuer):
        raise FunctionError(
            Code.UNAUTHENTICATED, "this sign-in's subject belongs to another issuer's user"
        )
    fields: dict[str, Any] = copied_profile(identity.email, identity.name, identity.picture_url)
    if existing is None:
        if identity.issuer == LOCAL_ISSUER:
            raise FunctionError(Code.UNAUTHENTICATED, "no account for this sign-in")
        tombstone = await tombstone_of(ctx.db, identity.subject)
        if tombstone is not None:
            if issued_before(identity, tombstone):
                raise FunctionError(
                    Code.UNAUTHENTICATED,
                    "this account was deleted; sign in again to start a new one",
                )
            await ctx.db.delete(TOMBSTONES, tombstone["_id"])
        now = now_ms()
        doc = {
            "clerkId": identity.subject,
            "tokenIssuer": identity.issuer,
            "plan": "free",
            "createdAt": now,
            "updatedAt": now,
        }
        return await ctx.db.insert("users", doc | fields)
    if "tokenIssuer" not in existing:  # the configured issuer's row: recorded as its own
        fields["tokenIssuer"] = identity.issuer
    changed = {k: value for k, value in fields.items() if existing.get(k) != value}
    if changed:
        await ctx.db.patch("users", existing["_id"], changed | {"updatedAt": now_ms()})
    return str(existing["_id"])


@mutation("users:updateUserProfile", {"name": NAME, "image": URL})
async def update_user_profile(ctx: MutationCtx, args: Args) -> Document:
    """The caller's display name and image. An image is an http(s) URL or a data: image,
    so the web app can show it without running anything it names."""
    user = await require_user(ctx)
    changes: dict[str, Any] = {}
    if "image" in args:
        changes["image"] = checked_image(args["image"])
    if "name" in args:
        name = checked_name(args["name"])
        changes["name"] = UNSET if name is None else name
    if not changes:
        return user
    return await ctx.db.patch("users", user["_id"], changes | {"updatedAt": now_ms()})


FUNCTIONS = (
    current,
    get_user_by_clerk_id,
    store,
    store.alias("users:getOrCreateUser"),
    update_user_profile,
)
