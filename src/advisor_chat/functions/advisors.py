"""advisors: the personas. The caller sees public (marketplace) advisors and their own,
and changes only their own; anyone else's private advisor answers as a missing one.
Signed out, the reads answer the public advisors alone, so the marketplace can be browsed
before signing up, as the original app's could.

The original app's names and arguments are served too: `getAllAdvisors`, `getAdvisors`,
`uploadAdvisorJSON` and the administrators' upkeep (`backfillAdvisorPhotos`,
`backfillAdvisorPersonaFieldsFromJSON`, `enrichAdvisorsFromJSON`). What it served to
anyone without signing in, for its migration scripts, is retired (`RETIRED`)."""

from __future__ import annotations

from typing import Any

import orjson

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import (
    not_found,
    require_admin,
    require_user,
    viewer,
    visible_advisor,
)
from advisor_chat.functions.context import ActionCtx, MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, Retired, action, mutation, query
from advisor_chat.functions.storage import require_room, require_small
from advisor_chat.importers.formats import FormatProblem, advisor_from_file, split_unknown
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
LISTED = 1_000  # advisors a listing reads from each source: the public ones, the caller's
TAG = v.string(max_length=limits.LABEL)
TAGS = v.array(TAG, max_items=limits.ITEMS)
STATUS = v.literals("active", "inactive", "archived")
# An advisor file's object as a client sends it: bounded loosely, so that what breaks the
# file format is told by createAdvisorFromJSON's own checks (naming the field) as an
# answer, not refused before them as an error.
UPLOADED = v.object({}, extras=v.any(max_length=MAX_PERSONA_BYTES, max_items=limits.ITEMS * 20))
SECRET = v.optional(v.string(max_length=limits.LINE))  # refused: see `_admin`

EDITABLE = {
    "firstName": v.optional(v.string(max_length=limits.NAME_PART)),
    "lastName": v.optional(v.string(max_length=limits.NAME_PART)),
    "imageUrl": v.optional(v.string(max_length=limits.URL)),
    "category": v.optional(v.string(max_length=limits.LABEL)),
    "status": v.optional(STATUS),
    "roleDefinition": v.optional(ROLE_DEFINITION),
    "components": v.optional(v.array(EXTRA, max_items=limits.ITEMS)),
    "metadata": v.optional(ADVISOR_METADATA),
    "localization": v.optional(LOCALIZATION),
    "modelHint": v.optional(v.string(max_length=limits.NAME)),
    "tags": v.optional(TAGS),
}


def _check_size(args: Args) -> None:
    for field in ("persona", "roleDefinition", "metadata", "components"):
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


async def _public(ctx: QueryCtx) -> list[Document]:
    return await ctx.db.query("advisors", "by_public").eq("isPublic", True).take(LISTED)


async def _own(ctx: QueryCtx, user: Document | None) -> list[Document]:
    if user is None:
        return []
    return await ctx.db.query("advisors", "by_owner").eq("ownerId", user["_id"]).take(LISTED)


async def visible_advisors(
    ctx: QueryCtx, user: Document | None, *, own_in_any_status: bool = False
) -> list[Document]:
    """Public advisors that are active and the caller's own (active ones, or in any status
    with `own_in_any_status`), each once, by creation. Two bounded index reads."""
    public = [a for a in await _public(ctx) if a["status"] == "active"]
    own = [a for a in await _own(ctx, user) if own_in_any_status or a["status"] == "active"]
    seen: dict[str, Document] = {a["_id"]: a for a in public + own}
    return sorted(seen.values(), key=lambda a: a["_creationTime"])


@query("advisors:getAllAdvisors", {})
async def get_all_advisors(ctx: QueryCtx, args: Args) -> list[Document]:
    """What the original's advisor rail lists: the active public advisors and the caller's
    own in every status (so an archived one can be found again); signed out, the public
    ones. The original answered every advisor in the database."""
    return await visible_advisors(ctx, await viewer(ctx), own_in_any_status=True)


@query("advisors:getActiveAdvisors", {})
async def get_active_advisors(ctx: QueryCtx, args: Args) -> list[Document]:
    return await visible_advisors(ctx, await viewer(ctx))


@query("advisors:getAdvisorById", {"advisorId": v.id("advisors")})
async def get_advisor_by_id(ctx: QueryCtx, args: Args) -> Document:
    return await visible_advisor(ctx, args["advisorId"], await viewer(ctx))


@query("advisors:getAdvisorsByTags", {"tags": v.array(TAG, max_items=limits.SEARCHED_TAGS)})
async def get_advisors_by_tags(ctx: QueryCtx, args: Args) -> list[Document]:
    """Active advisors the caller can see having any of the tags, each once. Filtered from
    the visible ones (bounded reads), not from the tag index, which holds every user's
    private advisors too."""
    wanted = set(args["tags"])
    advisors = await visible_advisors(ctx, await viewer(ctx))
    return [a for a in advisors if wanted.intersection(a["tags"])]


def _defaults_from(args: Args) -> dict[str, Any]:
    """What the original derived when a client left it out: the image from
    `persona.image`, the tags from `metadata.tags`."""
    derived: dict[str, Any] = {}
    image = args["persona"].get("image")
    if "imageUrl" not in args and image:
        derived["imageUrl"] = image
    metadata_tags = args.get("metadata", {}).get("tags")
    if "tags" not in args and metadata_tags is not None:
        derived["tags"] = list(dict.fromkeys(metadata_tags))
    return derived


@mutation(
    "advisors:createAdvisor",
    {
        "persona": PERSONA,
        **EDITABLE,
        "schemaVersion": v.optional(v.string(max_length=limits.LABEL)),
    },
)
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
    return await ctx.db.insert("advisors", doc | _defaults_from(args) | args)


async def _own_named(ctx: QueryCtx, user: Document, name: str) -> Document | None:
    """The caller's advisor of this persona name, if any (the first made)."""
    for advisor in await _own(ctx, user):
        if advisor["persona"]["name"] == name:
            return advisor
    return None


@mutation("advisors:createAdvisorFromJSON", {"advisor": v.object({}, extras=EXTRA)})
async def create_advisor_from_json(ctx: MutationCtx, args: Args) -> str:
    """A private advisor from an advisor file (DESIGN.md 4), read as `import advisors`
    reads one: unknown keys kept, safe defaults, a bad field named. The file's advisorId
    is kept in `extensions` (legacy ids are global; this advisor is the caller's).

    As the original, a file naming an advisor the caller already has (same persona name)
    replaces that one, keeping its id and creation: uploading a file again updates it.
    Only the caller's own advisors are matched, never a public one or anyone else's."""
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
    require_small(ctx, user, fields)
    existing = await _own_named(ctx, user, fields["persona"]["name"])
    if existing is not None:
        fields |= {"createdAt": existing["createdAt"], "updatedAt": now}
        await ctx.db.replace("advisors", existing["_id"], fields)
        return str(existing["_id"])
    fields.setdefault("createdAt", now)
    fields.setdefault("updatedAt", now)
    await require_room(ctx, user, "customAdvisors", user["_id"])
    return await ctx.db.insert("advisors", fields)


def _outcome_of(exc: FunctionError) -> dict[str, Any]:
    """A refusal as the original's actions answered one, with our code beside it."""
    return {"ok": False, "error": exc.message, "code": exc.code.value}


def _refused(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message, "code": Code.INVALID_ARGUMENT.value}


@action(
    "advisors:uploadAdvisorJSON",
    {
        "jsonString": v.optional(v.string(max_length=MAX_PERSONA_BYTES)),
        "advisor": v.optional(UPLOADED),
    },
)
async def upload_advisor_json(ctx: ActionCtx, args: Args) -> dict[str, Any]:
    """The original's upload button: an advisor file as text (`jsonString`) or parsed
    (`advisor`, preferred when both are given), made the caller's through
    createAdvisorFromJSON, so its checks, ownership and storage limit all apply. A file
    that is not JSON or not a valid advisor answers `{ok: false, error}`, never an error."""
    ctx.require_identity()
    advisor = args.get("advisor")
    if advisor is None and "jsonString" in args:
        try:
            advisor = orjson.loads(args["jsonString"])
        except orjson.JSONDecodeError as exc:
            return _refused(f"the advisor file is not valid JSON: {exc}")
    if type(advisor) is not dict:
        return _refused("Missing or invalid advisor JSON: send an advisor file's object.")
    try:
        created = await ctx.run_mutation("advisors:createAdvisorFromJSON", {"advisor": advisor})
    except FunctionError as exc:
        if exc.code is Code.UNAUTHENTICATED:
            raise
        return _outcome_of(exc)
    return {"ok": True, "advisorId": created}


@mutation(
    "advisors:updateAdvisor",
    {
        "advisorId": v.id("advisors"),
        "persona": v.optional(PERSONA),
        "expectedUpdatedAt": v.optional(v.number()),
        **EDITABLE,
    },
)
async def update_advisor(ctx: MutationCtx, args: Args) -> None:
    """Answers null, as the original did; a subscription sees the change. With
    `expectedUpdatedAt` (the `updatedAt` the editor started from), a change made elsewhere
    since is CONFLICT instead of silently overwritten: the editor decides whose stays."""
    advisor = await _own_advisor(ctx, args["advisorId"])
    if "expectedUpdatedAt" in args and args["expectedUpdatedAt"] != advisor.get("updatedAt"):
        raise FunctionError(
            Code.CONFLICT,
            "this advisor was changed elsewhere since you started editing it",
            field="expectedUpdatedAt",
            updatedAt=advisor.get("updatedAt"),
        )
    _check_size(args)
    changes = {k: value for k, value in args.items() if k not in ("advisorId", "expectedUpdatedAt")}
    require_small(ctx, await require_user(ctx), changes)
    await ctx.db.patch("advisors", advisor["_id"], changes | {"updatedAt": now_ms()})


@mutation("advisors:archiveAdvisor", {"advisorId": v.id("advisors")})
async def archive_advisor(ctx: MutationCtx, args: Args) -> None:
    advisor = await _own_advisor(ctx, args["advisorId"])
    await ctx.db.patch("advisors", advisor["_id"], {"status": "archived", "updatedAt": now_ms()})


@mutation("advisors:deleteAdvisor", {"advisorId": v.id("advisors")})
async def delete_advisor(ctx: MutationCtx, args: Args) -> None:
    """Also takes it off every board it sat on (selections, conversations' advisorIds and
    activeAdvisorId); answers it gave keep its id, as history."""
    advisor = await _own_advisor(ctx, args["advisorId"])
    await ctx.db.delete("advisors", advisor["_id"])


# -- administrators' upkeep of the marketplace ------------------------------------------


def _no_secret(args: Args) -> None:
    """The original let a shared `secret` (MIGRATION_SECRET) stand in for the admin role;
    here only the role does, so a call with one is refused, saying so."""
    if "secret" in args:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            "secret: a shared secret does not stand in for the admin role here; call this "
            "signed in as an administrator",
            field="secret",
        )


async def _admin(ctx: QueryCtx, args: Args) -> Document:
    _no_secret(args)
    return await require_admin(ctx)


def _tally(processed: int, updated: int) -> dict[str, int]:
    return {"processed": processed, "updated": updated, "skipped": processed - updated}


@mutation("advisors:backfillAdvisorPhotos", {"secret": SECRET})
async def backfill_advisor_photos(ctx: MutationCtx, args: Args) -> dict[str, int]:
    """Marketplace advisors without an `imageUrl` take their persona's image. The original
    also filled in photos from a list of its own people's pictures, which are not ours."""
    await _admin(ctx, args)
    processed = updated = 0
    for advisor in await _public(ctx):
        processed += 1
        image = advisor["persona"].get("image")
        if not advisor.get("imageUrl") and image:
            await ctx.db.patch(
                "advisors", advisor["_id"], {"imageUrl": image, "updatedAt": now_ms()}
            )
            updated += 1
    return _tally(processed, updated)


def _merge_missing(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """`target` with what it lacks from `source`, objects merged key by key; nothing it
    has is overwritten."""
    merged = dict(target)
    for key, value in source.items():
        if value is None:
            continue
        if key not in merged:
            merged[key] = value
        elif type(value) is dict and type(merged[key]) is dict:
            merged[key] = _merge_missing(merged[key], value)
    return merged


async def _public_named(ctx: QueryCtx, name: str) -> Document | None:
    found = await ctx.db.query("advisors", "by_persona_name").eq("persona.name", name).take(LISTED)
    return next((a for a in found if a.get("isPublic")), None)


@mutation(
    "advisors:backfillAdvisorPersonaFieldsFromJSON",
    {
        "advisors": v.array(
            v.any(max_length=limits.TEXT, max_items=limits.ITEMS), max_items=limits.ITEMS
        ),
        "secret": SECRET,
    },
)
async def backfill_persona_fields(ctx: MutationCtx, args: Args) -> dict[str, int]:
    """Each advisor file fills in the persona fields the marketplace advisor of the same
    persona name lacks (and its image), never overwriting one. Only public advisors are
    matched: a user's own advisor is theirs to edit. Persona keys our schema does not name
    are left out; a file that names no advisor here is skipped."""
    await _admin(ctx, args)
    processed = updated = 0
    for data in args["advisors"]:
        processed += 1
        persona = data.get("persona") if type(data) is dict else None
        name = persona.get("name") if type(persona) is dict else None
        advisor = await _public_named(ctx, name) if type(name) is str else None
        if persona is None or advisor is None:
            continue
        known, _ = split_unknown(persona, PERSONA)
        merged = _merge_missing(advisor["persona"], known)
        changes: dict[str, Any] = {}
        if merged != advisor["persona"]:
            changes["persona"] = merged
        if not advisor.get("imageUrl") and merged.get("image"):
            changes["imageUrl"] = merged["image"]
        if changes:
            await ctx.db.patch("advisors", advisor["_id"], changes | {"updatedAt": now_ms()})
            updated += 1
    return _tally(processed, updated)


@action(
    "advisors:enrichAdvisorsFromJSON",
    {
        "jsonStrings": v.optional(
            v.array(v.string(max_length=MAX_PERSONA_BYTES), max_items=limits.ITEMS)
        ),
        "advisors": v.optional(v.array(UPLOADED, max_items=limits.ITEMS)),
        "secret": SECRET,
    },
)
async def enrich_advisors_from_json(ctx: ActionCtx, args: Args) -> dict[str, Any]:
    """backfillAdvisorPersonaFieldsFromJSON from files as text or parsed, answering
    `{ok, result}` or `{ok: false, error}` as the original. Who may call it is told as an
    error (signed out, not an administrator), not as `ok: false`."""
    _no_secret(args)
    ctx.require_identity()
    advisors: list[Any] = args.get("advisors", [])
    if not advisors:
        try:
            advisors = [orjson.loads(text) for text in args.get("jsonStrings", [])]
        except orjson.JSONDecodeError as exc:
            return _refused(f"an advisor file is not valid JSON: {exc}")
    if not advisors:
        return _refused("No advisors provided.")
    call = {"advisors": advisors}
    try:
        result = await ctx.run_mutation("advisors:backfillAdvisorPersonaFieldsFromJSON", call)
    except FunctionError as exc:
        if exc.code in (Code.UNAUTHENTICATED, Code.FORBIDDEN):
            raise
        return _outcome_of(exc)
    return {"ok": True, "result": result}


_MIGRATION = "`advisor-chat import` (a Convex export or the Prisma database) replaces it"

RETIRED = (
    Retired(
        "advisors:create",
        "the original's migration import let anyone write advisors without signing in; "
        + _MIGRATION,
    ),
    Retired(
        "advisors:list",
        "the original's migration listing gave anyone every advisor, private ones too, "
        "without signing in; advisors:getAllAdvisors lists those the caller may see, and "
        "`advisor-chat export` exports them all",
    ),
    Retired(
        "advisors:backfillAdvisorPersonas",
        "every advisor here has a persona: each write requires one, and `advisor-chat "
        "import` derives it from firstName/lastName, so there is nothing to backfill",
    ),
)

FUNCTIONS = (
    get_all_advisors,
    get_active_advisors,
    get_active_advisors.alias("advisors:listAdvisorsForUser"),
    get_active_advisors.alias("advisors:getAdvisors"),
    get_advisor_by_id,
    get_advisors_by_tags,
    create_advisor,
    create_advisor_from_json,
    upload_advisor_json,
    update_advisor,
    archive_advisor,
    delete_advisor,
    backfill_advisor_photos,
    backfill_persona_fields,
    enrich_advisors_from_json,
)
