"""Row-level security, in one place: who the caller is, and what they may see.

Every function derives the caller from the verified identity, never from arguments, and
a document the caller may not see is answered exactly as a missing one (same code, same
message), so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

from advisor_chat.auth.identities import user_of
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import QueryCtx
from advisor_chat.store import Document


async def current_user(ctx: QueryCtx) -> Document | None:
    """The caller's users row, or None if they have not been stored yet. Found by (issuer,
    subject): another issuer's user of the same subject is not the caller."""
    identity = ctx.require_identity()
    return await user_of(ctx.db, identity.issuer, identity.subject)


async def require_user(ctx: QueryCtx) -> Document:
    user = await current_user(ctx)
    if user is None:
        raise FunctionError(
            Code.UNAUTHENTICATED, "no account for this sign-in yet: call users:store first"
        )
    return user


async def viewer(ctx: QueryCtx) -> Document | None:
    """The caller's users row, or None when signed out (or not stored yet): for what the
    original let anyone read before signing up, public advisors and team templates. A
    None viewer sees public documents only."""
    if ctx.identity is None:
        return None
    return await current_user(ctx)


async def require_admin(ctx: QueryCtx) -> Document:
    """The caller's users row if it holds the admin role, which only an operator grants
    (`advisor-chat users`); a plan, however high, is not a role. Anyone else is told
    plainly, since admin functions name no one's document."""
    user = await require_user(ctx)
    if user.get("role") != "admin":
        raise FunctionError(Code.FORBIDDEN, "this function is for administrators")
    return user


def not_found(table: str, doc_id: Any) -> FunctionError:
    """The one answer for 'missing' and 'not yours' alike."""
    noun = {
        "conversations": "conversation",
        "messages": "message",
        "advisors": "advisor",
        "advisorMemories": "memory",
        "threadSummaries": "summary",
    }.get(table, "document")
    return FunctionError(Code.NOT_FOUND, f"{noun} not found", id=doc_id)


async def own_conversation(
    ctx: QueryCtx, conversation_id: str, user: Document | None = None
) -> Document:
    """The caller's conversation, or NOT_FOUND (also when it is someone else's). `user`:
    the caller's users row, when already read."""
    if user is None:
        user = await require_user(ctx)
    conversation = await ctx.db.get("conversations", conversation_id)
    if conversation is None or conversation["userId"] != user["_id"]:
        raise not_found("conversations", conversation_id)
    return conversation


def sees(advisor: Document, user: Document | None) -> bool:
    """Whether `user` (None: signed out) may see `advisor`: a public one, or their own."""
    return bool(advisor.get("isPublic")) or (
        user is not None and advisor.get("ownerId") == user["_id"]
    )


async def visible_advisor(ctx: QueryCtx, advisor_id: str, user: Document | None) -> Document:
    """A public advisor or one the caller owns, or NOT_FOUND. `user` None: signed out,
    public ones only."""
    advisor = await ctx.db.get("advisors", advisor_id)
    if advisor is None or not sees(advisor, user):
        raise not_found("advisors", advisor_id)
    return advisor


async def own_in_conversation(ctx: QueryCtx, table: str, doc_id: str) -> Document:
    """A message, memory or summary in one of the caller's conversations, or NOT_FOUND
    naming the document (never the conversation, which would tell it exists)."""
    user = await require_user(ctx)
    doc = await ctx.db.get(table, doc_id)
    conversation = None if doc is None else await ctx.db.get("conversations", doc["conversationId"])
    if doc is None or conversation is None or conversation["userId"] != user["_id"]:
        raise not_found(table, doc_id)
    return doc
