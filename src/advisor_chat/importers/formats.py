"""The advisor and team file formats of DESIGN.md 4, turned into documents.

Files in the wild vary: keys missing, keys added, other schema versions. The rules:
- keys our schema names are checked by it (a bad value skips the file, naming the field);
- keys it does not name are kept, in `extensions` (advisors) or `details` (teams), so
  nothing in a file is lost and an export can give it back;
- a required value is defaulted only when it is safely derivable (status "active", the
  tags from metadata.tags, persona.name from firstName/lastName, the legacy id from the
  file name), and each default is reported as a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor_chat.importers.values import to_ms
from advisor_chat.schema.fields import Array, Object, Optional, Validator
from advisor_chat.schema.tables import PERSONA

DEFAULT_ADVISOR_SCHEMA = "1.1-base"
STATUSES = ("active", "inactive", "archived")

# Top-level keys of an advisor file copied as they are, and all those it maps onto
# advisors fields (or the id); any other key is kept in `extensions`.
_COPIED = (
    "roleDefinition",
    "components",
    "metadata",
    "localization",
    "modelHint",
    "modelConfiguration",
)
_ADVISOR_KEYS = {
    *_COPIED,
    "advisorId",
    "advisorSchemaVersion",
    "schemaVersion",
    "status",
    "persona",
    "category",
    "featured",
    "isPublic",
    "imageUrl",
    "firstName",
    "lastName",
    "tags",
}


class FormatProblem(ValueError):
    """A file whose content cannot become a document; the message names the field."""


@dataclass
class Parsed:
    """A document's fields from a file, with what was defaulted or set aside."""

    legacy_id: str
    fields: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def split_unknown(value: Any, validator: Validator) -> tuple[Any, Any]:
    """(what `validator` declares, what it does not) for a value of a closed object;
    the second part mirrors the value's shape and is None when nothing was set aside."""
    while isinstance(validator, Optional):
        validator = validator.inner
    if isinstance(validator, Object) and not validator.open and type(value) is dict:
        kept: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, item in value.items():
            inner = validator.fields.get(key)
            if inner is None:
                extra[key] = item
                continue
            kept[key], rest = split_unknown(item, inner)
            if rest is not None:
                extra[key] = rest
        return kept, extra or None
    if isinstance(validator, Array) and type(value) is list:
        pairs = [split_unknown(item, validator.items) for item in value]
        extras = {str(i): rest for i, (_, rest) in enumerate(pairs) if rest is not None}
        return [kept for kept, _ in pairs], extras or None
    return value, None


def _distinct(items: list[Any]) -> list[Any]:
    """Each item once, in order; the schema then checks their types (a tag that is an
    object is refused by it, naming the field, rather than crashing here)."""
    try:
        return list(dict.fromkeys(items))
    except TypeError:  # an unhashable item: left for the schema to refuse
        return items


def _object(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if type(value) is dict else {}


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value.strip() if type(value) is str and value.strip() else None


def advisor_from_file(data: Mapping[str, Any], fallback_id: str) -> Parsed:
    """An advisors document (without owner or visibility) from an advisor file."""
    notes: list[str] = []
    legacy_id = _text(data, "advisorId")
    if legacy_id is None:
        legacy_id = fallback_id
        notes.append(f"no advisorId: using {fallback_id!r}")
    raw_persona = data.get("persona")
    if type(raw_persona) is not dict:
        raise FormatProblem("persona: required object missing")
    persona, persona_extra = split_unknown(raw_persona, PERSONA)
    if _text(persona, "name") is None:
        first, last = _text(data, "firstName"), _text(data, "lastName")
        if first is None:
            raise FormatProblem("persona.name: required, and no firstName to derive it from")
        persona["name"] = f"{first} {last}" if last else first
        notes.append("persona.name derived from firstName/lastName")
    if _text(persona, "title") is None:
        raise FormatProblem("persona.title: required field missing")

    metadata = _object(data, "metadata")
    doc: dict[str, Any] = {key: data[key] for key in _COPIED if key in data}
    version = _text(data, "advisorSchemaVersion") or _text(data, "schemaVersion")
    if version is None:
        notes.append(f"no advisorSchemaVersion: assumed {DEFAULT_ADVISOR_SCHEMA}")
    status = data.get("status", "active")
    if status not in STATUSES:
        raise FormatProblem(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    tags = data.get("tags", metadata.get("tags", []))
    doc |= {
        "schemaVersion": version or DEFAULT_ADVISOR_SCHEMA,
        "status": status,
        "persona": persona,
        "tags": _distinct(tags) if type(tags) is list else tags,
        "legacyId": legacy_id,
    }
    for key in ("category", "featured"):
        value = data.get(key, metadata.get(key))
        if value is not None:
            doc[key] = value
    for key in ("imageUrl", "firstName", "lastName"):
        if key in data:
            doc[key] = data[key]
    if "imageUrl" not in doc and _text(persona, "image"):
        doc["imageUrl"] = persona["image"]
    name_parts = persona["name"].split()
    if "firstName" not in doc and len(name_parts) >= 2:
        doc["firstName"], doc["lastName"] = name_parts[0], " ".join(name_parts[1:])

    created = to_ms(metadata.get("createdAt"))
    updated = to_ms(metadata.get("updatedAt"))
    if created is not None:
        doc["createdAt"] = created
        doc["updatedAt"] = updated if updated is not None else created
    extensions = {k: v for k, v in data.items() if k not in _ADVISOR_KEYS}
    if persona_extra is not None:
        extensions["persona"] = persona_extra
    if extensions:
        doc["extensions"] = extensions
        notes.append(
            f"kept {len(extensions)} key(s) the schema does not name: "
            + ", ".join(sorted(extensions))
        )
    return Parsed(legacy_id, doc, notes)


# Top-level keys of a team file that map onto teamTemplates fields.
_TEAM_KEYS = {"teamId", "name", "tagline", "description", "category", "advisorRoles"}


@dataclass
class ParsedTeam(Parsed):
    """A template, with its roles' advisors still named by their files' advisorIds."""

    roles: list[dict[str, Any]] = field(default_factory=list)


def team_from_file(data: Mapping[str, Any], fallback_id: str) -> ParsedTeam:
    """A teamTemplates document from a team file, except `advisorIds`/`advisorRoles`,
    which need the advisors' ids in this database (see `resolve_roles`)."""
    notes: list[str] = []
    team_id = _text(data, "teamId")
    if team_id is None:
        team_id = fallback_id
        notes.append(f"no teamId: using {fallback_id!r}")
    name = _text(data, "name")
    if name is None:
        raise FormatProblem("name: required field missing")
    roles = data.get("advisorRoles", [])
    if type(roles) is not list or any(type(r) is not dict for r in roles):
        raise FormatProblem("advisorRoles: expected an array of objects")
    metadata = _object(data, "metadata")
    doc: dict[str, Any] = {
        "id": team_id,
        "name": name,
        "description": data.get("description", _text(data, "tagline") or name),
        "category": data.get("category", metadata.get("category", "general")),
    }
    if "description" not in data:
        notes.append("no description: using the tagline or name")
    if "category" not in data and "category" not in metadata:
        notes.append("no category: using 'general'")
    if "tagline" in data:
        doc["tagline"] = data["tagline"]
    for key, target in (("featured", "featured"), ("icon", "icon"), ("sortOrder", "sortOrder")):
        if key in metadata:
            doc[target] = metadata[key]
    created = to_ms(metadata.get("createdAt"))
    updated = to_ms(metadata.get("updatedAt"))
    if created is not None:
        doc["createdAt"] = created
        doc["updatedAt"] = updated if updated is not None else created
    details = {k: v for k, v in data.items() if k not in _TEAM_KEYS}
    if details:
        doc["details"] = details
    ordered = sorted(
        enumerate(roles),
        key=lambda pair: (_priority(pair[1].get("sessionPriority")), pair[0]),
    )
    return ParsedTeam(team_id, doc, notes, roles=[role for _, role in ordered])


def _priority(value: object) -> float:
    return float(value) if isinstance(value, int | float) else float("inf")


def resolve_roles(
    team: ParsedTeam, advisor_ids: Mapping[str, str]
) -> tuple[list[str], list[dict[str, Any]], list[str]]:
    """The board (advisor ids in session priority order, each once), the roles with their
    advisors re-pointed to our ids, and notes: a role whose advisor is not in this
    database is left out."""
    board: list[str] = []
    roles: list[dict[str, Any]] = []
    notes: list[str] = []
    for role in team.roles:
        legacy = role.get("advisorId")
        found = advisor_ids.get(legacy) if type(legacy) is str else None
        if found is None:
            label = role.get("roleName") or role.get("roleId") or "a role"
            notes.append(f"{label}: advisor {legacy!r} not found, role left out")
            continue
        roles.append(role | {"advisorId": found})
        if found not in board:
            board.append(found)
    return board, roles, notes
