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
"""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.access import own_conversation, require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
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
async def get_typing_users(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Who is typing now, by name, and when each indicator lapses unless refreshed
    (`expiresAt`, ms; the server clears it then)."""
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
        typing.append(
            {
                "userId": row["userId"],
                "name": user.get("name") if user is not None else None,
                "expiresAt": row["lastTypingAt"] + expiry,
            }
        )
    return {"typing": typing, "expiryMs": expiry}


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


@query("realtime:getUserPresence", {})
async def get_user_presence(ctx: QueryCtx, args: Args) -> Document | None:
    """The caller's presence: online while a session of theirs is open on any server."""
    user = await require_user(ctx)
    row = await _presence_of(ctx.db, user["_id"])
    if row is None:
        return None
    # Without the leases, a renewal changes nothing a subscriber is sent.
    return {k: value for k, value in row.items() if k not in PRIVATE_FIELDS}


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
)
