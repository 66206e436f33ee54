"""users: the caller's own account row (seed: one per Clerk user)."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.access import current_user, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

NAME = v.optional(v.string(max_length=200))
URL = v.optional(v.string(max_length=2048))


@query("users:current", {})
async def current(ctx: QueryCtx, args: Args) -> Document | None:
    """The caller's users row, or null before the first `users:store`."""
    return await current_user(ctx)


@query("users:getUserByClerkId", {"clerkId": v.string(max_length=256)})
async def get_user_by_clerk_id(ctx: QueryCtx, args: Args) -> Document | None:
    """A users row by Clerk id: only the caller's own; anyone else's reads as missing."""
    identity = ctx.require_identity()
    if args["clerkId"] != identity.subject:
        return None
    return await current_user(ctx)


@mutation("users:store", {})
async def store(ctx: MutationCtx, args: Args) -> str:
    """Create the caller's users row from their verified token, or refresh it."""
    identity = ctx.require_identity()
    existing = await current_user(ctx)
    fields: dict[str, Any] = {
        k: value
        for k, value in (
            ("email", identity.email),
            ("name", identity.name),
            ("image", identity.picture_url),
        )
        if value is not None
    }
    if existing is None:
        now = now_ms()
        doc = {"clerkId": identity.subject, "plan": "free", "createdAt": now, "updatedAt": now}
        return await ctx.db.insert("users", doc | fields)
    changed = {k: value for k, value in fields.items() if existing.get(k) != value}
    if changed:
        await ctx.db.patch("users", existing["_id"], changed | {"updatedAt": now_ms()})
    return str(existing["_id"])


@mutation("users:updateUserProfile", {"name": NAME, "image": URL})
async def update_user_profile(ctx: MutationCtx, args: Args) -> Document:
    user = await require_user(ctx)
    if not args:
        return user
    return await ctx.db.patch("users", user["_id"], dict(args) | {"updatedAt": now_ms()})


FUNCTIONS = (
    current,
    get_user_by_clerk_id,
    store,
    store.alias("users:getOrCreateUser"),
    update_user_profile,
)
