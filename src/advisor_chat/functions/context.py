"""What a function's handler is given: the verified identity, the store transaction, and
the scheduler. The identity comes from the transport's verified token, never from
arguments; a query's transaction is read-only; a mutation's is one serializable
transaction; an action has no transaction and reaches the store only through functions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.plans import PlanLimits
from advisor_chat.store import Transaction


@dataclass(frozen=True)
class Identity:
    """A verified caller, shaped like Convex's `UserIdentity`."""

    subject: str  # the issuer's user id (Clerk's user id; ours for local accounts)
    issuer: str
    email: str | None = None
    name: str | None = None
    picture_url: str | None = None

    @property
    def token_identifier(self) -> str:
        return f"{self.issuer}|{self.subject}"


@dataclass(frozen=True)
class Scheduled:
    path: str
    args: dict[str, Any]
    delay_ms: float


@dataclass
class Scheduler:
    """Calls a mutation asks for; they run only if, and after, it commits. A mutation
    re-run after a conflict starts with an empty scheduler, so nothing is scheduled twice."""

    requested: list[Scheduled] = field(default_factory=list)

    def run_after(self, delay_ms: float, path: str, args: dict[str, Any]) -> None:
        if delay_ms < 0:
            raise FunctionError(Code.INVALID_ARGUMENT, "delay must not be negative")
        self.requested.append(Scheduled(path, dict(args), delay_ms))


@dataclass
class QueryCtx:
    db: Transaction
    identity: Identity | None

    def require_identity(self) -> Identity:
        if self.identity is None:
            raise FunctionError(Code.UNAUTHENTICATED, "sign in to do this")
        return self.identity


@dataclass
class MutationCtx(QueryCtx):
    scheduler: Scheduler = field(default_factory=Scheduler)
    limits: Mapping[str, PlanLimits] = field(default_factory=dict)  # quotas per plan


Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


@dataclass
class ActionCtx:
    identity: Identity | None
    run_query: Call
    run_mutation: Call
    run_action: Call

    def require_identity(self) -> Identity:
        if self.identity is None:
            raise FunctionError(Code.UNAUTHENTICATED, "sign in to do this")
        return self.identity
