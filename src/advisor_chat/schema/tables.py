"""The tables, declared once: fields, indexes, uniqueness and what a delete takes with it.

The ten tables and their indexes are seed 000's, field for field and index for index. Our
additions, all in the same style:

- `legacyId` on users, advisors, conversations and messages (seed 002), and on thread
  summaries (so a re-run of the Prisma import updates them too), unique where present.
- Streaming state on messages: `status` (`streaming → complete | stopped | error`, absent
  means complete, as for every message written before streaming existed) and `error`
  (the readable reason an answer ended `error`), plus the `streamDeltas` table holding the
  chunks of an answer in progress, so a stream costs O(length) bytes written. An answer
  also records its `model`, a `notice`, an `errorCode`, its `roundId` (indexed:
  `by_round`) and the earlier `versions` a regenerate kept.
- `advisorMemories.setBy`: whether the user or an advisor set a memory's value last.
- `conversations.advisorIds`: the conversation's board (seed 002; mentions route within it).
- `messages.search_content`: a full-text index over `content`, narrowed by conversation
  (Convex's `searchIndex`), so searching a user's history costs what it finds.
- `advisors.legacyId` / `modelConfiguration`, `persona.additionalEducation`: the advisor file
  format of DESIGN.md 4; `advisors.extensions` keeps the keys of an advisor file the schema
  does not name, and `teamTemplates.tagline` / `advisorRoles` / `details` the rest of a team
  file (its `teamId` is the template's `id`), so an import loses nothing.
- `conversations.by_advisor_ids` (seed 002: "advisorIds, for filtering by advisor
  involvement"): also how a deleted advisor is taken off every board.
- `typingIndicators.by_conversation_user` and `teamTemplates.by_template_id`: the indexes that
  carry the "one row per (conversation, user)" and "one template per id" rules.
- `accounts` and `sessions`: local accounts (the embedded default's sign-in) and their
  refresh sessions. Never readable through a function.
- `webhookEvents`: ids of webhook deliveries already applied, so a replay changes nothing.
- `users.tokenIssuer`: the issuer whose tokens act as the row (identity is (issuer,
  subject); absent: the configured OIDC issuer's, see auth/identities.py), and
  `deletedUsers`: a tombstone per deleted user, so a token issued before the deletion
  cannot recreate the row. Never readable through a function.
- `userPresence.nodes` / `leaseUntil` (indexed `by_online_lease`): presence decided by the
  server, each server process holding a lease on its users' rows (live/presence.py), so a
  process that dies leaves nobody online past its lease.
- `rateLimits`: per-user counters of the current quota window (messages a minute,
  generations a day), one row per (user, bucket).
- `throttles`: the sign-in throttle's state when no Redis is configured (auth/limiter.py):
  one number per key, keyed by a keyed hash so the table does not list who tried what.
  Never readable through a function.
- `mutationReceipts`: what a mutation sent over the sync protocol answered, kept an hour
  under a keyed hash of its caller, session and request id, written in its own
  transaction, so a client resending it after a lost answer gets that answer rather than
  a second run (functions/receipts.py). Never readable through a function.
- `scheduledFunctions`: calls a mutation scheduled (Convex's `_scheduled_functions`),
  written in the mutation's own transaction so they exist exactly when it committed, and
  run by the server's worker when due. Never readable through a function.

Every table also has Convex's system fields `_id` and `_creationTime`, and the implicit
index `by_creation_time`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from advisor_chat.schema import limits
from advisor_chat.schema.fields import Object, Optional, Validator, v
from advisor_chat.schema.ids import TABLE_NUMBERS

SYSTEM_FIELDS = ("_id", "_creationTime")
CREATION_INDEX = "by_creation_time"

MessageStatus = Literal["complete", "streaming", "stopped", "error"]
LOCAL_ISSUER = "advisor-chat"  # `iss` of our own tokens; `users.tokenIssuer` of local accounts


@dataclass(frozen=True)
class Index:
    """An index over `fields`, in order. Reads walk it by (fields..., _creationTime, _id)."""

    name: str
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class SearchIndex:
    """A full-text index over one string field (Convex's `searchIndex`), narrowed by
    equality on `filter_fields`, each of which must lead some ordinary index."""

    name: str
    search_field: str
    filter_fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class OnDelete:
    """When a `parent` document is deleted, rows of this table pointing at it via `field`
    are deleted (`cascade`), lose the field (`unset`), or lose it from the array `field`
    (`pull`), in the same transaction."""

    field: str
    parent: str
    action: Literal["cascade", "unset", "pull"]


@dataclass(frozen=True)
class Table:
    name: str
    document: Object
    indexes: tuple[Index, ...]
    on_delete: tuple[OnDelete, ...] = ()
    search_indexes: tuple[SearchIndex, ...] = ()
    by_name: Mapping[str, Index] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [i.name for i in self.indexes] + [s.name for s in self.search_indexes]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: duplicate index name")
        for search in self.search_indexes:
            for name in search.filter_fields:
                if not any(i.fields[:1] == (name,) for i in self.indexes):
                    raise ValueError(f"{self.name}.{search.name}: no index leads with {name}")
        object.__setattr__(self, "by_name", {i.name: i for i in self.indexes})

    @property
    def number(self) -> int:
        return TABLE_NUMBERS[self.name]


def _table(
    name: str,
    fields: Mapping[str, Validator],
    indexes: list[tuple[str, list[str]] | tuple[str, list[str], Literal["unique"]]],
    on_delete: tuple[OnDelete, ...] = (),
    search: tuple[SearchIndex, ...] = (),
) -> Table:
    declared = [Index(CREATION_INDEX, ())]
    for entry in indexes:
        declared.append(Index(entry[0], tuple(entry[1]), unique=len(entry) == 3))
    return Table(name, Object(fields=dict(fields)), tuple(declared), on_delete, search)


opt = v.optional
s = v.string
n = v.number
b = v.boolean

# What a user writes into an advisor, bounded (schema/limits.py); a file's keys beyond
# these are kept, bounded alike.
_name = s(max_length=limits.NAME)
_label = s(max_length=limits.LABEL)
_line = s(max_length=limits.LINE)
_text = s(max_length=limits.TEXT)
_lines = v.array(_line, max_items=limits.ITEMS)
_labels = v.array(_label, max_items=limits.ITEMS)
EXTRA = v.any(max_length=limits.TEXT, max_items=limits.ITEMS)

_education = v.object(
    {
        "degreeLevel": opt(_label),
        "degreeName": opt(_line),
        "major": opt(_line),
        "institution": opt(_line),
        "graduationYear": opt(n()),
    }
)

PERSONA = v.object(
    {
        "name": _name,
        "title": _name,
        "image": opt(s(max_length=limits.URL)),
        "description": opt(_text),
        "oneLiner": opt(_line),
        "archetype": opt(_line),
        "temperament": opt(_line),
        "bio": opt(_text),
        "detailedBackground": opt(_text),
        "experience": opt(_line),
        "specialties": opt(_lines),
        "personalInterests": opt(_lines),
        "communicationStyle": opt(_line),
        "personality": opt(_lines),
        "expertise": opt(_lines),
        "coreBeliefsOrPrinciples": opt(_lines),
        "education": opt(_education),
        "additionalEducation": opt(v.array(_education, max_items=limits.ITEMS)),
        "location": opt(
            v.object(
                {
                    "city": opt(_line),
                    "region": opt(_line),
                    "country": opt(_line),
                    "countryCode": opt(_label),
                    "timezone": opt(_label),
                }
            )
        ),
        "adviceDelivery": opt(
            v.object(
                {
                    "mode": opt(_line),
                    "formality": opt(_label),
                    "useEmojis": opt(b()),
                    "voiceGuidelines": opt(_lines),
                    "signOff": opt(_line),
                }
            )
        ),
        "maritalStatus": opt(_label),
    }
)

ROLE_DEFINITION = v.object(
    {
        "mission": opt(_text),
        "scope": opt(v.object({"inScope": opt(_lines), "outOfScope": opt(_lines)}, extras=EXTRA)),
        "keyPerformanceIndicators": opt(
            v.array(
                v.object(
                    {"metric": opt(_line), "description": opt(_line), "unit": opt(_label)},
                    extras=EXTRA,
                ),
                max_items=limits.ITEMS,
            )
        ),
    },
    extras=EXTRA,
)

ADVISOR_METADATA = v.object(
    {
        "version": opt(_label),
        "createdAt": opt(_label),
        "updatedAt": opt(_label),
        "owner": opt(
            v.object(
                {"org": opt(_name), "contactEmail": opt(s(max_length=limits.EMAIL))},
                extras=EXTRA,
            )
        ),
        "tags": opt(_labels),
        "teamAffiliations": opt(
            v.array(
                v.object(
                    {
                        "teamId": opt(s(max_length=limits.TEAM_ID)),
                        "teamName": opt(_name),
                        "roleName": opt(_name),
                        "isPrimary": opt(b()),
                    },
                    extras=EXTRA,
                ),
                max_items=limits.ITEMS,
            )
        ),
    },
    extras=EXTRA,
)

LOCALIZATION = v.object(
    {"defaultLanguage": opt(_label), "supportedLanguages": opt(_labels)}, extras=EXTRA
)

USERS = _table(
    "users",
    {
        "clerkId": s(),  # the subject of the user's tokens, unique across issuers (seed 002)
        "tokenIssuer": opt(s()),  # whose tokens: `iss`; absent: the configured OIDC issuer
        "email": opt(s()),
        "name": opt(s()),
        "image": opt(s()),
        "plan": s(),
        "role": opt(v.literals("admin")),  # granted by `advisor-chat users`, never by a function
        "createdAt": n(),
        "updatedAt": n(),
        "legacyId": opt(s()),
    },
    [
        ("by_clerk_id", ["clerkId"], "unique"),
        ("by_email", ["email"]),
        ("by_plan", ["plan"]),
        ("by_legacy_id", ["legacyId"], "unique"),
    ],
)

ADVISORS = _table(
    "advisors",
    {
        "firstName": opt(s()),
        "lastName": opt(s()),
        "imageUrl": opt(s()),
        "schemaVersion": s(),
        "status": v.literals("active", "inactive", "archived"),
        "ownerId": opt(v.id("users")),
        "isPublic": opt(b()),
        "featured": opt(b()),
        "category": opt(s()),
        "persona": PERSONA,
        "roleDefinition": opt(ROLE_DEFINITION),
        "components": opt(v.array(v.any())),
        "metadata": opt(ADVISOR_METADATA),
        "localization": opt(LOCALIZATION),
        "modelHint": opt(s()),
        "modelConfiguration": opt(v.object({}, open=True)),
        "tags": v.array(s()),
        "createdAt": n(),
        "updatedAt": n(),
        "legacyId": opt(s()),
        "extensions": opt(v.object({}, open=True)),
    },
    [
        ("by_status", ["status"]),
        ("by_tags", ["tags"]),
        ("by_created_at", ["createdAt"]),
        ("by_schema_version", ["schemaVersion"]),
        ("by_persona_name", ["persona.name"]),
        ("by_owner", ["ownerId"]),
        ("by_public", ["isPublic"]),
        ("by_featured", ["featured"]),
        ("by_category", ["category"]),
        ("by_public_featured", ["isPublic", "featured"]),
        ("by_public_category", ["isPublic", "category"]),
        ("by_legacy_id", ["legacyId"], "unique"),
    ],
    # A user's advisors go with them (auth/identities.py first leaves the public ones
    # ownerless, so only the private ones are left to follow).
    on_delete=(OnDelete("ownerId", "users", "cascade"),),
)

USER_ADVISORS = _table(
    "userAdvisors",
    {
        "userId": v.id("users"),
        "advisorId": v.id("advisors"),
        "selectedAt": n(),
        "source": v.literals("marketplace", "team", "migration", "custom"),
        "teamId": opt(s()),
    },
    [
        ("by_user", ["userId"]),
        ("by_advisor", ["advisorId"]),
        ("by_user_advisor", ["userId", "advisorId"], "unique"),
        ("by_team", ["teamId"]),
        ("by_source", ["source"]),
        ("by_selected_at", ["selectedAt"]),
    ],
    on_delete=(
        OnDelete("userId", "users", "cascade"),
        OnDelete("advisorId", "advisors", "cascade"),
    ),
)

TEAM_TEMPLATES = _table(
    "teamTemplates",
    {
        "id": s(),
        "name": s(),
        "description": s(),
        "category": s(),
        "advisorIds": v.array(v.id("advisors")),
        "icon": opt(s()),
        "featured": opt(b()),
        "sortOrder": opt(n()),
        "createdAt": n(),
        "updatedAt": n(),
        "tagline": opt(s()),
        "advisorRoles": opt(
            v.array(
                v.object(
                    {
                        "advisorId": v.id("advisors"),
                        "roleId": opt(s()),
                        "roleName": opt(s()),
                        "roleDescription": opt(s()),
                        "primaryFocus": opt(v.array(s())),
                        "interactionStyle": opt(s()),
                        "sessionPriority": opt(n()),
                    },
                    open=True,
                )
            )
        ),
        "details": opt(v.object({}, open=True)),
    },
    [
        ("by_category", ["category"]),
        ("by_featured", ["featured"]),
        ("by_sort_order", ["sortOrder"]),
        ("by_featured_sort", ["featured", "sortOrder"]),
        ("by_category_sort", ["category", "sortOrder"]),
        ("by_template_id", ["id"], "unique"),
    ],
)

CONVERSATIONS = _table(
    "conversations",
    {
        "userId": v.id("users"),
        "title": opt(s()),
        "activeAdvisorId": opt(v.id("advisors")),
        "advisorIds": opt(v.array(v.id("advisors"))),
        "createdAt": n(),
        "updatedAt": n(),
        "legacyId": opt(s()),
    },
    [
        ("by_user", ["userId"]),
        ("by_advisor", ["activeAdvisorId"]),
        ("by_updated_at", ["updatedAt"]),
        ("by_user_updated", ["userId", "updatedAt"]),
        ("by_legacy_id", ["legacyId"], "unique"),
        ("by_advisor_ids", ["advisorIds"]),
    ],
    on_delete=(
        OnDelete("userId", "users", "cascade"),
        # A deleted advisor leaves every board it sat on; answers it gave keep its id.
        OnDelete("activeAdvisorId", "advisors", "unset"),
        OnDelete("advisorIds", "advisors", "pull"),
    ),
)

MESSAGES = _table(
    "messages",
    {
        "conversationId": v.id("conversations"),
        "sender": v.literals("user", "advisor", "system"),
        "advisorId": opt(v.id("advisors")),
        "content": s(),
        "contentJson": opt(v.any()),
        "mentions": v.array(s()),
        "tokensUsed": opt(n()),
        "createdAt": n(),
        "status": opt(v.literals("complete", "streaming", "stopped", "error")),
        "error": opt(s()),
        "legacyId": opt(s()),
        # An answer's generation: the model that wrote it, a notice to show with it (the
        # embedded model says it is small and offline), the stable code of an `error` or
        # RATE_LIMITED outcome, and the scheduled round that writes it (the stop button
        # cancels that round; on the user's message too, so a round is stoppable before
        # its first answer exists).
        "model": opt(s()),
        "notice": opt(s()),
        "errorCode": opt(s()),
        "roundId": opt(s()),
        # Earlier versions of a regenerated answer, oldest first (at most MAX_VERSIONS).
        "versions": opt(
            v.array(
                v.object(
                    {
                        "content": s(),
                        "createdAt": n(),
                        "status": opt(v.literals("complete", "stopped", "error")),
                        "model": opt(s()),
                        "tokensUsed": opt(n()),
                        "error": opt(s()),
                        "errorCode": opt(s()),
                        "notice": opt(s()),
                    }
                ),
                max_items=10,
            )
        ),
    },
    [
        ("by_conversation", ["conversationId"]),
        ("by_conversation_created", ["conversationId", "createdAt"]),
        ("by_advisor", ["advisorId"]),
        ("by_sender", ["sender"]),
        ("by_created_at", ["createdAt"]),
        ("by_legacy_id", ["legacyId"], "unique"),
        ("by_round", ["roundId"]),
    ],
    on_delete=(OnDelete("conversationId", "conversations", "cascade"),),
    search=(SearchIndex("search_content", "content", ("conversationId",)),),
)

ADVISOR_MEMORIES = _table(
    "advisorMemories",
    {
        "conversationId": v.id("conversations"),
        "advisorId": v.id("advisors"),
        "key": s(),
        "value": v.any(),
        "createdAt": n(),
        "updatedAt": n(),
        # Who set the value last: the user's own edits are never overwritten by what an
        # advisor later infers. Absent: the advisor.
        "setBy": opt(v.literals("user", "advisor")),
    },
    [
        ("by_conversation", ["conversationId"]),
        ("by_advisor", ["advisorId"]),
        ("by_conversation_advisor", ["conversationId", "advisorId"]),
        ("by_conversation_advisor_key", ["conversationId", "advisorId", "key"], "unique"),
    ],
    on_delete=(OnDelete("conversationId", "conversations", "cascade"),),
)

THREAD_SUMMARIES = _table(
    "threadSummaries",
    {
        "conversationId": v.id("conversations"),
        "content": s(),
        "startMessageId": opt(s()),
        "endMessageId": opt(s()),
        "createdAt": n(),
        "legacyId": opt(s()),
    },
    [
        ("by_conversation", ["conversationId"]),
        ("by_created_at", ["createdAt"]),
        ("by_legacy_id", ["legacyId"], "unique"),
    ],
    on_delete=(OnDelete("conversationId", "conversations", "cascade"),),
)

TYPING_INDICATORS = _table(
    "typingIndicators",
    {
        "conversationId": v.id("conversations"),
        "userId": v.id("users"),
        "isTyping": b(),
        "lastTypingAt": n(),
    },
    [
        ("by_conversation", ["conversationId"]),
        ("by_user", ["userId"]),
        ("by_conversation_typing", ["conversationId", "isTyping"]),
        ("by_conversation_user", ["conversationId", "userId"], "unique"),
    ],
    on_delete=(
        OnDelete("conversationId", "conversations", "cascade"),
        OnDelete("userId", "users", "cascade"),
    ),
)

USER_PRESENCE = _table(
    "userPresence",
    {
        "userId": v.id("users"),
        "isOnline": b(),
        "lastSeenAt": n(),
        "currentConversationId": opt(v.id("conversations")),
        # Decided by the server (live/presence.py): each server process holding a session
        # of the user, with when its hold lapses unless renewed (ms); and the earliest of
        # those, when the sweep must look at the row again.
        "nodes": opt(v.object({}, extras=n())),
        "leaseUntil": opt(n()),
    },
    [
        ("by_user", ["userId"], "unique"),
        ("by_online", ["isOnline"]),
        ("by_conversation", ["currentConversationId"]),
        ("by_online_lease", ["isOnline", "leaseUntil"]),
    ],
    on_delete=(
        OnDelete("userId", "users", "cascade"),
        OnDelete("currentConversationId", "conversations", "unset"),
    ),
)

STREAM_DELTAS = _table(
    "streamDeltas",
    {
        "messageId": v.id("messages"),
        "start": n(),  # character offset of `text` in the answer
        "end": n(),
        "text": s(),
        "createdAt": n(),
    },
    [("by_message_start", ["messageId", "start"], "unique")],
    on_delete=(OnDelete("messageId", "messages", "cascade"),),
)

ACCOUNTS = _table(
    "accounts",
    {
        "email": s(),  # lower-cased; the sign-in name of a local account
        "passwordHash": s(),  # scrypt, see auth/passwords.py; never leaves the server
        "userId": v.id("users"),
        # Raised by a password change: sessions of a lower epoch are signed out, so the
        # change writes one row however many sessions there are. Absent: 0.
        "sessionEpoch": opt(n()),
        "createdAt": n(),
        "updatedAt": n(),
    },
    [("by_email", ["email"], "unique"), ("by_user", ["userId"], "unique")],
    on_delete=(OnDelete("userId", "users", "cascade"),),
)

SESSIONS = _table(
    "sessions",
    {
        "userId": v.id("users"),
        "refreshHash": s(),  # SHA-256 of the refresh token: a database leak grants nothing
        "expiresAt": n(),
        "createdAt": n(),
        "revokedAt": opt(n()),
        "epoch": opt(n()),  # the account's sessionEpoch when issued; absent: 0
        # A refresh spends a session and adds the next one: each row after a sign-in's
        # first names that first row, so any token of the sign-in finds its one unspent
        # session (by_sign_in, revokedAt absent) to sign it out.
        "signInId": opt(v.id("sessions")),
        # The session a refresh replaced this one with, set as it spends it (with
        # revokedAt): spent by a refresh, not signed out or ended. Within REUSE_GRACE_S of
        # revokedAt its token rotates again (auth/accounts.py). Absent: not spent by one.
        "replacedBy": opt(v.id("sessions")),
    },
    [
        ("by_user", ["userId"]),
        ("by_refresh_hash", ["refreshHash"], "unique"),
        ("by_sign_in", ["signInId", "revokedAt"]),
    ],
    on_delete=(OnDelete("userId", "users", "cascade"),),
)

WEBHOOK_EVENTS = _table(
    "webhookEvents",
    {
        "eventId": s(),  # the sender's message id (Svix `svix-id`): each is applied once
        "source": s(),
        "receivedAt": n(),
    },
    [("by_event", ["source", "eventId"], "unique"), ("by_received_at", ["receivedAt"])],
)

DELETED_USERS = _table(
    "deletedUsers",
    {
        "clerkId": s(),  # the deleted user's subject
        "tokenIssuer": opt(s()),  # as their users row had it
        "deletedAt": n(),  # ms; tokens issued before it cannot recreate the user
    },
    [("by_clerk_id", ["clerkId"], "unique")],
)

RATE_LIMITS = _table(
    "rateLimits",
    {
        "userId": v.id("users"),
        "bucket": v.literals("messages", "generations"),
        "windowStart": n(),  # ms; the window's length is the bucket's (minute, day)
        "count": n(),
    },
    [("by_user_bucket", ["userId", "bucket"], "unique")],
    on_delete=(OnDelete("userId", "users", "cascade"),),
)

SCHEDULED_FUNCTIONS = _table(
    "scheduledFunctions",
    {
        "name": s(),  # the function's path, module:function
        "args": v.any(),
        # The verified caller who scheduled it: the call runs as them, under the same rules.
        "identity": opt(
            v.object(
                {
                    "subject": s(),
                    "issuer": s(),
                    "email": opt(s()),
                    "name": opt(s()),
                    "pictureUrl": opt(s()),
                }
            )
        ),
        "scheduledTime": n(),  # ms; due from then on
        # pending → inProgress → success | failed | canceled; pending → canceled
        "state": v.literals("pending", "inProgress", "success", "failed", "canceled"),
        "lane": v.literals("short", "long"),  # long: work that runs for minutes (turns)
        "startedTime": opt(n()),
        "completedTime": opt(n()),
        "error": opt(s()),  # why it failed: a stable code and its message
        # While in progress: the worker running it and until when its lease holds. The
        # worker's heartbeat renews the lease; once it lapses, any worker ends the call.
        "worker": opt(s()),
        "leaseUntil": opt(n()),
        "cancelRequested": opt(b()),  # asked to stop while running (the stop button)
    },
    [
        ("by_state_time", ["state", "scheduledTime"]),
        ("by_lane_state_time", ["lane", "state", "scheduledTime"]),
        ("by_state_lease", ["state", "leaseUntil"]),
    ],
)

THROTTLES = _table(
    "throttles",
    {
        "key": s(),  # HMAC of the limit's name and the address, account or device it counts
        # ms: the "theoretical arrival time" of the generic cell rate algorithm; the key is
        # back to a full allowance once it is past, and the row may then be pruned
        "tat": n(),
    },
    [("by_key", ["key"], "unique"), ("by_tat", ["tat"])],
)

MUTATION_RECEIPTS = _table(
    "mutationReceipts",
    {
        "key": s(),  # keyed hash of the caller, the client's session id and its request id
        "value": v.any(),  # what the mutation answered
        "at": n(),  # ms: when it committed; kept RETAIN_MS (functions/receipts.py)
    },
    [("by_key", ["key"], "unique"), ("by_at", ["at"])],
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        USERS,
        ADVISORS,
        USER_ADVISORS,
        TEAM_TEMPLATES,
        CONVERSATIONS,
        MESSAGES,
        ADVISOR_MEMORIES,
        THREAD_SUMMARIES,
        TYPING_INDICATORS,
        USER_PRESENCE,
        STREAM_DELTAS,
        ACCOUNTS,
        SESSIONS,
        WEBHOOK_EVENTS,
        RATE_LIMITS,
        SCHEDULED_FUNCTIONS,
        DELETED_USERS,
        THROTTLES,
        MUTATION_RECEIPTS,
    )
}

OUR_TABLES = (
    "streamDeltas",
    "accounts",
    "sessions",
    "webhookEvents",
    "rateLimits",
    "scheduledFunctions",
    "deletedUsers",
    "throttles",
    "mutationReceipts",
)  # beyond the seed's ten
SEED_TABLES = tuple(name for name in TABLES if name not in OUR_TABLES)

__all__ = [
    "SEED_TABLES",
    "SYSTEM_FIELDS",
    "TABLES",
    "Index",
    "OnDelete",
    "Optional",
    "SearchIndex",
    "Table",
]
