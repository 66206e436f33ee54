"""What a function's handler is given: the verified identity, the store transaction, and
the scheduler. The identity comes from the transport's verified token, never from
arguments; a query's transaction is read-only; a mutation's is one serializable
transaction; an action has no transaction and reaches the store only through functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.pagination import PageJournal
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.functions.timings import Timings
from advisor_chat.store import UNSET, Transaction

if TYPE_CHECKING:
    from advisor_chat.ai.models import Models
    from advisor_chat.functions.registry import Registry

SCHEDULED = "scheduledFunctions"


@dataclass(frozen=True)
class Identity:
    """A verified caller, shaped like Convex's `UserIdentity`."""

    subject: str  # the issuer's user id (Clerk's user id; ours for local accounts)
    issuer: str
    email: str | None = None
    name: str | None = None
    picture_url: str | None = None
    # From the token, not kept with a scheduled call: when it was issued (`iat`, seconds),
    # and for our own tokens the sign-in they belong to (`sid`, see auth/signins.py).
    issued_at: int | None = None
    sign_in: str | None = None
    expires_at: int | None = None  # the token's `exp`, seconds: a live session ends then

    @property
    def token_identifier(self) -> str:
        return f"{self.issuer}|{self.subject}"

    def as_document(self) -> dict[str, str]:
        """As stored with a scheduled call (`scheduledFunctions.identity`)."""
        doc = {"subject": self.subject, "issuer": self.issuer}
        optional = {"email": self.email, "name": self.name, "pictureUrl": self.picture_url}
        return doc | {k: value for k, value in optional.items() if value is not None}

    @classmethod
    def from_document(cls, doc: Mapping[str, str]) -> Identity:
        return cls(
            subject=doc["subject"],
            issuer=doc["issuer"],
            email=doc.get("email"),
            name=doc.get("name"),
            picture_url=doc.get("pictureUrl"),
        )


@dataclass(frozen=True)
class Scheduler:
    """`ctx.scheduler` of a mutation: a scheduled call is a `scheduledFunctions` row written
    in the mutation's own transaction, so it exists exactly when the mutation committed (a
    failed or retried attempt schedules nothing) and survives a restart. It runs as the
    caller who scheduled it, when due, in the lane its declaration names (see
    `functions/scheduled.py`)."""

    db: Transaction
    identity: Identity | None
    registry: Registry | None = None

    async def run_after(self, delay_ms: float, path: str, args: dict[str, Any]) -> str:
        """Schedule `path(args)` to run `delay_ms` after this mutation commits; returns
        the scheduled call's id."""
        if not delay_ms >= 0:
            raise FunctionError(Code.INVALID_ARGUMENT, "delay must not be negative")
        return await self.run_at(now_ms() + delay_ms, path, args)

    async def run_at(self, timestamp_ms: float, path: str, args: dict[str, Any]) -> str:
        declared = self.registry.find(path) if self.registry is not None else None
        row: dict[str, Any] = {
            "name": path,
            "args": dict(args),
            "scheduledTime": float(timestamp_ms),
            "state": "pending",
            "lane": declared.lane if declared is not None else "short",
        }
        if self.identity is not None:
            row["identity"] = self.identity.as_document()
        return await self.db.insert(SCHEDULED, row)

    async def cancel(self, call_id: str) -> None:
        """Cancel a scheduled call: one not yet started never starts; a running one is
        stopped promptly by its worker (it sees the request through its heartbeat, at
        once in the same process) and ends `canceled`. An ended call is left as it is."""
        call = await self.db.get(SCHEDULED, call_id)
        if call is None:
            return
        if call["state"] == "pending":
            fields = {"state": "canceled", "completedTime": now_ms(), "leaseUntil": UNSET}
            await self.db.patch(SCHEDULED, call_id, fields)
        elif call["state"] == "inProgress" and not call.get("cancelRequested"):
            await self.db.patch(SCHEDULED, call_id, {"cancelRequested": True})


@dataclass
class QueryCtx:
    db: Transaction
    identity: Identity | None
    journal: PageJournal = field(default_factory=PageJournal)  # where its page ends
    timings: Timings = field(default_factory=Timings)  # typing expiry, from the settings

    def require_identity(self) -> Identity:
        if self.identity is None:
            raise FunctionError(Code.UNAUTHENTICATED, "sign in to do this")
        return self.identity


@dataclass
class MutationCtx(QueryCtx):
    limits: Mapping[str, PlanLimits] = field(default_factory=dict)  # quotas per plan
    registry: Registry | None = None  # to schedule a function in its declared lane
    call_id: str | None = None  # the scheduled call this runs for (its `on_unfinished`)

    @property
    def scheduler(self) -> Scheduler:
        return Scheduler(self.db, self.identity, self.registry)


Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass
class ActionCtx:
    identity: Identity | None
    run_query: Call
    run_mutation: Call
    run_action: Call
    models: Models | None = None  # the chat engine's providers (chat:round and its chores)
    call_id: str | None = None  # the scheduled call this action runs as, if any

    def require_identity(self) -> Identity:
        if self.identity is None:
            raise FunctionError(Code.UNAUTHENTICATED, "sign in to do this")
        return self.identity
