"""realtime: typing indicators and presence, each one row per (conversation, user) or per
user, refreshed in place, and both decided by the server: the queries read no clock, so
what a subscriber sees changes only through commits, and the server makes those commits
on time.

- Typing. `setTypingStatus(true)` refreshes the row; the first refresh of a burst schedules
  `realtime:expireTyping` for when it would lapse (`Timings.typing_expiry_ms`, 10 s). That
  call clears the row if it was not refreshed since, or comes back when the latest refresh
  lapses, so an indicator ends 10 s after its last refresh with no client cleaning up, and
  a burst of keystrokes costs one scheduled call per expiry period, not one per keystroke.
- Presence. `isOnline` is the server's: a server process holds a lease on the row of each
  user with a session open on it (`nodes`: process → lease end, ms), renews it while the
  session lasts, and gives it up when the last one closes (live/presence.py); a sweep ends
  the leases of processes that died. A user is online while any lease holds. A client's
  `updateUserPresence` reports its current conversation; its `isOnline` is accepted, as the
  seed's clients send it, and decides nothing.
- The original app's presence reads (`getUserPresence` of a user id, `getOnlineUsers`,
  `getUsersInConversation`) read everyone's presence; here each answers about the caller
  only, the one user whose presence and conversations are theirs to see.
  `cleanupStaleRecords` is for administrators (the schedule and the sweep above do its
  work on time), and `trackUserActivity` reports the caller's current conversation.
"""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.access import own_conversation, require_admin, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import UNSET, Document, Transaction

TYPING = "typingIndicators"
PRESENCE = "userPresence"
SWEEP_BATCH = 100  # presence rows one sweep transaction settles
PRIVATE_FIELDS = ("nodes", "leaseUntil")  # the server's bookkeeping, not the answer


@mutation(
    "realtime:setTypingStatus", {"conversationId": v.id("conversations"), "isTyping": v.boolean()}
)
async def set_typing_status(ctx: MutationCtx, args: Args) -> None:
    conversation = await own_conversation(ctx, args["conversationId"])
    user = await require_user(ctx)
    row = await (
        ctx.db.query(TYPING, "by_conversation_user")
        .eq("conversationId", conversation["_id"])
        .eq("userId", user["_id"])
        .unique()
    )
    now = now_ms()
    fields = {"isTyping": args["isTyping"], "lastTypingAt": now}
    if row is None:
        row_id = await ctx.db.insert(
            TYPING, {"conversationId": conversation["_id"], "userId": user["_id"], **fields}
        )
    else:
        row_id = row["_id"]
        await ctx.db.patch(TYPING, row_id, fields)
    if args["isTyping"] and (row is None or not row["isTyping"]):
        # A burst begins: one expiry call follows it (see the module's docstring).
        expiry = ctx.timings.typing_expiry_ms
        await ctx.scheduler.run_at(now + expiry, "realtime:expireTyping", {"indicatorId": row_id})


@mutation("realtime:expireTyping", {"indicatorId": v.id(TYPING)}, internal=True)
async def expire_typing(ctx: MutationCtx, args: Args) -> None:
    """Clear an indicator whose last refresh has lapsed, or come back when it will."""
    row = await ctx.db.get(TYPING, args["indicatorId"])
    if row is None or not row["isTyping"]:
        return
    lapses = row["lastTypingAt"] + ctx.timings.typing_expiry_ms
    if lapses <= now_ms():
        await ctx.db.patch(TYPING, row["_id"], {"isTyping": False})
    else:
        await ctx.scheduler.run_at(lapses, "realtime:expireTyping", args)


@query("realtime:getTypingUsers", {"conversationId": v.id("conversations")})
async def get_typing_users(ctx: QueryCtx, args: Args) -> list[dict[str, Any]]:
    """Who is typing now, as the original answered: one entry per user, `_id` (the user's
    id), `name`, `image` and `lastTypingAt` (ms); with `userId` (the same id) and
    `expiresAt`, when the indicator lapses unless refreshed (ms; the server clears it
    then). A user since deleted is left out, as the original did."""
    conversation = await own_conversation(ctx, args["conversationId"])
    rows = await (
        ctx.db.query(TYPING, "by_conversation_typing")
        .eq("conversationId", conversation["_id"])
        .eq("isTyping", True)
        .collect()
    )
    expiry = ctx.timings.typing_expiry_ms
    typing = []
    for row in rows:
        user = await ctx.db.get("users", row["userId"])
        if user is None:
            continue
        typing.append(
            {
                "_id": user["_id"],
                "userId": user["_id"],
                "name": user.get("name"),
                "image": user.get("image"),
                "lastTypingAt": row["lastTypingAt"],
                "expiresAt": row["lastTypingAt"] + expiry,
            }
        )
    return typing


@mutation(
    "realtime:updateUserPresence",
    {
        "isOnline": v.boolean(),
        "currentConversationId": v.optional(v.nullable(v.id("conversations"))),
    },
)
async def update_user_presence(ctx: MutationCtx, args: Args) -> None:
    """The client's report of where it is. Whether the user is online is the server's to
    say (the module's docstring): `isOnline` is accepted and ignored."""
    user = await require_user(ctx)
    fields: dict[str, Any] = {"lastSeenAt": now_ms()}
    current = args.get("currentConversationId")
    if current is not None:
        await own_conversation(ctx, current, user)
        fields["currentConversationId"] = current
    row = await _presence_of(ctx.db, user["_id"])
    if row is None:
        await ctx.db.insert(PRESENCE, {"userId": user["_id"], "isOnline": False, **fields})
        return
    if "currentConversationId" in args and current is None:
        fields["currentConversationId"] = UNSET
    await ctx.db.patch(PRESENCE, row["_id"], fields)


@query("realtime:getUserPresence", {"userId": v.optional(v.id("users"))})
async def get_user_presence(ctx: QueryCtx, args: Args) -> Document | None:
    """The caller's presence: online while a session of theirs is open on any server.
    The original's `userId` may name the caller; another user's presence is not the
    caller's to see and answers null, as a user with no presence row does."""
    user = await require_user(ctx)
    if args.get("userId", user["_id"]) != user["_id"]:
        return None
    return await _own_presence(ctx, user)


async def _own_presence(ctx: QueryCtx, user: Document) -> Document | None:
    row = await _presence_of(ctx.db, user["_id"])
    if row is None:
        return None
    # Without the leases, a renewal changes nothing a subscriber is sent.
    return {k: value for k, value in row.items() if k not in PRIVATE_FIELDS}


@query("realtime:getOnlineUsers", {})
async def get_online_users(ctx: QueryCtx, args: Args) -> list[dict[str, Any]]:
    """The original's online users (`_id`, `name`, `image`, `lastSeenAt`,
    `currentConversationId`), among those the caller may see: themselves, while online."""
    user = await require_user(ctx)
    row = await _own_presence(ctx, user)
    if row is None or not row["isOnline"]:
        return []
    entry = {"_id": user["_id"], "name": user.get("name"), "image": user.get("image")}
    entry["lastSeenAt"] = row["lastSeenAt"]
    if "currentConversationId" in row:
        entry["currentConversationId"] = row["currentConversationId"]
    return [entry]


@query("realtime:getUsersInConversation", {"conversationId": v.id("conversations")})
async def get_users_in_conversation(ctx: QueryCtx, args: Args) -> list[dict[str, Any]]:
    """The original's users whose current conversation is this one (`_id`, `name`,
    `image`, `isOnline`, `lastSeenAt`), for one of the caller's conversations: the
    caller, the one user who may see it, while their client reports being in it."""
    user = await require_user(ctx)
    conversation = await own_conversation(ctx, args["conversationId"], user)
    row = await _own_presence(ctx, user)
    if row is None or row.get("currentConversationId") != conversation["_id"]:
        return []
    entry = {"_id": user["_id"], "name": user.get("name"), "image": user.get("image")}
    return [entry | {"isOnline": row["isOnline"], "lastSeenAt": row["lastSeenAt"]}]


@mutation("realtime:cleanupStaleRecords", {})
async def cleanup_stale_records(ctx: MutationCtx, args: Args) -> dict[str, int]:
    """For administrators: end the presence leases that lapsed now instead of at the next
    sweep (up to SWEEP_BATCH rows). Typing rows need no cleanup: each one's scheduled
    `expireTyping` clears it when it lapses, so `cleanedTypingIndicators` is 0. The
    original let anyone run it, signed in or not, over every user's rows."""
    await require_admin(ctx)
    settled = await sweep_presence(ctx.db, now_ms())
    return {"cleanedTypingIndicators": 0, "cleanedPresences": settled}


@mutation(
    "realtime:trackUserActivity",
    {
        "activity": v.string(max_length=limits.LABEL),
        "conversationId": v.optional(v.id("conversations")),
        "metadata": v.optional(v.any(max_length=limits.LINE, max_items=limits.ITEMS)),
    },
)
async def track_user_activity(ctx: MutationCtx, args: Args) -> None:
    """The original's activity report: as `updateUserPresence` with the conversation the
    caller is in (one of theirs; none given leaves it unchanged). The activity and its
    metadata are accepted and kept nowhere, as the original kept them."""
    report: Args = {"isOnline": True}
    if "conversationId" in args:
        report["currentConversationId"] = args["conversationId"]
    await update_user_presence.handler(ctx, report)


# --- presence leases, for live/presence.py ------------------------------------------------


async def hold_presence(tx: Transaction, user_id: str, node: str, until: float) -> bool:
    """`node` holds a session of the user until `until` (ms) unless it renews: online.
    Returns False if the user no longer exists (deleted meanwhile)."""
    row = await _presence_of(tx, user_id)
    now = now_ms()
    if row is None:
        if await tx.get("users", user_id) is None:
            return False
        fields = _settled({node: until}, now)
        await tx.insert(PRESENCE, {"userId": user_id, "lastSeenAt": now, **fields})
        return True
    nodes = dict(row.get("nodes") or {}) | {node: until}
    fields = _settled(nodes, now)
    if not row["isOnline"]:
        fields["lastSeenAt"] = now  # online since
    await tx.patch(PRESENCE, row["_id"], fields)
    return True


async def release_presence(tx: Transaction, user_id: str, node: str) -> None:
    """`node` holds no session of the user any more: offline unless another node does."""
    row = await _presence_of(tx, user_id)
    if row is None or node not in (row.get("nodes") or {}):
        return
    nodes = {k: until for k, until in row["nodes"].items() if k != node}
    now = now_ms()
    await tx.patch(PRESENCE, row["_id"], _settled(nodes, now) | {"lastSeenAt": now})


async def sweep_presence(tx: Transaction, now: float) -> int:
    """End the leases that lapsed by `now` (their node died or lost the database), in up
    to SWEEP_BATCH rows; returns how many rows it settled. Rows online with no lease at all
    (written before the server decided presence) go offline too: missing sorts first."""
    rows = (
        await tx.query(PRESENCE, "by_online_lease")
        .eq("isOnline", True)
        .lt("leaseUntil", now)
        .take(SWEEP_BATCH)
    )
    for row in rows:
        fields = _settled(dict(row.get("nodes") or {}), now)
        if not fields["isOnline"]:
            fields["lastSeenAt"] = now
        await tx.patch(PRESENCE, row["_id"], fields)
    return len(rows)


def _settled(nodes: dict[str, float], now: float) -> dict[str, Any]:
    """The row's server-decided fields from its leases, dropping those lapsed by `now`."""
    held = {node: until for node, until in nodes.items() if until > now}
    if not held:
        return {"isOnline": False, "nodes": UNSET, "leaseUntil": UNSET}
    return {"isOnline": True, "nodes": held, "leaseUntil": min(held.values())}


async def _presence_of(tx: Transaction, user_id: str) -> Document | None:
    return await tx.query(PRESENCE, "by_user").eq("userId", user_id).unique()


FUNCTIONS = (
    set_typing_status,
    expire_typing,
    get_typing_users,
    update_user_presence,
    get_user_presence,
    get_online_users,
    get_users_in_conversation,
    cleanup_stale_records,
    track_user_activity,
)
