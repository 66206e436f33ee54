"""Scheduled calls: written with the mutation that asked for them, run when due as the
caller who scheduled them, and always ended success or failed, never left in progress."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import ActionCtx, Identity, MutationCtx
from advisor_chat.functions.registry import Args, Registry, action, mutation
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import LEASE_MS, ScheduledWorker
from advisor_chat.schema.fields import v
from advisor_chat.store import Document, Store

ALICE = Identity(subject="user_alice", issuer="https://issuer.test", email="a@example.com")
GATE: dict[str, asyncio.Event] = {}


@mutation("jobs:schedule", {"path": v.string(), "delayMs": v.number(), "args": v.any()})
async def schedule(ctx: MutationCtx, args: Args) -> str:
    return await ctx.scheduler.run_after(args["delayMs"], args["path"], args["args"])


@mutation("jobs:record", {"note": v.string()})
async def record(ctx: MutationCtx, args: Args) -> str:
    """Leaves a users row whose clerkId says who ran it and with what."""
    who = ctx.require_identity().subject
    doc = {"clerkId": f"{who}:{args['note']}", "plan": "free", "createdAt": 1, "updatedAt": 1}
    return await ctx.db.insert("users", doc)


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


REGISTRY = Registry([schedule, record, record_later, fail, crash, wait])


@pytest.fixture
def runner(store: Store) -> Runner:
    GATE.clear()
    return Runner(store, REGISTRY)


async def _jobs(store: Store) -> dict[str, Document]:
    async def read(tx: Any) -> list[Document]:
        return await tx.query("scheduledFunctions").collect()  # type: ignore[no-any-return]

    return {j["name"]: j for j in (await store.query(read)).value}


async def _clerk_ids(store: Store) -> list[str]:
    async def read(tx: Any) -> list[str]:
        return [u["clerkId"] for u in await tx.query("users").collect()]

    return (await store.query(read)).value


async def _schedule(runner: Runner, path: str, delay_ms: float = 0, **args: Any) -> str:
    call = {"path": path, "delayMs": delay_ms, "args": args}
    result: str = (await runner.call("jobs:schedule", call, ALICE)).value
    return result


async def test_a_due_call_runs_once_as_the_caller_who_scheduled_it(
    store: Store, runner: Runner
) -> None:
    await _schedule(runner, "jobs:recordLater", note="hello")
    worker = ScheduledWorker(store, runner)
    assert await worker.run_due() == 1
    assert await _clerk_ids(store) == ["user_alice:hello"]
    job = (await _jobs(store))["jobs:recordLater"]
    assert job["state"] == "success"
    assert job["identity"] == {
        "subject": "user_alice",
        "issuer": ALICE.issuer,
        "email": "a@example.com",
    }
    assert job["startedTime"] <= job["completedTime"]
    assert await worker.run_due() == 0  # never twice


async def test_a_call_is_not_run_before_it_is_due(store: Store, runner: Runner) -> None:
    await _schedule(runner, "jobs:record", delay_ms=60_000, note="later")
    worker = ScheduledWorker(store, runner)
    assert await worker.run_due() == 0
    assert (await _jobs(store))["jobs:record"]["state"] == "pending"
    assert await worker.run_due(now=now_ms() + 61_000) == 1
    assert await _clerk_ids(store) == ["user_alice:later"]


@pytest.mark.parametrize(
    ("path", "args", "error"),
    [
        ("jobs:fail", {}, "PROVIDER_ERROR: the model is down"),
        ("jobs:crash", {}, "INTERNAL: internal error"),
        ("jobs:nothing", {}, "NOT_FOUND"),
        ("jobs:record", {"note": 5}, "INVALID_ARGUMENT: invalid argument note"),
    ],
)
async def test_a_failing_call_ends_failed_with_its_code(
    store: Store, runner: Runner, path: str, args: dict[str, Any], error: str
) -> None:
    await _schedule(runner, path, **args)
    assert await ScheduledWorker(store, runner).run_due() == 1
    job = (await _jobs(store))[path]
    assert job["state"] == "failed"
    assert job["error"].startswith(error)
    assert await _clerk_ids(store) == []


async def test_a_negative_delay_is_refused_and_nothing_is_scheduled(
    store: Store, runner: Runner
) -> None:
    with pytest.raises(FunctionError) as caught:
        await _schedule(runner, "jobs:record", delay_ms=-1, note="x")
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert await _jobs(store) == {}


async def test_the_worker_wakes_on_the_commit_that_schedules(store: Store, runner: Runner) -> None:
    worker = asyncio.create_task(ScheduledWorker(store, runner, poll_s=30).run_forever())
    try:
        await asyncio.sleep(0.05)  # idle, polling only every 30 s
        await _schedule(runner, "jobs:recordLater", note="now")
        for _ in range(200):
            if await _clerk_ids(store):
                break
            await asyncio.sleep(0.01)
        assert await _clerk_ids(store) == ["user_alice:now"]
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_stopping_the_worker_ends_running_calls_failed(store: Store, runner: Runner) -> None:
    await _schedule(runner, "jobs:wait")
    worker = asyncio.create_task(ScheduledWorker(store, runner).run_forever())
    for _ in range(200):
        if (await _jobs(store))["jobs:wait"]["state"] == "inProgress":
            break
        await asyncio.sleep(0.01)
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    job = (await _jobs(store))["jobs:wait"]
    assert job["state"] == "failed"
    assert "interrupted" in job["error"]


async def test_calls_left_in_progress_by_a_dead_process_are_failed_after_the_lease(
    store: Store, runner: Runner
) -> None:
    await _schedule(runner, "jobs:record", note="x")
    await _schedule(runner, "jobs:recordLater", note="y")
    jobs = await _jobs(store)

    async def claim_as_a_dead_process(tx: Any) -> None:
        for name, started in (("jobs:record", 1.0), ("jobs:recordLater", now_ms())):
            await tx.patch(
                "scheduledFunctions",
                jobs[name]["_id"],
                {"state": "inProgress", "startedTime": started},
            )

    await store.mutation(claim_as_a_dead_process)
    worker = ScheduledWorker(store, runner)
    assert await worker.recover() == 1  # the other is younger than its lease
    after = await _jobs(store)
    assert after["jobs:record"]["state"] == "failed"
    assert after["jobs:recordLater"]["state"] == "inProgress"
    assert await worker.recover(now=now_ms() + LEASE_MS + 1) == 1
    assert all(j["state"] == "failed" for j in (await _jobs(store)).values())
    assert await worker.run_due() == 0


async def test_ended_calls_are_kept_a_week_then_forgotten(store: Store, runner: Runner) -> None:
    await _schedule(runner, "jobs:record", note="old")
    await _schedule(runner, "jobs:fail")
    await _schedule(runner, "jobs:recordLater", delay_ms=10 * 24 * 3600 * 1000, note="future")
    worker = ScheduledWorker(store, runner)
    assert await worker.run_due() == 2
    assert await worker.forget_finished() == 0  # ended just now: kept as history
    eight_days = now_ms() + 8 * 24 * 3600 * 1000
    assert await worker.forget_finished(now=eight_days) == 2
    assert list(await _jobs(store)) == ["jobs:recordLater"]  # pending calls are never forgotten
