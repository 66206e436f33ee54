"""Scheduled work across processes, as a deployment runs it: worker processes killed with
SIGKILL mid-call, calls canceled from another process, a flood of long calls beside short
ones, and work scheduled by one process picked up by another. The bounds checked are the
worker's design figures (LEASE_MS, HEARTBEAT_S, SWEEP_S, poll_s), with slack for a busy
2-core machine."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import HEARTBEAT_S, LANE_SLOTS, LEASE_MS, SWEEP_S
from advisor_chat.store import Store
from tests.conftest import BACKENDS
from tests.functions.scheduled_jobs import ALICE, REGISTRY, call, jobs, notes
from tests.functions.scheduled_worker import backend_for
from tests.waiting import until

ROOT = Path(__file__).parents[2]
SLACK_S = 5.0  # a loaded CI machine: process start, scheduling, a slow commit


class Workers:
    """Worker processes over one database, all killed at the end."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.functions.scheduled_worker",
            self.target,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        assert line.startswith(b"ready"), line
        self.processes.append(process)
        return process

    async def kill(self, process: asyncio.subprocess.Process) -> None:
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def close(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                await self.kill(process)


@pytest.fixture(params=BACKENDS)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("fresh_postgres_url")
        return url
    return str(tmp_path / "jobs.sqlite3")


@pytest.fixture
async def store(target: str) -> AsyncIterator[Store]:
    async with Store(backend_for(target)) as opened:
        await opened.migrate()
        yield opened


@pytest.fixture
async def workers(target: str, store: Store) -> AsyncIterator[Workers]:
    started = Workers(target)
    yield started
    await started.close()


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, REGISTRY)


async def _schedule(runner: Runner, path: str, delay_ms: float = 0, **args: str) -> str:
    result: str = (await runner.call("jobs:schedule", call(path, delay_ms, **args), ALICE)).value
    return result


def _state_is(store: Store, job_id: str, *states: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await jobs(store))[job_id]["state"] in states

    return check


def _noted(store: Store, note: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return note in await notes(store)

    return check


async def test_a_call_whose_process_was_killed_is_ended_within_the_lease(
    store: Store, runner: Runner, workers: Workers
) -> None:
    first = await workers.start()
    job_id = await _schedule(runner, "jobs:block", note="x")
    await until(_noted(store, "started:x"), 30, "the call started in the first process")
    second = await workers.start()
    await workers.kill(first)
    killed = time.monotonic()
    bound = LEASE_MS / 1000 + SWEEP_S + SLACK_S
    await until(_state_is(store, job_id, "failed"), bound, "the lost call ended")
    took = time.monotonic() - killed
    job = (await jobs(store))[job_id]
    assert "interrupted" in job["error"]
    assert await notes(store) == ["started:x", "lost:x"]  # on_unfinished ran; no cleanup could
    assert took <= bound
    assert second.returncode is None


async def test_a_call_canceled_from_another_process_stops_within_a_heartbeat(
    store: Store, runner: Runner, workers: Workers
) -> None:
    await workers.start()
    job_id = await _schedule(runner, "jobs:block", note="x")
    await until(_noted(store, "started:x"), 30, "the call started")
    await runner.call("jobs:cancel", {"id": job_id}, ALICE)  # this process, not the worker's
    await until(_state_is(store, job_id, "canceled"), HEARTBEAT_S + SLACK_S, "canceled")
    # It cleaned up itself, and its on_unfinished ran where it ended.
    assert await notes(store) == ["started:x", "stopped:x", "lost:x"]


async def test_a_call_canceled_before_it_starts_never_runs(
    store: Store, runner: Runner, workers: Workers
) -> None:
    await workers.start()
    canceled = await _schedule(runner, "jobs:recordLater", delay_ms=300, note="never")
    await runner.call("jobs:cancel", {"id": canceled}, ALICE)
    marker = await _schedule(runner, "jobs:recordLater", delay_ms=600, note="after")
    await until(_state_is(store, marker, "success"), 30, "a later call ran")
    assert (await jobs(store))[canceled]["state"] == "canceled"
    assert await notes(store) == ["after"]


async def test_a_flood_of_long_calls_leaves_short_ones_their_lane(
    store: Store, runner: Runner, workers: Workers
) -> None:
    await workers.start()
    slots = LANE_SLOTS["long"]
    long_ids = [await _schedule(runner, "jobs:block", note=f"l{i}") for i in range(slots + 8)]
    short_ids = [await _schedule(runner, "jobs:recordLater", note=f"s{i}") for i in range(10)]
    for job_id in short_ids:
        await until(_state_is(store, job_id, "success"), 30, "a short call ran")
    await until(_noted(store, f"started:l{slots - 1}"), 30, "the long lane filled")
    states = [(await jobs(store))[i]["state"] for i in long_ids]
    assert states.count("inProgress") == slots
    assert states.count("pending") == 8


async def test_work_scheduled_by_another_process_starts_within_a_poll(
    store: Store, runner: Runner, workers: Workers
) -> None:
    """The worker process does not see this process's commits: its poll finds them."""
    await workers.start()
    warm = await _schedule(runner, "jobs:recordLater", note="warm")
    await until(_state_is(store, warm, "success"), 30, "the worker is running")
    job_id = await _schedule(runner, "jobs:recordLater", note="x")
    await until(_state_is(store, job_id, "success"), 1.0 + SLACK_S, "picked up")
    job = (await jobs(store))[job_id]
    assert job["startedTime"] - job["scheduledTime"] < 1000  # the poll is every 0.5 s
