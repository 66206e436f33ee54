"""users: the caller's own account row (seed: one per Clerk user), and the original app's
admin functions over every user's, which answer to the admin role (`require_admin`)."""

from __future__ import annotations

from typing import Any

from advisor_chat.auth.identities import (
    TOMBSTONES,
    by_subject,
    delete_user,
    issued_before,
    owned_by,
    tombstone_of,
)
from advisor_chat.auth.profiles import checked_image, checked_name, copied_profile
from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import current_user, require_admin, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.pagination import PAGINATION_OPTS, paginate
from advisor_chat.functions.registry import Args, Retired, mutation, query
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.schema.tables import LOCAL_ISSUER
from advisor_chat.store import UNSET, Document

NAME = v.optional(v.string(max_length=limits.NAME))
URL = v.optional(v.string(max_length=limits.URL))
PLAN = v.string(max_length=limits.LABEL)
ADMIN = "admin"  # the users row's role that require_admin asks for
ALL_USERS_CAP = 1_000  # users:getAllUsers without paginationOpts: the oldest this many


@query("users:current", {})
async def current(ctx: QueryCtx, args: Args) -> Document | None:
    """The caller's users row, or null before the first `users:store`."""
    return await current_user(ctx)


@query("users:getUserByClerkId", {"clerkId": v.string(max_length=limits.SUBJECT)})
async def get_user_by_clerk_id(ctx: QueryCtx, args: Args) -> Document | None:
    """A users row by Clerk id: the caller's own, of the caller's issuer; anyone else's
    reads as missing, except to an administrator (the original's admin lookup)."""
    identity = ctx.require_identity()
    if args["clerkId"] != identity.subject:
        if await _is_admin(ctx):
            return await by_subject(ctx.db, args["clerkId"])
        return None
    return await current_user(ctx)


@query("users:getUserById", {"userId": v.id("users")})
async def get_user_by_id(ctx: QueryCtx, args: Args) -> Document | None:
    """A users row by id: the caller's own; anyone else's reads as missing (null, as the
    original answered a missing one), except to an administrator."""
    user = await require_user(ctx)
    if user["_id"] == args["userId"]:
        return user
    return await ctx.db.get("users", args["userId"]) if user.get("role") == ADMIN else None


async def _is_admin(ctx: QueryCtx) -> bool:
    user = await current_user(ctx)
    return user is not None and user.get("role") == ADMIN


async def stored_user(ctx: MutationCtx) -> Document:
    """Create the caller's users row from their verified token, or refresh it; the row.
    Never for a subject another issuer's row holds, never a local account's row (sign-up
    makes those), and never a deleted user's from a token issued before the deletion."""
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
        user = await ctx.db.get("users", await ctx.db.insert("users", doc | fields))
        assert user is not None
        return user
    if "tokenIssuer" not in existing:  # the configured issuer's row: recorded as its own
        fields["tokenIssuer"] = identity.issuer
    changed = {k: value for k, value in fields.items() if existing.get(k) != value}
    if changed:
        return await ctx.db.patch("users", existing["_id"], changed | {"updatedAt": now_ms()})
    return existing


@mutation("users:store", {})
async def store(ctx: MutationCtx, args: Args) -> str:
    """The caller's users row, created or refreshed from their verified token: its id."""
    return str((await stored_user(ctx))["_id"])


@mutation(
    "users:getOrCreateUser",
    {
        "clerkId": v.optional(v.string(max_length=limits.SUBJECT)),
        "email": v.optional(v.string(max_length=limits.EMAIL)),
        "name": NAME,
        "image": URL,
    },
)
async def get_or_create_user(ctx: MutationCtx, args: Args) -> str:
    """The original's `users:getOrCreateUser(clerkId, email?, name?, image?)`: `users:store`
    for the caller. The verified identity decides whose row: a `clerkId` that is not the
    caller's is refused, and so is an `email` other than the sign-in's; a name or image
    goes through `users:updateUserProfile`'s checks."""
    identity = ctx.require_identity()
    if "clerkId" in args and args["clerkId"] != identity.subject:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "clerkId must be your own: the row is always the signed-in caller's",
            field="clerkId",
        )
    if "email" in args and (identity.email or "").lower() != args["email"].strip().lower():
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "the email comes from your verified sign-in, never from arguments",
            field="email",
        )
    user = await stored_user(ctx)
    await changed_profile(ctx, user, args)
    return str(user["_id"])


async def changed_profile(ctx: MutationCtx, user: Document, args: Args) -> Document:
    """`user`'s display name and image from `args`, checked. An image is an http(s) URL
    or a data: image, so the web app can show it without running anything it names."""
    changes: dict[str, Any] = {}
    if "image" in args:
        changes["image"] = checked_image(args["image"])
    if "name" in args:
        name = checked_name(args["name"])
        changes["name"] = UNSET if name is None else name
    if not changes:
        return user
    return await ctx.db.patch("users", user["_id"], changes | {"updatedAt": now_ms()})


@mutation(
    "users:updateUserProfile", {"userId": v.optional(v.id("users")), "name": NAME, "image": URL}
)
async def update_user_profile(ctx: MutationCtx, args: Args) -> Document:
    """The caller's display name and image; the row after. With `userId` (the original's
    admin form) another user's, for an administrator only; one's own needs no role."""
    user = await require_user(ctx)
    if args.get("userId", user["_id"]) != user["_id"]:
        await require_admin(ctx)
        user = await _user_for_admin(ctx, args["userId"])
    return await changed_profile(ctx, user, args)


async def _user_for_admin(ctx: QueryCtx, user_id: str) -> Document:
    user = await ctx.db.get("users", user_id)
    if user is None:
        raise FunctionError(Code.NOT_FOUND, "user not found", id=user_id)
    return user


@mutation("users:updateUserPlan", {"userId": v.id("users"), "plan": PLAN})
async def update_user_plan(ctx: MutationCtx, args: Args) -> None:
    """An administrator sets another user's plan, one the deployment configures. Never
    one's own: no one upgrades themselves (an operator can, with `advisor-chat`)."""
    admin = await require_admin(ctx)
    if args["userId"] == admin["_id"]:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "no one sets their own plan, administrators included",
            field="userId",
        )
    if args["plan"] not in ctx.limits:
        plans = ", ".join(sorted(ctx.limits))
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"plan must be one of the configured plans: {plans}",
            field="plan",
        )
    user = await _user_for_admin(ctx, args["userId"])
    if user.get("plan") != args["plan"]:
        await ctx.db.patch("users", user["_id"], {"plan": args["plan"], "updatedAt": now_ms()})


@query("users:getAllUsers", {"paginationOpts": PAGINATION_OPTS})
async def get_all_users(ctx: QueryCtx, args: Args) -> Any:
    """Every user, oldest first, for an administrator. Without `paginationOpts` (the
    original's call) an array of at most ALL_USERS_CAP; with it a Convex page."""
    await require_admin(ctx)
    everyone = ctx.db.query("users")
    if "paginationOpts" in args:
        return await paginate(everyone, args, ctx.journal)
    return await everyone.take(ALL_USERS_CAP)


@mutation("users:deleteUser", {"userId": v.id("users")})
async def delete_any_user(ctx: MutationCtx, args: Args) -> None:
    """An administrator deletes a user as the user's own deletion does: their data goes,
    their sign-ins end, and their earlier tokens cannot bring the row back."""
    await require_admin(ctx)
    await delete_user(ctx.db, await _user_for_admin(ctx, args["userId"]))


FUNCTIONS = (
    current,
    get_user_by_clerk_id,
    get_user_by_id,
    store,
    get_or_create_user,
    update_user_profile,
    update_user_plan,
    get_all_users,
    delete_any_user,
)

_IMPORT = "`advisor-chat import` replaces it (the original's Convex export or Prisma database)"
RETIRED = (
    Retired("users:create", f"it let anyone write any user's row without signing in; {_IMPORT}"),
    Retired("users:list", f"it let anyone read every user's row without signing in; {_IMPORT}"),
)
