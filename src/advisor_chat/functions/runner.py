"""Calling a function by path: arguments checked before the handler runs, the handler run
in the right kind of transaction, and every failure turned into one `FunctionError` with
a stable code. This is the one place store errors become codes.

A caller signed in with one of our tokens is checked to be still signed in first, in the
same transaction (auth/signins.py): an action, which has none, in a read of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from advisor_chat.ai.models import Models
from advisor_chat.auth.signins import require_live
from advisor_chat.errors import (
    Code,
    DocumentInvalid,
    FunctionError,
    StoreError,
)
from advisor_chat.functions import receipts
from advisor_chat.functions.context import ActionCtx, Identity, MutationCtx, QueryCtx
from advisor_chat.functions.pagination import PageJournal
from advisor_chat.functions.plans import DEFAULT_LIMITS, PlanLimits
from advisor_chat.functions.registry import Function, Kind, Registry
from advisor_chat.functions.timings import Timings
from advisor_chat.log import get_logger
from advisor_chat.store import ReadSet, Store, Transaction
from advisor_chat.store.backend import TransactionConflict

log = get_logger(__name__)
MAX_ARGS_BYTES = 1 << 20  # as Convex: arguments over 1 MiB are refused before any work


@dataclass(frozen=True)
class Result:
    value: Any
    ts: int  # the commit (mutation) or snapshot (query) timestamp
    reads: ReadSet | None  # what a query read, for live re-runs


@dataclass(frozen=True)
class QueryRun:
    """One query of a snapshot: its value or its error, and what it read either way (a
    query that failed is re-run when what it read changes, as Convex does)."""

    value: Any
    error: FunctionError | None
    reads: ReadSet
    journal: str | None = None  # where its page ends (see functions/pagination.py)


@dataclass(frozen=True)
class Snapshot:
    ts: int  # the snapshot's timestamp: it reflects every commit up to here
    runs: tuple[QueryRun, ...]


def check_args(function: Function, args: Any) -> dict[str, Any]:
    if type(args) is not dict:
        raise FunctionError(Code.INVALID_ARGUMENT, "arguments must be an object")
    try:
        encoded = orjson.dumps(args)
    except (TypeError, orjson.JSONEncodeError) as exc:
        _validate(function, args)  # names the field holding a lone surrogate, if that is it
        raise FunctionError(Code.INVALID_ARGUMENT, f"arguments are not JSON: {exc}") from exc
    if len(encoded) > MAX_ARGS_BYTES:
        raise FunctionError(Code.INVALID_ARGUMENT, f"arguments larger than {MAX_ARGS_BYTES} bytes")
    # JSON spells a NUL `\\u0000`: only then is the walk for it worth its cost.
    if b"\\u0000" in encoded and (field := _nul_field(args, "")):
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"invalid argument {field}: contains NUL",
            field=field,
            rule="contains NUL",
        )
    _validate(function, args)
    return args


def _validate(function: Function, args: dict[str, Any]) -> None:
    try:
        function.args.check(args, function.path, "")
    except DocumentInvalid as exc:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"invalid argument {exc.field}: {exc.rule}",
            field=exc.field,
            rule=exc.rule,
        ) from exc


def _nul_field(value: Any, path: str) -> str:
    """Where in the arguments a NUL is: PostgreSQL text cannot hold one, so it is refused
    in every argument, on every backend, before any lookup could fail on it."""
    if isinstance(value, str):
        return path if "\x00" in value else ""
    if not isinstance(value, dict | list):
        return ""
    if isinstance(value, list):  # named as the validators name it: `tags[2]`
        for i, item in enumerate(value):
            if found := _nul_field(item, f"{path}[{i}]"):
                return found
        return ""
    for key, item in value.items():
        inner = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and "\x00" in key:
            return inner
        if found := _nul_field(item, inner):
            return found
    return ""


def as_function_error(exc: Exception, path: str) -> FunctionError:
    """The single mapping from anything a call raised to what the caller is told."""
    if isinstance(exc, FunctionError):
        return exc
    if isinstance(exc, DocumentInvalid):
        return FunctionError(exc.code, str(exc), table=exc.table, field=exc.field, rule=exc.rule)
    if isinstance(exc, TransactionConflict):  # rolled back: nothing was written
        log.warning("function_conflicted", function=path)
        return FunctionError(
            Code.CONFLICT, "too many changes to the same data at once; try again", retryable=True
        )
    if isinstance(exc, StoreError) and exc.code is not Code.INTERNAL:
        return FunctionError(exc.code, str(exc))
    log.error("function_failed", function=path, exc_info=exc)
    return FunctionError(Code.INTERNAL, "internal error")


class Runner:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        limits: Mapping[str, PlanLimits] | None = None,
        models: Models | None = None,
        timings: Timings | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.models = models
        self.timings = timings or Timings()

    async def call(
        self,
        path: str,
        args: Any,
        identity: Identity | None,
        kind: Kind | None = None,
        *,
        internal: bool = False,
        call_id: str | None = None,
        receipt: str | None = None,
    ) -> Result:
        """Run `path` as `identity`. A client's call (`internal=False`, every transport)
        cannot reach internal functions; functions and the scheduler can (naming the
        scheduled call an action runs for: `ActionCtx.call_id`). A mutation given a
        `receipt` key runs once under it: called again, it answers what it answered
        (functions/receipts.py)."""
        function = self.registry.get(path, kind, internal=internal)
        checked = check_args(function, args)
        try:
            return await self._run(function, checked, identity, call_id, receipt)
        except Exception as exc:  # every failure leaves here as a FunctionError, once
            raise as_function_error(exc, function.path) from exc

    async def run_queries(
        self,
        calls: Sequence[tuple[str, Any]],
        identity: Identity | None,
        journals: Sequence[str | None] | None = None,
    ) -> Snapshot:
        """Run several queries (path, args) in one read transaction, so their results come
        from one snapshot, each with its own read set, and each given the journal of its
        previous run (a subscription's). A failure is that query's result.

        Only a failure raised outside the handler's own logic (a store or driver error) may
        have spoiled the transaction (PostgreSQL refuses every statement after one); the
        queries after it then run in a fresh one, and the snapshot's `ts` is the first
        transaction's, a lower bound for all of them."""
        runs: list[QueryRun] = []
        first_ts: int | None = None

        async def read(tx: Transaction) -> None:
            while len(runs) < len(calls):
                path, args = calls[len(runs)]
                tx.reads = ReadSet()
                journal = PageJournal(journals[len(runs)] if journals else None)
                try:
                    function = self.registry.get(path, "query")
                    checked = check_args(function, args)
                    await require_live(tx, identity)
                    ctx = QueryCtx(tx, identity, journal=journal, timings=self.timings)
                    value = await function.handler(ctx, checked)
                except Exception as exc:  # the query's own result, as over HTTP
                    runs.append(QueryRun(None, as_function_error(exc, path), tx.reads))
                    if not isinstance(exc, FunctionError):
                        return
                    continue
                runs.append(QueryRun(value, None, tx.reads, journal.encode()))

        while first_ts is None or len(runs) < len(calls):
            if not calls:
                return Snapshot(self.store.commits.latest_ts, ())
            outcome = await self.store.query(read)
            first_ts = outcome.ts if first_ts is None else first_ts
        return Snapshot(first_ts, tuple(runs))

    async def require_signed_in(self, identity: Identity | None) -> None:
        """Refuse (UNAUTHENTICATED) an identity whose sign-in has ended, in a read of its
        own: for a caller that names an identity before any call (sync's Authenticate)."""
        if identity is not None and identity.sign_in is not None:
            await self.store.query(lambda tx: require_live(tx, identity))

    def mutation_ctx(
        self, tx: Transaction, identity: Identity | None, call_id: str | None = None
    ) -> MutationCtx:
        """The context a mutation's handler gets (also for the scheduler's own runs, which
        name the scheduled call they run for)."""
        return MutationCtx(
            tx,
            identity,
            timings=self.timings,
            limits=self.limits,
            registry=self.registry,
            call_id=call_id,
        )

    async def _run(
        self,
        function: Function,
        args: dict[str, Any],
        identity: Identity | None,
        call_id: str | None = None,
        receipt: str | None = None,
    ) -> Result:
        if function.kind == "query":

            async def read(tx: Transaction) -> Any:
                await require_live(tx, identity)
                return await function.handler(QueryCtx(tx, identity, timings=self.timings), args)

            outcome = await self.store.query(read)
            return Result(outcome.value, outcome.ts, outcome.reads)
        if function.kind == "mutation":

            async def write(tx: Transaction) -> Any:
                await require_live(tx, identity)
                if receipt is not None and (kept := await receipts.find(tx, receipt)):
                    return receipts.Replayed(kept["value"])
                value = await function.handler(self.mutation_ctx(tx, identity), args)
                if receipt is not None:
                    await receipts.keep(tx, receipt, value)
                return value

            # One caller's mutations queue rather than conflict with each other.
            key = identity.token_identifier if identity is not None else None
            committed = await self.store.mutation(write, key=key)
            if isinstance(committed.value, receipts.Replayed):
                # Committed earlier, perhaps through another process: deliver up to it,
                # so the answer's ts is one a Transition will reach.
                await self.store.catch_up()
                return Result(committed.value.value, self.store.commits.latest_ts, None)
            return Result(committed.value, committed.ts, None)

        await self.require_signed_in(identity)
        ctx = ActionCtx(
            identity,
            run_query=lambda p, a: self._value(p, a, identity, "query"),
            run_mutation=lambda p, a: self._value(p, a, identity, "mutation"),
            run_action=lambda p, a: self._value(p, a, identity, "action"),
            models=self.models,
            call_id=call_id,
        )
        value = await function.handler(ctx, args)
        return Result(value, self.store.commits.latest_ts, None)

    async def _value(self, path: str, args: Any, identity: Identity | None, kind: Kind) -> Any:
        return (await self.call(path, args, identity, kind, internal=True)).value
