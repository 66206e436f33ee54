"""Functions for the scheduled-work tests, shared by the in-process tests and the worker
processes they start (`python -m tests.functions.scheduled_worker`). Each leaves a users
row whose clerkId says what happened (`<subject>:<note>`), so a test reads the outcome
from the database, whichever process ran the call."""

from __future__ import annotations

import asyncio
from typing import Any

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import ActionCtx, Identity, MutationCtx
from advisor_chat.functions.registry import Args, Registry, action, mutation
from advisor_chat.schema.fields import v
from advisor_chat.store import Document, Store, Transaction
from advisor_chat.store.backend import TransactionConflict

ALICE = Identity(subject="user_alice", issuer="https://issuer.test", email="a@example.com")
GATE: dict[str, asyncio.Event] = {}  # in-process tests release jobs:wait through it
CONTENDED: dict[str, int] = {}  # attempts of jobs:contended still to lose, by note


@mutation("jobs:schedule", {"path": v.string(), "delayMs": v.number(), "args": v.any()})
async def schedule(ctx: MutationCtx, args: Args) -> str:
    return await ctx.scheduler.run_after(args["delayMs"], args["path"], args["args"])


@mutation("jobs:cancel", {"id": v.string()})
async def cancel(ctx: MutationCtx, args: Args) -> None:
    await ctx.scheduler.cancel(args["id"])


@mutation("jobs:record", {"note": v.string()})
async def record(ctx: MutationCtx, args: Args) -> str:
    who = ctx.require_identity().subject
    doc = {"clerkId": f"{who}:{args['note']}", "plan": "free", "createdAt": 1, "updatedAt": 1}
    return await ctx.db.insert("users", doc)


@mutation("jobs:recordThenFail", {"note": v.string()})
async def record_then_fail(ctx: MutationCtx, args: Args) -> None:
    await record.handler(ctx, args)
    raise FunctionError(Code.CONFLICT, "changed my mind")


async def _fail_then_record(ctx: MutationCtx, args: Args, failure: Exception) -> str:
    """Raises `failure` while CONTENDED counts attempts left to fail, then records."""
    left = CONTENDED.get(args["note"], 0)
    if left:
        CONTENDED[args["note"]] = left - 1
        raise failure
    result: str = await record.handler(ctx, args)
    return result


@mutation("jobs:contended", {"note": v.string()})
async def contended(ctx: MutationCtx, args: Args) -> str:
    """Loses to contention, as the store reports a serialization failure."""
    return await _fail_then_record(ctx, args, TransactionConflict("could not serialize"))


@mutation("jobs:mustFinish", {"note": v.string()}, retried=True)
async def must_finish(ctx: MutationCtx, args: Args) -> str:
    """Fails as a bug or a database away would."""
    return await _fail_then_record(ctx, args, ZeroDivisionError("not yet"))


@mutation("jobs:internalRecord", {"note": v.string()}, internal=True)
async def internal_record(ctx: MutationCtx, args: Args) -> str:
    result: str = await record.handler(ctx, args)
    return result


@action("jobs:recordLater", {"note": v.string()})
async def record_later(ctx: ActionCtx, args: Args) -> None:
    await ctx.run_mutation("jobs:record", {"note": args["note"]})


@action("jobs:fail", {})
async def fail(ctx: ActionCtx, args: Args) -> None:
    raise FunctionError(Code.PROVIDER_ERROR, "the model is down")


@action("jobs:crash", {})
async def crash(ctx: ActionCtx, args: Args) -> None:
    raise ZeroDivisionError("a bug")


@action("jobs:wait", {})
async def wait(ctx: ActionCtx, args: Args) -> None:
    await GATE.setdefault("wait", asyncio.Event()).wait()


async def _lost(ctx: MutationCtx, args: Args) -> None:
    """What a turn does when its process died: leave its data consistent."""
    await record.handler(ctx, {"note": f"lost:{args['note']}"})


async def _block(ctx: ActionCtx, args: Args) -> None:
    """Runs until stopped; on a cancel it records that it cleaned up, as a turn ends its
    answer `stopped`."""
    await ctx.run_mutation("jobs:record", {"note": f"started:{args['note']}"})
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        cleanup = ctx.run_mutation("jobs:record", {"note": f"stopped:{args['note']}"})
        await asyncio.shield(cleanup)
        raise


async def _stubborn(ctx: ActionCtx, args: Args) -> None:
    """Ignores being cancelled until GATE["stubborn"] is set: a bug the worker must
    survive."""
    gate = GATE.setdefault("stubborn", asyncio.Event())
    while not gate.is_set():
        try:
            await gate.wait()
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()


async def _break(ctx: ActionCtx, args: Args) -> None:
    """Starts writing, then fails on a bug: its data must still be left consistent."""
    await ctx.run_mutation("jobs:record", {"note": f"started:{args['note']}"})
    raise ZeroDivisionError("a bug mid-way")


breaks = action("jobs:breaks", {"note": v.string()}, on_unfinished=_lost)(_break)
block = action("jobs:block", {"note": v.string()}, lane="long", on_unfinished=_lost)(_block)
block_short = action("jobs:blockShort", {"note": v.string()}, on_unfinished=_lost)(_block)
stubborn = action("jobs:stubborn", {"note": v.string()}, time_limit_s=0.2, on_unfinished=_lost)(
    _stubborn
)
slow = action("jobs:slow", {"note": v.string()}, time_limit_s=0.3, on_unfinished=_lost)(_block)

REGISTRY = Registry(
    [
        breaks,
        schedule,
        cancel,
        record,
        record_then_fail,
        contended,
        must_finish,
        internal_record,
        record_later,
        fail,
        crash,
        wait,
        block,
        block_short,
        stubborn,
        slow,
    ]
)


async def jobs(store: Store) -> dict[str, Document]:
    """Every scheduled call, by id."""

    async def read(tx: Transaction) -> list[Document]:
        return await tx.query("scheduledFunctions").collect()

    return {j["_id"]: j for j in (await store.query(read)).value}


async def notes(store: Store) -> list[str]:
    """What the calls recorded, in order."""

    async def read(tx: Transaction) -> list[str]:
        return [u["clerkId"] for u in await tx.query("users").collect()]

    return [n.removeprefix(f"{ALICE.subject}:") for n in (await store.query(read)).value]


def call(path: str, delay_ms: float = 0, **args: Any) -> dict[str, Any]:
    """Arguments of jobs:schedule."""
    return {"path": path, "delayMs": delay_ms, "args": args}
