"""Scheduled calls: written with the mutation that asked for them, run when due as the
caller who scheduled them, in their lane, once; cancellable, time-limited, and always
ended (success, failed or canceled), never left in progress."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.store import Commit, Store
from advisor_chat.store.store import MAX_ATTEMPTS
from tests.functions.scheduled_jobs import ALICE, CONTENDED, GATE, REGISTRY, call, jobs, notes
from tests.waiting import until


@pytest.fixture
def runner(store: Store) -> Runner:
    GATE.clear()
    CONTENDED.clear()
    return Runner(store, REGISTRY)


async def _schedule(runner: Runner, path: str, delay_ms: float = 0, **args: Any) -> str:
    result: str = (await runner.call("jobs:schedule", call(path, delay_ms, **args), ALICE)).value
    return result


async def _state(store: Store, job_id: str) -> str:
    state: str = (await jobs(store))[job_id]["state"]
    return state


async def _in(store: Store, job_id: str, *states: str) -> bool:
    return await _state(store, job_id) in states


@pytest.fixture
async def running(store: Store, runner: Runner) -> AsyncIterator[ScheduledWorker]:
    """A worker running its loops, stopped after the test."""
    worker = ScheduledWorker(store, runner, lanes={"short": 2, "long": 3})
    task = asyncio.create_task(worker.run_forever())
    yield worker
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_due_call_runs_once_as_the_caller_who_scheduled_it(
    store: Store, runner: Runner
) -> None:
    job_id = await _schedule(runner, "jobs:recordLater", note="hello")
    worker = ScheduledWorker(store, runner)
    assert await worker.run_due() == 1
    assert await notes(store) == ["hello"]
    job = (await jobs(store))[job_id]
    assert job["state"] == "success"
    assert job["lane"] == "short"
    assert job["identity"] == {
        "subject": "user_alice",
        "issuer": ALICE.issuer,
        "email": "a@example.com",
    }
    assert job["startedTime"] <= job["completedTime"]
    assert "leaseUntil" not in job
    assert await worker.run_due() == 0  # never twice


async def test_a_call_is_not_run_before_it_is_due(store: Store, runner: Runner) -> None:
    job_id = await _schedule(runner, "jobs:record", delay_ms=60_000, note="later")
    worker = ScheduledWorker(store, runner)
    assert await worker.run_due() == 0
    assert await _state(store, job_id) == "pending"
    assert await worker.run_due(now=now_ms() + 61_000) == 1
    assert await notes(store) == ["later"]


@pytest.mark.parametrize(
    ("path", "args", "error"),
    [
        ("jobs:fail", {}, "PROVIDER_ERROR: the model is down"),
        ("jobs:crash", {}, "INTERNAL: internal error"),
        ("jobs:nothing", {}, "NOT_FOUND"),
        ("jobs:record", {"note": 5}, "INVALID_ARGUMENT: invalid argument note"),
        ("jobs:recordThenFail", {"note": "x"}, "CONFLICT: changed my mind"),
        ("jobs:slow", {"note": "x"}, "TIMEOUT: ran past its time limit of 0.3 s"),
        ("jobs:breaks", {"note": "x"}, "INTERNAL: internal error"),
    ],
)
async def test_a_failing_call_ends_failed_with_its_code_and_its_writes_undone(
    store: Store, runner: Runner, path: str, args: dict[str, Any], error: str
) -> None:
    job_id = await _schedule(runner, path, **args)
    assert await ScheduledWorker(store, runner).run_due() == 1
    job = (await jobs(store))[job_id]
    assert job["state"] == "failed"
    assert job["error"].startswith(error)
    # A mutation's writes roll back with it; an action's own mutations stand (jobs:slow
    # recorded that it started, and that it was stopped at its limit).
    # Each that declares on_unfinished ran it in the transaction that ended it failed.
    expected = {
        "jobs:slow": ["started:x", "stopped:x", "lost:x"],
        "jobs:breaks": ["started:x", "lost:x"],
    }.get(path, [])
    assert await notes(store) == expected


async def test_a_scheduled_mutation_is_claimed_run_and_ended_in_one_commit(
    store: Store, runner: Runner
) -> None:
    job_id = await _schedule(runner, "jobs:record", note="once")
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    await ScheduledWorker(store, runner).run_due()
    stop()
    assert len(seen) == 1
    written = {(w.table, w.id) for w in seen[0].writes}
    assert ("scheduledFunctions", job_id) in written
    assert any(table == "users" for table, _ in written)
    assert await _state(store, job_id) == "success"


async def test_a_mutation_that_loses_to_contention_past_its_retries_is_tried_again(
    store: Store, runner: Runner
) -> None:
    CONTENDED["x"] = MAX_ATTEMPTS  # every attempt of the first run loses
    job_id = await _schedule(runner, "jobs:contended", note="x")
    worker = ScheduledWorker(store, runner)
    await worker.run_due()
    job = (await jobs(store))[job_id]
    assert job["state"] == "pending"  # nothing written, nothing given up
    assert job["scheduledTime"] > now_ms()
    await worker.run_due()
    assert await _state(store, job_id) == "pending"  # not before its new time
    assert await notes(store) == []
    await worker.run_due(now=now_ms() + 2_000)
    assert await _state(store, job_id) == "success"
    assert await notes(store) == ["x"]


async def test_a_mutation_that_must_finish_is_tried_again_after_any_failure(
    store: Store, runner: Runner
) -> None:
    CONTENDED["x"] = 1
    job_id = await _schedule(runner, "jobs:mustFinish", note="x")
    worker = ScheduledWorker(store, runner)
    await worker.run_due()
    job = (await jobs(store))[job_id]
    assert job["state"] == "pending"  # a cleanup batch is never given up
    assert job["scheduledTime"] > now_ms() + 20_000
    await worker.run_due(now=now_ms() + 60_000)
    assert await _state(store, job_id) == "success"
    assert await notes(store) == ["x"]


async def test_a_worker_never_takes_its_own_running_call_for_lost(
    store: Store, runner: Runner, running: ScheduledWorker
) -> None:
    """Its lease renewal may be late (a busy loop): its own sweep must not end it."""
    job_id = await _schedule(runner, "jobs:block", note="x")
    await until(lambda: _has_note(store, "started:x"), 5, "call started")
    assert await running.recover(now=now_ms() + 60_000) == 0
    assert await _state(store, job_id) == "inProgress"
    assert await ScheduledWorker(store, runner).recover(now=now_ms() + 60_000) == 1


async def test_workers_racing_for_the_same_mutations_run_each_exactly_once(
    store: Store, runner: Runner
) -> None:
    ids = [await _schedule(runner, "jobs:record", note=f"n{i}") for i in range(30)]
    workers = [ScheduledWorker(store, runner) for _ in range(3)]
    ran = await asyncio.gather(*(w.run_due() for w in workers))
    assert sum(ran) >= 30  # a worker may start a call another has run: it then does nothing
    assert sorted(await notes(store)) == sorted(f"n{i}" for i in range(30))
    assert {await _state(store, i) for i in ids} == {"success"}


async def test_a_negative_delay_is_refused_and_nothing_is_scheduled(
    store: Store, runner: Runner
) -> None:
    with pytest.raises(FunctionError) as caught:
        await _schedule(runner, "jobs:record", delay_ms=-1, note="x")
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert await jobs(store) == {}


async def test_internal_functions_are_missing_to_clients_but_run_when_scheduled(
    store: Store, runner: Runner
) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call("jobs:internalRecord", {"note": "x"}, ALICE)
    assert caught.value.code is Code.NOT_FOUND
    with pytest.raises(FunctionError) as caught_kind:
        await runner.call("jobs:internalRecord", {"note": "x"}, ALICE, "mutation")
    assert caught_kind.value.code is Code.NOT_FOUND
    assert str(caught.value) == "Could not find public function for 'jobs:internalRecord'"
    job_id = await _schedule(runner, "jobs:internalRecord", note="inside")
    await ScheduledWorker(store, runner).run_due()
    assert await _state(store, job_id) == "success"
    assert await notes(store) == ["inside"]


async def test_a_call_is_scheduled_in_the_lane_its_declaration_names(
    store: Store, runner: Runner
) -> None:
    long_id = await _schedule(runner, "jobs:block", delay_ms=60_000, note="a")
    short_id = await _schedule(runner, "jobs:blockShort", delay_ms=60_000, note="b")
    unknown_id = await _schedule(runner, "jobs:nothing", delay_ms=60_000)
    lanes = {i: j["lane"] for i, j in (await jobs(store)).items()}
    assert lanes == {long_id: "long", short_id: "short", unknown_id: "short"}


async def test_the_worker_wakes_on_the_commit_that_schedules(store: Store, runner: Runner) -> None:
    worker = ScheduledWorker(store, runner, poll_s=30)
    task = asyncio.create_task(worker.run_forever())
    try:
        first = await _schedule(runner, "jobs:recordLater", note="first")
        await until(lambda: _in(store, first, "success"), 5, "first pass")
        # The lane now waits for a commit or its 30 s poll: only the commit can wake it.
        job_id = await _schedule(runner, "jobs:recordLater", note="now")
        await until(lambda: _in(store, job_id, "success"), 2, "woken by the commit, not the poll")
        assert await notes(store) == ["first", "now"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_flood_of_long_calls_never_holds_up_short_ones(
    store: Store, runner: Runner, running: ScheduledWorker
) -> None:
    long_ids = [await _schedule(runner, "jobs:block", note=f"long{i}") for i in range(8)]
    short_ids = [await _schedule(runner, "jobs:recordLater", note=f"s{i}") for i in range(6)]
    for job_id in short_ids:
        await until(functools.partial(_in, store, job_id, "success"), 10, "short call")
    states = [await _state(store, i) for i in long_ids]
    assert states.count("inProgress") == 3  # the long lane's slots, all taken
    assert states.count("pending") == 5


async def test_a_call_that_ignores_its_time_limit_is_ended_all_the_same(
    store: Store, runner: Runner
) -> None:
    worker = ScheduledWorker(store, runner, heartbeat_s=0.05, grace_s=0.3)
    task = asyncio.create_task(worker.run_forever())
    try:
        job_id = await _schedule(runner, "jobs:stubborn", note="x")
        await until(lambda: _in(store, job_id, "failed"), 5, "ended past its limit")
        job = (await jobs(store))[job_id]
        assert job["error"].startswith("TIMEOUT")
        assert await notes(store) == ["lost:x"]
        assert worker.running == 1  # its slot stays taken while it really runs
        GATE["stubborn"].set()
        await until(lambda: _idle_worker(worker), 5, "it finally stopped")
        assert (await jobs(store))[job_id]["state"] == "failed"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_pending_call_canceled_never_starts(store: Store, runner: Runner) -> None:
    job_id = await _schedule(runner, "jobs:recordLater", note="never")
    await runner.call("jobs:cancel", {"id": job_id}, ALICE)
    assert await ScheduledWorker(store, runner).run_due() == 0
    job = (await jobs(store))[job_id]
    assert job["state"] == "canceled"
    assert "completedTime" in job
    assert await notes(store) == []


async def test_a_running_call_canceled_stops_at_once_and_cleans_up(
    store: Store, runner: Runner, running: ScheduledWorker
) -> None:
    job_id = await _schedule(runner, "jobs:block", note="x")
    await until(lambda: _has_note(store, "started:x"), 5, "call started")
    await runner.call("jobs:cancel", {"id": job_id}, ALICE)
    await until(lambda: _in(store, job_id, "canceled"), 2, "canceled through the commit")
    # It cleaned up itself, and its on_unfinished ran in the transaction that ended it.
    assert await notes(store) == ["started:x", "stopped:x", "lost:x"]
    job = (await jobs(store))[job_id]
    assert "leaseUntil" not in job
    assert "cancelRequested" not in job


async def _has_note(store: Store, note: str) -> bool:
    return note in await notes(store)


async def test_canceling_an_ended_or_unknown_call_changes_nothing(
    store: Store, runner: Runner
) -> None:
    job_id = await _schedule(runner, "jobs:record", note="done")
    await ScheduledWorker(store, runner).run_due()
    before = await jobs(store)
    await runner.call("jobs:cancel", {"id": job_id}, ALICE)
    await runner.call("jobs:cancel", {"id": "not-an-id"}, ALICE)
    assert await jobs(store) == before


async def test_stopping_the_worker_ends_running_calls_failed_and_runs_on_unfinished(
    store: Store, runner: Runner
) -> None:
    job_id = await _schedule(runner, "jobs:block", note="x")
    worker = asyncio.create_task(ScheduledWorker(store, runner).run_forever())
    await until(lambda: _has_note(store, "started:x"), 5, "call started")
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    job = (await jobs(store))[job_id]
    assert job["state"] == "failed"
    assert "interrupted" in job["error"]
    assert await notes(store) == ["started:x", "stopped:x", "lost:x"]


async def test_a_lapsed_lease_is_ended_failed_with_on_unfinished_in_the_same_commit(
    store: Store, runner: Runner
) -> None:
    dead = await _schedule(runner, "jobs:block", note="dead")
    alive = await _schedule(runner, "jobs:block", note="alive")

    async def claim_as_other_processes(tx: Any) -> None:
        for job_id, lease in ((dead, now_ms() - 1), (alive, now_ms() + 60_000)):
            fields = {"state": "inProgress", "startedTime": 1.0, "leaseUntil": lease}
            await tx.patch("scheduledFunctions", job_id, fields | {"worker": "w_gone"})

    await store.mutation(claim_as_other_processes)
    seen: list[Commit] = []
    stop = store.commits.listen(seen.append)
    worker = ScheduledWorker(store, runner)
    assert await worker.recover() == 1
    stop()
    assert await _state(store, dead) == "failed"
    assert await _state(store, alive) == "inProgress"
    assert await notes(store) == ["lost:dead"]
    assert len(seen) == 1
    assert {w.table for w in seen[0].writes} == {"scheduledFunctions", "users"}
    assert await worker.recover(now=now_ms() + 61_000) == 1
    assert await notes(store) == ["lost:dead", "lost:alive"]
    assert await worker.run_due() == 0  # a lost action is never run again


async def test_the_heartbeat_keeps_a_long_call_from_being_taken_as_lost(
    store: Store, runner: Runner
) -> None:
    """With a lease of 0.4 s, a call running for several leases is still its worker's."""
    worker = ScheduledWorker(store, runner, lease_ms=400, heartbeat_s=0.05)
    task = asyncio.create_task(worker.run_forever())
    other = ScheduledWorker(store, runner, lease_ms=400)
    try:
        job_id = await _schedule(runner, "jobs:block", note="x")
        await until(lambda: _has_note(store, "started:x"), 5, "call started")
        for _ in range(6):
            before = (await jobs(store))[job_id]["leaseUntil"]
            moved = functools.partial(_lease_moved, store, job_id, before)
            await until(moved, 2, "lease renewed")
            assert await other.recover() == 0
        assert await _state(store, job_id) == "inProgress"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _lease_moved(store: Store, job_id: str, before: float) -> bool:
    return bool((await jobs(store))[job_id]["leaseUntil"] > before)


async def test_a_call_ended_by_another_worker_is_stopped_by_its_own(
    store: Store, runner: Runner, running: ScheduledWorker
) -> None:
    """Its lease was taken as lapsed elsewhere: this worker must not keep it running."""
    job_id = await _schedule(runner, "jobs:block", note="x")
    await until(lambda: _has_note(store, "started:x"), 5, "call started")
    assert await ScheduledWorker(store, runner).recover(now=now_ms() + 60_000) == 1
    await until(lambda: _has_note(store, "lost:x"), 2, "ended elsewhere")
    await until(lambda: _idle_worker(running), 5, "its worker let go of it")
    job = (await jobs(store))[job_id]
    assert job["state"] == "failed"


async def _idle_worker(worker: ScheduledWorker) -> bool:
    return worker.running == 0


async def test_ended_calls_are_kept_a_week_then_forgotten(store: Store, runner: Runner) -> None:
    await _schedule(runner, "jobs:record", note="old")
    await _schedule(runner, "jobs:fail")
    canceled = await _schedule(runner, "jobs:record", note="canceled")
    await runner.call("jobs:cancel", {"id": canceled}, ALICE)
    future = await _schedule(
        runner, "jobs:recordLater", delay_ms=10 * 24 * 3600 * 1000, note="future"
    )
    worker = ScheduledWorker(store, runner)
    assert await worker.run_due() == 2
    assert await worker.forget_finished() == 0  # ended just now: kept as history
    eight_days = now_ms() + 8 * 24 * 3600 * 1000
    assert await worker.forget_finished(now=eight_days) == 3
    assert list(await jobs(store)) == [future]  # pending calls are never forgotten
