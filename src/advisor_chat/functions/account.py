"""auth: the original app's account functions (its `convex/auth.ts`), on our users row.

The caller is always the verified identity. A signed-out caller reads null (the user)
or false (a plan), as the original answered; everything else needs the row. One's own
plan is never changed here: `auth:updateCurrentUserPlan` is retired (an administrator or
an operator sets plans).
"""

from __future__ import annotations

from typing import Any

from advisor_chat.auth.identities import delete_user
from advisor_chat.functions.access import current_user, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, Retired, mutation, query
from advisor_chat.functions.users import NAME, PLAN, URL, changed_profile, stored_user
from advisor_chat.store import Document

# getCurrentUserStats counts with bounded index counts: conversations up to STATS_CAP, and
# messages in the STATS_CONVERSATIONS most recently active conversations, STATS_CAP in all.
STATS_CAP = 8_000  # below the store's 8,192 rows a count may take
STATS_CONVERSATIONS = 100


@query("auth:getCurrentUserInfo", {})
async def get_current_user_info(ctx: QueryCtx, args: Args) -> Document | None:
    """The caller's users row; null when signed out or not yet stored (the client then
    calls `auth:syncUserFromClerk`)."""
    if ctx.identity is None:
        return None
    return await current_user(ctx)


@mutation("auth:syncUserFromClerk", {})
async def sync_user_from_clerk(ctx: MutationCtx, args: Args) -> Document:
    """The caller's users row, created or refreshed from their verified token (`users:store`)."""
    return await stored_user(ctx)


@mutation("auth:ensureUserExists", {})
async def ensure_user_exists(ctx: MutationCtx, args: Args) -> dict[str, Any]:
    user = await stored_user(ctx)
    return {"success": True, "userId": user["_id"]}


@mutation("auth:updateCurrentUserProfile", {"name": NAME, "image": URL})
async def update_current_user_profile(ctx: MutationCtx, args: Args) -> str:
    """The caller's name and image, checked as `users:updateUserProfile` checks them; the
    user's id, as the original answered."""
    user = await changed_profile(ctx, await require_user(ctx), args)
    return str(user["_id"])


@mutation("auth:deleteCurrentUser", {})
async def delete_current_user(ctx: MutationCtx, args: Args) -> dict[str, bool]:
    """Delete the caller's account: their conversations and everything in them go (in
    batches when large), their sign-ins end at once, and tokens issued before now cannot
    bring the account back (auth/identities.py `delete_user`)."""
    await delete_user(ctx.db, await require_user(ctx))
    return {"success": True}


@query("auth:hasUserPlan", {"plan": PLAN})
async def has_user_plan(ctx: QueryCtx, args: Args) -> bool:
    """Whether the caller is on `plan`; false when signed out or not yet stored."""
    if ctx.identity is None:
        return False
    user = await current_user(ctx)
    return user is not None and user.get("plan") == args["plan"]


@query("auth:getCurrentUserStats", {})
async def get_current_user_stats(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """The caller's conversation and message counts, plan and sign-up time. Counts are
    index counts that stop at their caps (`capped` says one did), so the cost is bounded
    whatever the history: messages are those of the STATS_CONVERSATIONS most recently
    active conversations, the advisors' answers included (no index tells a message's
    sender within a conversation)."""
    user = await require_user(ctx)
    conversations = await (
        ctx.db.query("conversations", "by_user").eq("userId", user["_id"]).count(STATS_CAP + 1)
    )
    recent = await (
        ctx.db.query("conversations", "by_user_updated")
        .eq("userId", user["_id"])
        .order("desc")
        .take(STATS_CONVERSATIONS)
    )
    messages = 0
    for conversation in recent:
        room = STATS_CAP + 1 - messages
        counted = ctx.db.query("messages", "by_conversation").eq(
            "conversationId", conversation["_id"]
        )
        messages += await counted.count(room)
        if messages > STATS_CAP:
            break
    capped = (
        conversations > STATS_CAP or messages > STATS_CAP or conversations > STATS_CONVERSATIONS
    )
    return {
        "conversationCount": min(conversations, STATS_CAP),
        "messageCount": min(messages, STATS_CAP),
        "plan": user.get("plan"),
        "memberSince": user.get("createdAt"),
        "capped": capped,
    }


FUNCTIONS = (
    get_current_user_info,
    sync_user_from_clerk,
    ensure_user_exists,
    update_current_user_profile,
    delete_current_user,
    has_user_plan,
    get_current_user_stats,
)

RETIRED = (
    Retired(
        "auth:updateCurrentUserPlan",
        "no one sets their own plan; an administrator sets it (users:updateUserPlan)",
    ),
)
