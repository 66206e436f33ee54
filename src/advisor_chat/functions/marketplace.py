"""marketplace: browsing public advisors and building the caller's board from them.
Browsing (`getMarketplaceAdvisors`, `getMarketplaceStats`) needs no sign-in: it shows
public advisors only, so the marketplace can be seen before signing up.

Selection semantics: one userAdvisors row per (user, advisor); selecting a team adds each
of its advisors with source "team" and the teamId, skipping ones already selected."""

from __future__ import annotations

from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import require_user, visible_advisor
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.pagination import PAGINATION_OPTS, paginate
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document
from advisor_chat.store.query import IndexQuery


@query(
    "marketplace:getMarketplaceAdvisors",
    {
        "featured": v.optional(v.boolean()),
        "category": v.optional(v.string(max_length=limits.LABEL)),
        "paginationOpts": PAGINATION_OPTS,
    },
)
async def get_marketplace_advisors(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Public advisors, by the index that fits the filter (featured, or category).
    Signed out too: nothing here is anyone's own."""
    if "featured" in args:
        q = (
            ctx.db.query("advisors", "by_public_featured")
            .eq("isPublic", True)
            .eq("featured", args["featured"])
        )
    else:
        q = public_advisors(ctx, args.get("category"))
    result = await paginate(q, args, ctx.journal)
    result["page"] = [a for a in result["page"] if a["status"] == "active"]
    return result


def public_advisors(ctx: QueryCtx, category: str | None) -> IndexQuery:
    """Public advisors in creation order, through the index that fits: only `category`'s
    when one is given. Shared by browsing and by advisor_search."""
    if category is not None:
        return (
            ctx.db.query("advisors", "by_public_category")
            .eq("isPublic", True)
            .eq("category", category)
        )
    return ctx.db.query("advisors", "by_public").eq("isPublic", True)


async def _selection(ctx: QueryCtx, user: Document, advisor_id: str) -> Document | None:
    return (
        await ctx.db.query("userAdvisors", "by_user_advisor")
        .eq("userId", user["_id"])
        .eq("advisorId", advisor_id)
        .unique()
    )


@query("marketplace:getUserSelectedAdvisors", {})
async def get_user_selected_advisors(ctx: QueryCtx, args: Args) -> list[dict[str, Any]]:
    """The caller's board: each selected advisor with how and when it was chosen."""
    user = await require_user(ctx)
    rows = await ctx.db.query("userAdvisors", "by_user").eq("userId", user["_id"]).collect()
    board = []
    for row in rows:
        advisor = await ctx.db.get("advisors", row["advisorId"])
        if advisor is None:
            continue
        if not (advisor.get("isPublic") or advisor.get("ownerId") == user["_id"]):
            continue  # unpublished since it was chosen: no longer the caller's to see
        selection = {k: row[k] for k in ("selectedAt", "source", "teamId") if k in row}
        board.append(advisor | {"selection": selection})
    return board


@mutation("marketplace:selectAdvisor", {"advisorId": v.id("advisors")})
async def select_advisor(ctx: MutationCtx, args: Args) -> str:
    """Add an advisor to the caller's board; selecting it again changes nothing. An
    archived advisor answers nowhere, so it is refused rather than seated to sit silent."""
    user = await require_user(ctx)
    advisor = await visible_advisor(ctx, args["advisorId"], user)
    if advisor.get("status") == "archived":
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "this advisor is archived: restore it before adding it to your board",
            field="advisorId",
        )
    existing = await _selection(ctx, user, advisor["_id"])
    if existing is not None:
        return str(existing["_id"])
    source = "custom" if advisor.get("ownerId") == user["_id"] else "marketplace"
    return await ctx.db.insert(
        "userAdvisors",
        {
            "userId": user["_id"],
            "advisorId": advisor["_id"],
            "selectedAt": now_ms(),
            "source": source,
        },
    )


@mutation("marketplace:unselectAdvisor", {"advisorId": v.id("advisors")})
async def unselect_advisor(ctx: MutationCtx, args: Args) -> bool:
    """Remove from the board; answers whether it was there."""
    user = await require_user(ctx)
    existing = await _selection(ctx, user, args["advisorId"])
    if existing is None:
        return False
    await ctx.db.delete("userAdvisors", existing["_id"])
    return True


async def select_team(ctx: MutationCtx, user: Document, template: Document) -> list[str]:
    """Select every advisor of a team template (source "team"); returns the new rows."""
    added: list[str] = []
    for advisor_id in template["advisorIds"]:
        advisor = await ctx.db.get("advisors", advisor_id)
        if advisor is None or not advisor.get("isPublic") or advisor.get("status") == "archived":
            continue  # a template may outlive an advisor; skip what would not answer
        if await _selection(ctx, user, advisor_id) is None:
            added.append(
                await ctx.db.insert(
                    "userAdvisors",
                    {
                        "userId": user["_id"],
                        "advisorId": advisor_id,
                        "selectedAt": now_ms(),
                        "source": "team",
                        "teamId": template["id"],
                    },
                )
            )
    return added


async def team_template(ctx: QueryCtx, team_id: str) -> Document:
    template = await ctx.db.query("teamTemplates", "by_template_id").eq("id", team_id).unique()
    if template is None:
        raise FunctionError(Code.NOT_FOUND, "team not found", teamId=team_id)
    return template


@mutation("marketplace:selectTeam", {"teamId": v.string(max_length=limits.TEAM_ID)})
async def select_team_function(ctx: MutationCtx, args: Args) -> list[str]:
    user = await require_user(ctx)
    return await select_team(ctx, user, await team_template(ctx, args["teamId"]))


@query("marketplace:getMarketplaceStats", {})
async def get_marketplace_stats(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Counts of the active public advisors: all, featured, by category and by tag.
    Signed out too."""
    public = await ctx.db.query("advisors", "by_public").eq("isPublic", True).collect()
    active = [a for a in public if a["status"] == "active"]
    categories: dict[str, int] = {}
    tags: dict[str, int] = {}
    for advisor in active:
        category = advisor.get("category", "uncategorized")
        categories[category] = categories.get(category, 0) + 1
        for tag in advisor.get("tags", []):
            tags[tag] = tags.get(tag, 0) + 1
    return {
        "totalAdvisors": len(active),
        "featuredAdvisors": sum(1 for a in active if a.get("featured")),
        "categories": categories,
        "tags": tags,  # each tag with how many advisors have it: the filters a client offers
    }


FUNCTIONS = (
    get_marketplace_advisors,
    get_user_selected_advisors,
    select_advisor,
    unselect_advisor,
    select_team_function,
    get_marketplace_stats,
)
