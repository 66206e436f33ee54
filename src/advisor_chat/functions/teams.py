"""teams: one-click boards from team templates. The templates are public: reading them
needs no sign-in, so a visitor can see the boards on offer before signing up."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.functions.access import require_user
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.marketplace import select_team, team_template
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.functions.storage import require_room
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

CATEGORY = v.string(max_length=limits.LABEL)
TEAM_ID = v.string(max_length=limits.TEAM_ID)  # a template's id, as its file names it


@query(
    "teams:getTeamTemplates",
    {"category": v.optional(CATEGORY), "featured": v.optional(v.boolean())},
)
async def get_team_templates(ctx: QueryCtx, args: Args) -> list[Document]:
    """In their curated order (sortOrder), filtered by category or featured."""
    if "category" in args:
        q = ctx.db.query("teamTemplates", "by_category_sort").eq("category", args["category"])
    elif "featured" in args:
        q = ctx.db.query("teamTemplates", "by_featured_sort").eq("featured", args["featured"])
    else:
        q = ctx.db.query("teamTemplates", "by_sort_order")
    return await q.collect()


@query("teams:getTeamTemplate", {"teamId": TEAM_ID})
async def get_team_template(ctx: QueryCtx, args: Args) -> Document:
    return await team_template(ctx, args["teamId"])


@mutation(
    "teams:createFromTemplate",
    {"teamId": TEAM_ID, "title": v.optional(v.string(max_length=limits.TITLE))},
)
async def create_from_template(ctx: MutationCtx, args: Args) -> str:
    """Select the team's advisors and open a conversation with them as its board."""
    user = await require_user(ctx)
    template = await team_template(ctx, args["teamId"])
    await require_room(ctx, user, "conversations", user["_id"])
    await select_team(ctx, user, template)
    board = []
    for advisor_id in template["advisorIds"]:
        advisor = await ctx.db.get("advisors", advisor_id)
        if advisor is not None and advisor.get("isPublic"):
            board.append(advisor_id)
    now = now_ms()
    doc: dict[str, Any] = {
        "userId": user["_id"],
        "title": args.get("title", template["name"]),
        "createdAt": now,
        "updatedAt": now,
    }
    if board:
        doc |= {"advisorIds": board, "activeAdvisorId": board[0]}
    return await ctx.db.insert("conversations", doc)


FUNCTIONS = (get_team_templates, get_team_template, create_from_template)
