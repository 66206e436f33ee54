"""advisors: the personas. The caller sees public (marketplace) advisors and their own,
and changes only their own; anyone else's private advisor answers as a missing one."""

from __future__ import annotations

from typing import Any

import orjson

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import not_found, require_user, visible_advisor
from advisor_chat.functions.context import MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, mutation, query
from advisor_chat.functions.storage import require_room, require_small
from advisor_chat.importers.formats import FormatProblem, advisor_from_file
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.schema.tables import (
    ADVISOR_METADATA,
    EXTRA,
    LOCALIZATION,
    PERSONA,
    ROLE_DEFINITION,
)
from advisor_chat.store import Document

MAX_PERSONA_BYTES = 256 * 1024
SCHEMA_VERSION = "1.1-base"
TAG = v.string(max_length=limits.LABEL)
TAGS = v.array(TAG, max_items=limits.ITEMS)

EDITABLE = {
    "firstName": v.optional(v.string(max_length=limits.NAME_PART)),
    "lastName": v.optional(v.string(max_length=limits.NAME_PART)),
    "imageUrl": v.optional(v.string(max_length=limits.URL)),
    "category": v.optional(v.string(max_length=limits.LABEL)),
    "roleDefinition": v.optional(ROLE_DEFINITION),
    "metadata": v.optional(ADVISOR_METADATA),
    "localization": v.optional(LOCALIZATION),
    "modelHint": v.optional(v.string(max_length=limits.NAME)),
    "tags": v.optional(TAGS),
}


def _check_size(args: Args) -> None:
    for field in ("persona", "roleDefinition", "metadata"):
        if field in args and len(orjson.dumps(args[field])) > MAX_PERSONA_BYTES:
            raise FunctionError(
                Code.INVALID_ARGUMENT, f"{field} larger than {MAX_PERSONA_BYTES} bytes", field=field
            )


async def _own_advisor(ctx: QueryCtx, advisor_id: str) -> Document:
    user = await require_user(ctx)
    advisor = await ctx.db.get("advisors", advisor_id)
    if advisor is None or advisor.get("ownerId") != user["_id"]:
        raise not_found("advisors", advisor_id)
    return advisor


async def visible_advisors(ctx: QueryCtx, user: Document) -> list[Document]:
    """Public advisors and the caller's own, each once, active first by creation."""
    public = await ctx.db.query("advisors", "by_public").eq("isPublic", True).collect()
    own = await ctx.db.query("advisors", "by_owner").eq("ownerId", user["_id"]).collect()
    seen: dict[str, Document] = {a["_id"]: a for a in public + own}
    return sorted(seen.values(), key=lambda a: a["_creationTime"])


@query("advisors:getActiveAdvisors", {})
async def get_active_advisors(ctx: QueryCtx, args: Args) -> list[Document]:
    user = await require_user(ctx)
    return [a for a in await visible_advisors(ctx, user) if a["status"] == "active"]


@query("advisors:getAdvisorById", {"advisorId": v.id("advisors")})
async def get_advisor_by_id(ctx: QueryCtx, args: Args) -> Document:
    return await visible_advisor(ctx, args["advisorId"], await require_user(ctx))


@query("advisors:getAdvisorsByTags", {"tags": v.array(TAG, max_items=limits.SEARCHED_TAGS)})
async def get_advisors_by_tags(ctx: QueryCtx, args: Args) -> list[Document]:
    """Active advisors the caller can see having any of the tags, each once."""
    user = await require_user(ctx)
    found: dict[str, Document] = {}
    for tag in dict.fromkeys(args["tags"]):
        for advisor in await ctx.db.query("advisors", "by_tags").eq("tags", tag).collect():
            visible = advisor.get("isPublic") or advisor.get("ownerId") == user["_id"]
            if visible and advisor["status"] == "active":
                found.setdefault(advisor["_id"], advisor)
    return sorted(found.values(), key=lambda a: a["_creationTime"])


@mutation("advisors:createAdvisor", {"persona": PERSONA, **EDITABLE})
async def create_advisor(ctx: MutationCtx, args: Args) -> str:
    """A private advisor owned by the caller."""
    user = await require_user(ctx)
    _check_size(args)
    require_small(ctx, user, args)
    await require_room(ctx, user, "customAdvisors", user["_id"])
    now = now_ms()
    doc: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "status": "active",
        "ownerId": user["_id"],
        "isPublic": False,
        "tags": [],
        "createdAt": now,
        "updatedAt": now,
    }
    return await ctx.db.insert("advisors", doc | args)


@mutation("advisors:createAdvisorFromJSON", {"advisor": v.object({}, extras=EXTRA)})
async def create_advisor_from_json(ctx: MutationCtx, args: Args) -> str:
    """A private advisor from an advisor file (DESIGN.md 4), read as `import advisors`
    reads one: unknown keys kept, safe defaults, a bad field named. The file's advisorId
    is kept in `extensions` (legacy ids are global; this advisor is the caller's)."""
    user = await require_user(ctx)
    data = args["advisor"]
    if len(orjson.dumps(data)) > MAX_PERSONA_BYTES:
        raise FunctionError(
            Code.INVALID_ARGUMENT, f"advisor larger than {MAX_PERSONA_BYTES} bytes", field="advisor"
        )
    try:
        parsed = advisor_from_file(data, "advisor")
    except FormatProblem as exc:
        raise FunctionError(Code.INVALID_ARGUMENT, f"advisor.{exc}", field="advisor") from exc
    fields = dict(parsed.fields)
    legacy = fields.pop("legacyId")
    if "advisorId" in data:
        fields["extensions"] = fields.get("extensions", {}) | {"advisorId": legacy}
    now = now_ms()
    fields |= {"ownerId": user["_id"], "isPublic": False, "featured": False}
    fields.setdefault("createdAt", now)
    fields.setdefault("updatedAt", now)
    require_small(ctx, user, fields)
    await require_room(ctx, user, "customAdvisors", user["_id"])
    return await ctx.db.insert("advisors", fields)


@mutation(
    "advisors:updateAdvisor",
    {"advisorId": v.id("advisors"), "persona": v.optional(PERSONA), **EDITABLE},
)
async def update_advisor(ctx: MutationCtx, args: Args) -> Document:
    advisor = await _own_advisor(ctx, args["advisorId"])
    _check_size(args)
    changes = {k: value for k, value in args.items() if k != "advisorId"}
    require_small(ctx, await require_user(ctx), changes)
    return await ctx.db.patch("advisors", advisor["_id"], changes | {"updatedAt": now_ms()})


@mutation("advisors:archiveAdvisor", {"advisorId": v.id("advisors")})
async def archive_advisor(ctx: MutationCtx, args: Args) -> Document:
    advisor = await _own_advisor(ctx, args["advisorId"])
    return await ctx.db.patch(
        "advisors", advisor["_id"], {"status": "archived", "updatedAt": now_ms()}
    )


@mutation("advisors:deleteAdvisor", {"advisorId": v.id("advisors")})
async def delete_advisor(ctx: MutationCtx, args: Args) -> None:
    """Also takes it off every board it sat on (selections, conversations' advisorIds and
    activeAdvisorId); answers it gave keep its id, as history."""
    advisor = await _own_advisor(ctx, args["advisorId"])
    await ctx.db.delete("advisors", advisor["_id"])


FUNCTIONS = (
    get_active_advisors,
    get_active_advisors.alias("advisors:listAdvisorsForUser"),
    get_advisor_by_id,
    get_advisors_by_tags,
    create_advisor,
    create_advisor_from_json,
    update_advisor,
    archive_advisor,
    delete_advisor,
)
