"""Valid example documents of every table, built in one place for every store test.

`DOCUMENTS[table].minimal(parents)` has only the required fields; `.maximal(parents)` has
every optional field at every level filled, non-empty arrays, and an undeclared key in every
open object (which the store must keep). Id fields point at real documents: insert the
`Parents` first with `insert_parents`. test_documents.py checks both claims against the
schema, so a field added to tables.py without an example here fails a test.

`invalid_documents(table, parents)` derives from the schema one document per kind of
mistake (each wrong in exactly one place) with the field and rule the error must name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from advisor_chat.schema.fields import (
    AnyValue,
    Array,
    Boolean,
    Id,
    LiteralOf,
    Number,
    Object,
    Optional,
    String,
    Validator,
)
from advisor_chat.schema.ids import DocumentId, IdGenerator
from advisor_chat.schema.tables import SYSTEM_FIELDS, TABLES
from advisor_chat.store import Store, Transaction

Doc = dict[str, Any]
Shape = Literal["minimal", "maximal"]
SHAPES: tuple[Shape, ...] = ("minimal", "maximal")

T0 = 1_700_000_000_000  # ms since the epoch, as the seed's createdAt/updatedAt
T1 = 1_700_000_123_456.5  # a float with a fraction: numbers must round-trip exactly


@dataclass(frozen=True)
class Parents:
    """One document of each table that other tables' id fields point at."""

    user: DocumentId
    advisor: DocumentId
    conversation: DocumentId
    message: DocumentId


Factory = Callable[[Parents], Doc]


@dataclass(frozen=True)
class Examples:
    minimal: Factory
    maximal: Factory

    def shape(self, shape: Shape) -> Factory:
        return self.minimal if shape == "minimal" else self.maximal


# --- users ----------------------------------------------------------------------------------


def user(clerk_id: str) -> Doc:
    return {"clerkId": clerk_id, "plan": "free", "createdAt": T0, "updatedAt": T0}


def _users_maximal(p: Parents) -> Doc:
    return user("clerk-maximal") | {
        "email": "zoe@example.test",
        "name": "Zoë Ng 🚀",
        "image": "https://img.example.test/zoe.png",
        "plan": "pro",
        "updatedAt": T1,
        "legacyId": "legacy-user-1",
        "tokenIssuer": "https://clerk.example.test",
        "role": "admin",
    }


# --- advisors -------------------------------------------------------------------------------


def advisor() -> Doc:
    return {
        "schemaVersion": "1.1-base",
        "status": "active",
        "persona": {"name": "Ada Reyes", "title": "Fractional CFO"},
        "tags": [],
        "createdAt": T0,
        "updatedAt": T0,
    }


def _education(year: int) -> Doc:
    return {
        "degreeLevel": "Master",
        "degreeName": "MBA",
        "major": "Finance",
        "institution": "Universidade de Lisboa",
        "graduationYear": year,
    }


PERSONA_MAXIMAL: Doc = {
    "name": "Ada Reyes",
    "title": "Fractional CFO",
    "image": "https://img.example.test/ada.png",
    "description": "Finance for seed-stage founders",
    "oneLiner": "Cash is oxygen.",
    "archetype": "The Steward",
    "temperament": "calm",
    "bio": "Twenty years in startup finance.",
    "detailedBackground": "Ran finance at three venture-backed companies.",
    "experience": "20 years",
    "specialties": ["runway", "fundraising"],
    "personalInterests": ["sailing"],
    "communicationStyle": "direct",
    "personality": ["pragmatic", "warm"],
    "expertise": ["FP&A"],
    "coreBeliefsOrPrinciples": ["Measure what matters"],
    "education": _education(2004),
    "additionalEducation": [_education(2009) | {"degreeName": "CPA"}],
    "location": {
        "city": "Lisboa",
        "region": "Lisboa",
        "country": "Portugal",
        "countryCode": "PT",
        "timezone": "Europe/Lisbon",
    },
    "adviceDelivery": {
        "mode": "coach",
        "formality": "neutral",
        "useEmojis": False,
        "voiceGuidelines": ["short sentences"],
        "signOff": "— Ada",
    },
    "maritalStatus": "married",
}


def _advisors_maximal(p: Parents) -> Doc:
    return {
        "firstName": "Ada",
        "lastName": "Reyes",
        "imageUrl": "https://img.example.test/ada.png",
        "schemaVersion": "1.1-base",
        "status": "archived",
        "ownerId": p.user,
        "isPublic": True,
        "featured": False,
        "category": "finance",
        "persona": PERSONA_MAXIMAL,
        "roleDefinition": {
            "mission": "Keep the company solvent",
            "scope": {"inScope": ["budgets"], "outOfScope": ["legal"], "notes": "no tax"},
            "keyPerformanceIndicators": [
                {"metric": "runway", "description": "months left", "unit": "months", "goal": 18}
            ],
            "escalation": {"to": "board", "within": [1, 2.5, None, True]},
        },
        "components": [{"id": "memory", "version": "1", "config": {"window": 20}}, "raw", 3],
        "metadata": {
            "version": "1.2.0",
            "createdAt": "2024-01-01T00:00:00Z",
            "updatedAt": "2024-01-02T00:00:00Z",
            "owner": {"org": "Acme", "contactEmail": "ops@example.test", "team": "finance"},
            "tags": ["finance"],
            "teamAffiliations": [
                {
                    "teamId": "startup",
                    "teamName": "Startup Board",
                    "roleName": "CFO",
                    "isPrimary": True,
                    "since": 2021,
                }
            ],
            "source": "advisor-file",
        },
        "localization": {
            "defaultLanguage": "en",
            "supportedLanguages": ["en", "pt"],
            "fallback": "en",
        },
        "modelHint": "gpt-4o-mini",
        "modelConfiguration": {"defaultModel": "m", "temperature": 0.2, "stop": ["\n\n"]},
        "tags": ["finance", "runway"],
        "createdAt": T0,
        "updatedAt": T1,
        "legacyId": "legacy-advisor-1",
        "extensions": {"voiceSamples": ["Numbers first."], "persona": {"age": 51}},
    }


# --- the rest ---------------------------------------------------------------------------------


def _user_advisors_minimal(p: Parents) -> Doc:
    return {"userId": p.user, "advisorId": p.advisor, "selectedAt": T0, "source": "marketplace"}


def _user_advisors_maximal(p: Parents) -> Doc:
    return _user_advisors_minimal(p) | {"source": "team", "teamId": "startup", "selectedAt": T1}


def _team_templates_minimal(p: Parents) -> Doc:
    return {
        "id": "template-minimal",
        "name": "Startup",
        "description": "A board for founders",
        "category": "startup",
        "advisorIds": [p.advisor],
        "createdAt": T0,
        "updatedAt": T0,
    }


def _team_templates_maximal(p: Parents) -> Doc:
    return _team_templates_minimal(p) | {
        "id": "template-maximal",
        "icon": "🚀",
        "featured": True,
        "sortOrder": 2.5,
        "updatedAt": T1,
        "tagline": "From idea to first customers",
        "advisorRoles": [
            {
                "advisorId": p.advisor,
                "roleId": "lead",
                "roleName": "Launch Lead",
                "roleDescription": "Runs the session",
                "primaryFocus": ["strategy"],
                "interactionStyle": "direct",
                "sessionPriority": 1,
                "handoffTo": "cfo",
            }
        ],
        "details": {"teamSchemaVersion": "1.0", "onboarding": {"estimatedTime": "15 minutes"}},
    }


def conversation(user_id: str) -> Doc:
    return {"userId": user_id, "createdAt": T0, "updatedAt": T0}


def _conversations_maximal(p: Parents) -> Doc:
    return conversation(p.user) | {
        "title": "Q2 planning «draft»",
        "activeAdvisorId": p.advisor,
        "advisorIds": [p.advisor],
        "updatedAt": T1,
        "legacyId": "legacy-conversation-1",
    }


def message(conversation_id: str, content: str = "Hello") -> Doc:
    return {
        "conversationId": conversation_id,
        "sender": "user",
        "content": content,
        "mentions": [],
        "createdAt": T0,
    }


def _messages_maximal(p: Parents) -> Doc:
    return message(p.conversation, "@Ada how long is our runway?") | {
        "sender": "advisor",
        "advisorId": p.advisor,
        "contentJson": {"blocks": [1, "two", None, {"x": 1.5, "ok": False}], "": []},
        "mentions": ["Ada"],
        "tokensUsed": 42,
        "status": "error",
        "error": "provider timed out",
        "createdAt": T1,
        "legacyId": "legacy-message-1",
        "model": "gpt-4o-mini",
        "notice": "gpt-4o failed; answered by gpt-4o-mini.",
        "errorCode": "PROVIDER_ERROR",
        "roundId": "01m8sjwwh5d66qae3bsegtjm0gd",
        "versions": [
            {
                "content": "An earlier answer.",
                "createdAt": T0,
                "status": "stopped",
                "model": "gpt-4o",
                "tokensUsed": 7,
                "error": "stopped by the user",
                "errorCode": "PROVIDER_ERROR",
                "notice": "gpt-4o failed; answered by gpt-4o-mini.",
            }
        ],
    }


def _advisor_memories_minimal(p: Parents) -> Doc:
    return {
        "conversationId": p.conversation,
        "advisorId": p.advisor,
        "key": "runway",
        "value": "14 months",
        "createdAt": T0,
        "updatedAt": T0,
    }


def _advisor_memories_maximal(p: Parents) -> Doc:
    value = {"months": 14, "confidence": 0.75, "sources": ["bank", {"page": 3}], "note": None}
    return _advisor_memories_minimal(p) | {"value": value, "updatedAt": T1, "setBy": "user"}


def _thread_summaries_minimal(p: Parents) -> Doc:
    return {"conversationId": p.conversation, "content": "So far: runway.", "createdAt": T0}


def _thread_summaries_maximal(p: Parents) -> Doc:
    return _thread_summaries_minimal(p) | {
        "startMessageId": p.message,
        "endMessageId": p.message,
        "legacyId": "legacy-summary-1",
    }


def _typing_indicators_minimal(p: Parents) -> Doc:
    return {
        "conversationId": p.conversation,
        "userId": p.user,
        "isTyping": False,
        "lastTypingAt": 0,
    }


def _typing_indicators_maximal(p: Parents) -> Doc:
    return _typing_indicators_minimal(p) | {"isTyping": True, "lastTypingAt": T1}


def _user_presence_minimal(p: Parents) -> Doc:
    return {"userId": p.user, "isOnline": False, "lastSeenAt": T0}


def _user_presence_maximal(p: Parents) -> Doc:
    return _user_presence_minimal(p) | {
        "isOnline": True,
        "lastSeenAt": T1,
        "currentConversationId": p.conversation,
        "nodes": {"n_0123456789abcdef": T1 + 30_000},
        "leaseUntil": T1 + 30_000,
    }


def stream_delta(message_id: str, start: int, text: str) -> Doc:
    return {
        "messageId": message_id,
        "start": start,
        "end": start + len(text),
        "text": text,
        "createdAt": T0,
    }


def account(user_id: str, email: str) -> Doc:
    return {
        "email": email,
        "passwordHash": "scrypt$16384$8$1$c2FsdA$aGFzaA",
        "userId": user_id,
        "createdAt": T0,
        "updatedAt": T0,
    }


# A sign-in's first session, already deleted (pruned once expired) while the sessions its
# refreshes added live on and still name it: an id pointing at no document, by design.
PRUNED_SESSION = IdGenerator().new_id("sessions")


def session(user_id: str, refresh_hash: str) -> Doc:
    return {
        "userId": user_id,
        "refreshHash": refresh_hash,
        "expiresAt": T0 + 30 * 86_400_000,
        "createdAt": T0,
    }


DOCUMENTS: dict[str, Examples] = {
    "users": Examples(lambda p: user("clerk-minimal"), _users_maximal),
    "advisors": Examples(lambda p: advisor(), _advisors_maximal),
    "userAdvisors": Examples(_user_advisors_minimal, _user_advisors_maximal),
    "teamTemplates": Examples(_team_templates_minimal, _team_templates_maximal),
    "conversations": Examples(lambda p: conversation(p.user), _conversations_maximal),
    "messages": Examples(lambda p: message(p.conversation), _messages_maximal),
    "advisorMemories": Examples(_advisor_memories_minimal, _advisor_memories_maximal),
    "threadSummaries": Examples(_thread_summaries_minimal, _thread_summaries_maximal),
    "typingIndicators": Examples(_typing_indicators_minimal, _typing_indicators_maximal),
    "userPresence": Examples(_user_presence_minimal, _user_presence_maximal),
    "streamDeltas": Examples(
        lambda p: stream_delta(p.message, 0, "Hel"),
        lambda p: stream_delta(p.message, 3, "lo, wörld ✓") | {"createdAt": T1},
    ),
    "accounts": Examples(
        lambda p: account(p.user, "minimal@example.test"),
        lambda p: account(p.user, "maximal@example.test") | {"updatedAt": T1, "sessionEpoch": 2},
    ),
    "sessions": Examples(
        lambda p: session(p.user, "sha256-minimal"),
        lambda p: (
            session(p.user, "sha256-maximal")
            | {
                "revokedAt": T1,
                "epoch": 2,
                "signInId": PRUNED_SESSION,
                "replacedBy": PRUNED_SESSION,
            }
        ),
    ),
    "webhookEvents": Examples(
        lambda p: {"eventId": "msg_minimal", "source": "clerk", "receivedAt": T0},
        lambda p: {"eventId": "msg_maximal ✓", "source": "clerk", "receivedAt": T1},
    ),
    "rateLimits": Examples(
        lambda p: {"userId": p.user, "bucket": "messages", "windowStart": T0, "count": 1},
        lambda p: {"userId": p.user, "bucket": "generations", "windowStart": T1, "count": 99},
    ),
    "scheduledFunctions": Examples(
        lambda p: {
            "name": "chat:generate",
            "args": {},
            "scheduledTime": T0,
            "state": "pending",
            "lane": "short",
        },
        lambda p: {
            "name": "chat:generate",
            "args": {"messageId": p.message, "n": [1, None, {"deep": True}]},
            "identity": {
                "subject": "user_1",
                "issuer": "https://issuer.test",
                "email": "a@example.test",
                "name": "Ann ✓",
                "pictureUrl": "https://img.test/a.png",
            },
            "scheduledTime": T0,
            "state": "failed",
            "lane": "long",
            "startedTime": T0,
            "completedTime": T1,
            "error": "PROVIDER_ERROR: the model is down",
            "worker": "w_0123456789abcdef",
            "leaseUntil": T1,
            "cancelRequested": True,
        },
    ),
    "deletedUsers": Examples(
        lambda p: {"clerkId": "clerk-deleted-minimal", "deletedAt": T0},
        lambda p: {
            "clerkId": "clerk-deleted-maximal",
            "tokenIssuer": "https://clerk.example.test",
            "deletedAt": T1,
        },
    ),
    "throttles": Examples(
        lambda p: {"key": "throttle-minimal", "tat": T0},
        lambda p: {"key": "throttle-maximal", "tat": T1 + 0.5},
    ),
    "mutationReceipts": Examples(
        lambda p: {"key": "receipt-minimal", "value": None, "at": T0},
        lambda p: {"key": "receipt-maximal", "value": {"_id": p.message, "n": [1, 2]}, "at": T1},
    ),
}


def document(table: str, shape: Shape, parents: Parents) -> Doc:
    return DOCUMENTS[table].shape(shape)(parents)


# --- one mistake each ---------------------------------------------------------------------


def inner(validator: Validator) -> Validator:
    """What an optional field holds when present."""
    return validator.inner if isinstance(validator, Optional) else validator


@dataclass(frozen=True)
class Invalid:
    kind: str
    doc: Doc
    field: str  # the path the error names; "...[0]*" names any deeper spot of that list
    rule: str  # words the error's rule must contain

    def named_by(self, field: str) -> bool:
        if self.field.endswith("*"):
            return field.startswith(self.field[:-1]) and set(field[len(self.field) - 1 :]) <= set(
                "[0]"
            )
        return field == self.field


def wrong_type(validator: Validator) -> tuple[Any, str] | None:
    match validator:
        case String():
            return 123, "expected string, got number"
        case Number():
            return "1", "expected number, got string"
        case Boolean():
            return 1, "expected boolean, got number"
        case Id():
            return 123, f"expected an id of table {validator.table}, got number"
        case LiteralOf():
            return 123, "expected one of"
        case Array():
            return "x", "expected array, got string"
        case Object():
            return [], "expected object, got array"
        case AnyValue():
            return None
    raise AssertionError(f"no wrong value for {validator!r}")


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# Mistakes inside objects and arrays: (where the minimal document gets the value, the value,
# the field the error names if not that same path, words of its rule).
NESTED: dict[str, list[tuple[str, Any, str, str]]] = {
    "advisors": [
        ("persona.education.graduationYear", "2004", "", "expected number, got string"),
        ("persona.education.graduationYear", math.nan, "", "number must be finite"),
        ("persona", {"name": "Ada"}, "persona.title", "required field missing"),
        ("persona.nickname", "A", "", "unknown field"),
        ("persona.specialties", ["a", 3], "persona.specialties[1]", "got number"),
        ("persona.adviceDelivery.useEmojis", "yes", "", "expected boolean, got string"),
        (
            "persona.additionalEducation",
            [{"gpa": 4}],
            "persona.additionalEducation[0].gpa",
            "unknown field",
        ),
        # Open objects still check their declared fields, and their extra keys are JSON.
        ("roleDefinition.scope.inScope", [5], "roleDefinition.scope.inScope[0]", "got number"),
        ("roleDefinition.extra", math.inf, "", "number must be finite"),
        (
            "metadata.teamAffiliations",
            [{"isPrimary": 1}],
            "metadata.teamAffiliations[0].isPrimary",
            "expected boolean, got number",
        ),
        ("components", [{"x": -math.inf}], "components[0].x", "number must be finite"),
        ("modelConfiguration.deep", _nested(40), "modelConfiguration.deep[0]*", "nested deeper"),
    ],
    "messages": [
        ("mentions", ["a", 5], "mentions[1]", "expected string, got number"),
        ("contentJson", {"a": [1, math.nan]}, "contentJson.a[1]", "number must be finite"),
        ("contentJson", _nested(40), "contentJson[0]*", "nested deeper"),
    ],
    "advisorMemories": [
        ("value", {"k": math.inf}, "value.k", "number must be finite"),
        ("value", {1: "x"}, "", "object keys must be strings"),
    ],
}


def _put(doc: Doc, path: str, value: Any) -> Doc:
    """`doc` with `value` at a dotted path, keeping what is already along the way."""
    head, _, rest = path.partition(".")
    return doc | {head: _put(doc.get(head, {}), rest, value) if rest else value}


def _nested_invalid(table: str, base: Doc, p: Parents) -> list[Invalid]:
    found = [
        Invalid("nested", _put(base, path, value), field or path, rule)
        for path, value, field, rule in NESTED.get(table, [])
    ]
    if table == "conversations":
        rule = "an id of another table, expected table advisors"
        advisors = [p.advisor, p.message]
        found.append(Invalid("nested", base | {"advisorIds": advisors}, "advisorIds[1]", rule))
    return found


def invalid_documents(table: str, p: Parents) -> list[Invalid]:
    """One document per kind of mistake, each wrong in exactly one place."""
    base = document(table, "minimal", p)
    fields = TABLES[table].document.fields
    found: list[Invalid] = []
    for name, declared in fields.items():
        validator = inner(declared)
        if not isinstance(declared, Optional):
            missing = {k: v for k, v in base.items() if k != name}
            found.append(Invalid("missing required", missing, name, "required field missing"))
        elif not isinstance(validator, AnyValue):  # null is a value of v.any()
            rule = "expected one of" if isinstance(validator, LiteralOf) else "got null"
            found.append(Invalid("null for optional", base | {name: None}, name, rule))
        wrong = wrong_type(validator)
        if wrong is not None:
            found.append(Invalid("wrong type", base | {name: wrong[0]}, name, wrong[1]))
        if isinstance(validator, Number):
            found.append(
                Invalid("bool as number", base | {name: True}, name, "expected number, got boolean")
            )
            for bad in (math.nan, math.inf, -math.inf):
                found.append(Invalid("non-finite", base | {name: bad}, name, "must be finite"))
        if isinstance(validator, LiteralOf):
            found.append(
                Invalid("literal not allowed", base | {name: "maybe"}, name, "expected one of")
            )
        if isinstance(validator, Id):
            foreign = p.message if validator.table != "messages" else p.user
            rule = f"an id of another table, expected table {validator.table}"
            found.append(Invalid("id of another table", base | {name: foreign}, name, rule))
            found.append(
                Invalid(
                    "malformed id",
                    base | {name: "not an id!"},
                    name,
                    f"not a valid id of table {validator.table}",
                )
            )
        if isinstance(validator, Array) and isinstance(validator.items, Id):
            foreign = p.message if validator.items.table != "messages" else p.user
            found.append(
                Invalid(
                    "id of another table in an array",
                    base | {name: [foreign]},
                    f"{name}[0]",
                    f"an id of another table, expected table {validator.items.table}",
                )
            )
    found.append(Invalid("unknown field", base | {"bogus": 1}, "bogus", "unknown field"))
    for system in SYSTEM_FIELDS:
        found.append(
            Invalid(
                "system field", base | {system: p.user}, system, "system field, set by the store"
            )
        )
    return found + _nested_invalid(table, base, p)


# --- in a database ---------------------------------------------------------------------------


async def insert_parents_tx(tx: Transaction, tag: str = "parent") -> Parents:
    """A user, an advisor, a conversation of the user and a message in it. `tag` keeps the
    user's clerkId apart when a test needs two families."""
    user_id = await tx.insert("users", user(f"clerk-{tag}"))
    advisor_id = await tx.insert("advisors", advisor())
    conversation_id = await tx.insert("conversations", conversation(user_id))
    message_id = await tx.insert("messages", message(conversation_id))
    return Parents(user_id, advisor_id, conversation_id, message_id)


async def insert_parents(store: Store, tag: str = "parent") -> Parents:
    return (await store.mutation(lambda tx: insert_parents_tx(tx, tag))).value


async def count(store: Store, table: str) -> int:
    """Rows of `table`, read through its creation-time index in a fresh query."""

    async def read(tx: Transaction) -> int:
        return len(await tx.query(table, "by_creation_time").collect())

    return (await store.query(read)).value


async def documents(store: Store, table: str) -> list[Doc]:
    """Every document of `table` in creation order, in one fresh query."""

    async def read(tx: Transaction) -> list[Doc]:
        return await tx.query(table).collect()

    return (await store.query(read)).value


async def snapshot(store: Store, tables: list[str]) -> dict[str, dict[str, Doc]]:
    """Every document of `tables`, by table and id, in one fresh query."""

    async def read(tx: Transaction) -> dict[str, dict[str, Doc]]:
        return {t: {d["_id"]: d for d in await tx.query(t).collect()} for t in tables}

    return (await store.query(read)).value
