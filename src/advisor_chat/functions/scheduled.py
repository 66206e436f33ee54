"""Running scheduled calls: the server's worker takes `scheduledFunctions` rows when due,
runs each as the caller who scheduled it, and records how it ended.

    pending → inProgress → success | failed | canceled;   pending → canceled

- Lanes. Each lane has its own slots and its own claim loop, so a flood of `long` calls
  (advisor turns that stream for minutes) never delays a `short` one (summaries, sweeps,
  cleanup batches) by a moment. A call's lane is its function's declaration.
- A scheduled mutation runs exactly once: its claim, its handler and its end are one
  transaction. One that fails rolls back whole, and a second transaction ends it `failed`;
  one that lost to contention past the store's retries stays pending and is tried again.
- An action is claimed (pending → inProgress) with a lease, then run. The worker's
  heartbeat renews the lease of what it runs; once a lease lapses (its process died), any
  worker's sweep ends the call `failed` within `LEASE_MS + SWEEP_S`. A lost action is
  never run again: it may have had effects outside the database (Convex's actions are at
  most once, too).
- Whatever way but `success` an action ends (failed, canceled, timed out, interrupted,
  lost), its declaration's `on_unfinished` runs in the transaction that ends it, so what
  it was writing is left consistent.
- Cancel (`Scheduler.cancel`): a pending call never starts; a running one is cancelled
  (its task sees `CancelledError`) at once when the request commits in this process, at the
  next heartbeat when it commits in another, and ends `canceled`.
- A time limit per call (its declaration's): past it the call is cancelled and ends
  `failed` with TIMEOUT; one that ignores the cancel is ended so all the same `GRACE_S`
  later, its slot held until it really stops.
- Stopping the server cancels what runs and ends it `failed` (interrupted).

Other processes' commits are not seen here, so each lane also polls its due range every
`poll_s`: a call another process schedules starts within about that. Ended calls are kept
for a week, as history.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from advisor_chat.clock import now_ms
from advisor_chat.errors import Code
from advisor_chat.functions.context import SCHEDULED, Identity
from advisor_chat.functions.registry import TIME_LIMIT_S, Function, Lane
from advisor_chat.functions.runner import Runner, as_function_error, check_args
from advisor_chat.log import get_logger
from advisor_chat.store import UNSET, Commit, Document, Store, Transaction
from advisor_chat.store.backend import TransactionConflict

log = get_logger(__name__)
TABLE = SCHEDULED
LEASE_MS = 8_000  # a running call whose lease is this old lost its process
HEARTBEAT_S = 1.0  # how often running calls are checked (cancel) and leases renewed
SWEEP_S = 1.0  # how often lapsed leases are looked for
GRACE_S = 30.0  # past its time limit by this, a call that ignored its cancel is ended anyway
FORGET_EVERY_S = 60.0
KEEP_MS = 7 * 24 * 3600 * 1000  # how long ended calls are kept, as history
SWEEP_BATCH = 100  # lost calls ended per sweep transaction
RETRY_MS = 1_000  # a scheduled mutation that lost to contention is tried again this later
FAILED_RETRY_MS = 30_000  # a `retried` one that failed otherwise (the database away, say)
LANE_SLOTS: Mapping[Lane, int] = {"short": 8, "long": 32}  # calls running at once, per lane
INTERRUPTED = f"{Code.INTERNAL}: interrupted (its server stopped)"

Ending = Literal["canceled", "interrupted", "lost", "finishing"]


@dataclass
class _Running:
    job: Document
    function: Function | None  # None: a path this process does not know
    lane: Lane
    task: asyncio.Task[None]
    leased: bool  # an action's claim; a mutation holds no lease (it is one transaction)
    deadline: float  # monotonic time past which it is ended whether it stops or not
    ending: Ending | None = None  # why this worker cancelled it ("finishing": it no longer can)


class ScheduledWorker:
    def __init__(
        self,
        store: Store,
        runner: Runner,
        *,
        poll_s: float = 0.5,
        lanes: Mapping[Lane, int] = LANE_SLOTS,
        lease_ms: float = LEASE_MS,
        heartbeat_s: float = HEARTBEAT_S,
        sweep_s: float = SWEEP_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self.store = store
        self.runner = runner
        self.poll_s = poll_s
        self.lease_ms = lease_ms
        self.heartbeat_s = heartbeat_s
        self.sweep_s = sweep_s
        self.grace_s = grace_s
        self.id = f"w_{secrets.token_hex(8)}"
        self._lanes = dict(lanes)
        self._slots = {lane: asyncio.Semaphore(n) for lane, n in lanes.items()}
        self._wake = {lane: asyncio.Event() for lane in lanes}
        self._running: dict[str, _Running] = {}
        self._held_back: dict[str, float] = {}  # job id -> monotonic time, see _hold_back
        # Commits touching a running call's row, not yet looked at (a cancel request).
        self._touched: set[int] = set()
        self._touched_event = asyncio.Event()
        # What this worker started, per lane, and ended, per state (for /metrics).
        self.started: Counter[Lane] = Counter()
        self.ended: Counter[str] = Counter()

    @property
    def running(self) -> int:
        """Calls this worker runs now."""
        return len(self._running)

    def running_by_lane(self) -> dict[Lane, int]:
        counts = dict.fromkeys(self._lanes, 0)
        for running in self._running.values():
            counts[running.lane] += 1
        return counts

    async def backlog(self, cap: int) -> dict[tuple[Lane, str], int]:
        """Pending and in-progress calls per lane, in every process, each counted up to
        `cap` (one index range read per lane and state)."""

        async def read(tx: Transaction) -> dict[tuple[Lane, str], int]:
            counts: dict[tuple[Lane, str], int] = {}
            for lane in self._lanes:
                for state in ("pending", "inProgress"):
                    q = tx.query(TABLE, "by_lane_state_time").eq("lane", lane).eq("state", state)
                    counts[lane, state] = len(await q.take(cap))
            return counts

        return (await self.store.query(read)).value

    # --- the loops -----------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Until cancelled; then the calls it runs are stopped and ended `failed`."""
        stop_listening = self.store.commits.listen(self._on_commit)
        try:
            async with asyncio.TaskGroup() as group:
                for lane in self._lanes:
                    group.create_task(self._lane_loop(lane))
                group.create_task(self._heartbeat_loop())
                group.create_task(self._sweep_loop())
        finally:
            stop_listening()
            for running in list(self._running.values()):
                self._stop(running, "interrupted")
            if self._running:
                tasks = [r.task for r in self._running.values()]
                await asyncio.gather(*tasks, return_exceptions=True)

    def _on_commit(self, commit: Commit) -> None:
        for write in commit.writes:
            if write.table != TABLE:
                continue
            if write.id in self._running:
                self._touched.add(commit.ts)
                self._touched_event.set()
            for key in (write.new_keys or {}).get("by_lane_state_time", ()):
                lane, state = key[0], key[1]
                if state == "pending" and lane in self._wake:
                    self._wake[lane].set()

    async def _lane_loop(self, lane: Lane) -> None:
        while True:
            self._wake[lane].clear()
            try:
                await self._start_due_in(lane, now_ms())
                pause = await self._pause(lane)
            except Exception:  # e.g. the database away for a moment: try again
                log.exception("scheduled_poll_failed", lane=lane)
                pause = self.poll_s
            await _wait(self._wake[lane], pause)

    async def _heartbeat_loop(self) -> None:
        while True:
            await _wait(self._touched_event, self.heartbeat_s)
            self._touched.clear()
            self._touched_event.clear()
            try:
                await self.heartbeat()
            except Exception:
                log.exception("scheduled_heartbeat_failed")

    async def _sweep_loop(self) -> None:
        forgotten = time.monotonic()
        while True:
            try:
                await self.recover()
                if time.monotonic() - forgotten >= FORGET_EVERY_S:
                    await self.forget_finished()
                    forgotten = time.monotonic()
            except Exception:
                log.exception("scheduled_sweep_failed")
            await asyncio.sleep(self.sweep_s)

    # --- starting calls ------------------------------------------------------------------

    async def start_due(self, now: float | None = None) -> list[asyncio.Task[None]]:
        """Start every call due by `now` that a slot of its lane can take; returns the
        started tasks."""
        moment = now_ms() if now is None else now
        started: list[asyncio.Task[None]] = []
        for lane in self._lanes:
            started += await self._start_due_in(lane, moment)
        return started

    async def run_due(self, now: float | None = None) -> int:
        """Run every call due by `now` to its end (tests and one-off use)."""
        tasks = await self.start_due(now)
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _start_due_in(self, lane: Lane, moment: float) -> list[asyncio.Task[None]]:
        started: list[asyncio.Task[None]] = []
        while True:
            fresh = [j for j in await self._pending(lane) if j["scheduledTime"] <= moment]
            if not fresh:
                return started
            for job in fresh:
                await self._slots[lane].acquire()  # before the claim: a claimed call runs
                try:
                    task = await self._start(job, lane)
                except BaseException:
                    self._slots[lane].release()
                    raise
                if task is None:
                    self._slots[lane].release()  # another worker took it
                else:
                    started.append(task)

    async def _pending(self, lane: Lane) -> list[Document]:
        """The lane's earliest pending calls not already running here (a scheduled
        mutation stays pending until its one transaction commits), soonest first."""
        mine = sum(1 for r in self._running.values() if r.lane == lane)

        async def read(tx: Transaction) -> list[Document]:
            q = tx.query(TABLE, "by_lane_state_time").eq("lane", lane).eq("state", "pending")
            return await q.take(self._lanes[lane] + mine)

        rows = (await self.store.query(read)).value
        now = time.monotonic()
        for job_id in [i for i, until in self._held_back.items() if until <= now]:
            del self._held_back[job_id]
        return [
            j for j in rows if j["_id"] not in self._running and j["_id"] not in self._held_back
        ]

    async def _pause(self, lane: Lane) -> float:
        """Until the lane's next call is due, at most `poll_s` (a call another process
        schedules is seen only by polling). A call ending here wakes the lane at once."""
        upcoming = await self._pending(lane)
        if not upcoming:
            return self.poll_s
        due_in = (float(upcoming[0]["scheduledTime"]) - now_ms()) / 1000
        return min(self.poll_s, max(0.0, due_in))

    async def _start(self, job: Document, lane: Lane) -> asyncio.Task[None] | None:
        function = self.runner.registry.find(job["name"])
        leased = function is None or function.kind != "mutation"
        if leased and not await self._claim(job):
            return None
        if function is not None and function.kind == "mutation":
            task = asyncio.create_task(self._run_mutation(job, function))
        else:
            task = asyncio.create_task(self._run_call(job, function))
        deadline = time.monotonic() + _time_limit(function) + self.grace_s
        self._running[job["_id"]] = _Running(job, function, lane, task, leased, deadline)

        def done(_: asyncio.Task[None], job_id: str = job["_id"]) -> None:
            self._running.pop(job_id, None)
            self._slots[lane].release()
            self._wake[lane].set()  # a slot is free, and what waited behind it may be due

        task.add_done_callback(done)
        self.started[lane] += 1
        return task

    async def _claim(self, job: Document) -> bool:
        async def claim(tx: Transaction) -> bool:
            if not _startable(await tx.get(TABLE, job["_id"]), job):
                return False
            now = now_ms()
            fields = {
                "state": "inProgress",
                "startedTime": now,
                "worker": self.id,
                "leaseUntil": now + self.lease_ms,
            }
            await tx.patch(TABLE, job["_id"], fields)
            return True

        return (await self.store.mutation(claim)).value

    # --- running calls -------------------------------------------------------------------

    async def _run_mutation(self, job: Document, function: Function) -> None:
        """Claim, handler and end in one transaction: it runs once or not at all."""
        identity = _identity(job)
        args: dict[str, Any] = {}

        async def run(tx: Transaction) -> bool:
            row = await tx.get(TABLE, job["_id"])
            if not _startable(row, job):
                return False  # canceled, run by another worker, or put off since it was read
            started = now_ms()
            await function.handler(self.runner.mutation_ctx(tx, identity), args)
            fields = {"state": "success", "startedTime": started, "completedTime": now_ms()}
            await tx.patch(TABLE, job["_id"], fields | {"worker": self.id})
            return True

        error: str | None = None
        try:
            args = check_args(function, job["args"])
            key = identity.token_identifier if identity is not None else None
            async with asyncio.timeout(function.time_limit):
                ran = await self.store.mutation(run, key=key)  # queued with the caller's own
            if ran.value:
                self.ended["success"] += 1
        except TimeoutError:
            error = _timeout(function.time_limit)
        except asyncio.CancelledError:
            raise  # rolled back, so still pending: it runs when a worker next starts
        except TransactionConflict:
            # Contention outlasted the store's retries: nothing was written and the call is
            # still pending, so try it again shortly rather than give up (a cleanup batch
            # that ended `failed` would leave its rows behind for good).
            await asyncio.shield(self._retry_later(job))
        except Exception as exc:
            failure = as_function_error(exc, job["name"])
            error = f"{failure.code}: {failure.message}"
        if error is not None and function.retried:
            log.warning("scheduled_retry", id=job["_id"], name=job["name"], error=error)
            await asyncio.shield(self._retry_later(job, FAILED_RETRY_MS))
        elif error is not None:
            await asyncio.shield(self._fail_pending(job, error))

    async def _retry_later(self, job: Document, delay_ms: float = RETRY_MS) -> None:
        async def later(tx: Transaction) -> None:
            row = await tx.get(TABLE, job["_id"])
            if row is not None and row["state"] == "pending":
                await tx.patch(TABLE, job["_id"], {"scheduledTime": now_ms() + delay_ms})

        try:
            await self.store.mutation(later)
        except Exception:  # still pending and due: hold it back here instead
            self._hold_back(job["_id"], delay_ms)
            log.exception("scheduled_record_failed", id=job["_id"], name=job["name"])
        log.warning("scheduled_retry_later", id=job["_id"], name=job["name"])

    def _hold_back(self, job_id: str, delay_ms: float) -> None:
        """Keep this worker from starting a call again for a while: its end could not be
        recorded (the database refuses writes), so it still looks due."""
        self._held_back[job_id] = time.monotonic() + delay_ms / 1000

    async def _fail_pending(self, job: Document, error: str) -> None:
        async def fail(tx: Transaction) -> bool:
            row = await tx.get(TABLE, job["_id"])
            if row is None or row["state"] != "pending":
                return False
            fields = {"state": "failed", "error": error, "completedTime": now_ms()}
            await tx.patch(TABLE, job["_id"], fields | {"startedTime": now_ms()})
            return True

        try:
            if (await self.store.mutation(fail)).value:
                self.ended["failed"] += 1
        except Exception:  # left pending: it is tried again, not at once
            self._hold_back(job["_id"], FAILED_RETRY_MS)
            log.exception("scheduled_record_failed", id=job["_id"], name=job["name"])
        log.warning("scheduled_failed", id=job["_id"], name=job["name"], error=error)

    async def _run_call(self, job: Document, function: Function | None) -> None:
        limit = _time_limit(function)
        state: Literal["success", "failed", "canceled"] = "success"
        error: str | None = None
        try:
            async with asyncio.timeout(limit):
                await self.runner.call(
                    job["name"], job["args"], _identity(job), internal=True, call_id=job["_id"]
                )
        except TimeoutError:
            state, error = "failed", _timeout(limit)
        except asyncio.CancelledError:
            running = self._running.get(job["_id"])
            ending = running.ending if running is not None else None
            if ending == "canceled":
                state = "canceled"
            elif ending == "lost":
                return  # another worker ended it after our lease lapsed
            else:
                await asyncio.shield(self._end(job, "failed", INTERRUPTED, function))
                raise
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()  # our own cancel, handled: the task ends normally
        except Exception as exc:
            failure = as_function_error(exc, job["name"])
            state, error = "failed", f"{failure.code}: {failure.message}"
        running = self._running.get(job["_id"])
        if running is not None and running.ending is None:
            running.ending = "finishing"  # a late cancel would only cut the record short
        await asyncio.shield(self._end(job, state, error, function))

    async def _end(
        self,
        job: Document,
        state: Literal["success", "failed", "canceled"],
        error: str | None,
        function: Function | None,
    ) -> None:
        """End a call this worker claimed (unless another ended it since); one that did not
        succeed also runs its declaration's `on_unfinished`, in the same transaction."""
        unfinished = state != "success"
        recover = function.on_unfinished if function is not None and unfinished else None
        ended = await self._end_in_tx(job, state, error, recover, owner=self.id)
        if error is not None:
            log.warning("scheduled_failed", id=job["_id"], name=job["name"], error=error)
        if not ended:
            log.info("scheduled_end_skipped", id=job["_id"], name=job["name"], state=state)

    async def _end_in_tx(
        self,
        job: Document,
        state: Literal["success", "failed", "canceled"],
        error: str | None,
        recover: Any,
        *,
        owner: str | None = None,
        lapsed_by: float | None = None,
    ) -> bool:
        """One transaction: the call still in progress (held by `owner`, or with its lease
        lapsed by `lapsed_by`) is ended; `recover` runs in it. If `recover` fails, the call
        is ended without it rather than left in progress."""

        async def end(tx: Transaction, with_recover: bool) -> bool:
            row = await tx.get(TABLE, job["_id"])
            if row is None or row["state"] != "inProgress":
                return False
            if owner is not None and row.get("worker") != owner:
                return False
            if lapsed_by is not None and row.get("leaseUntil", 0) >= lapsed_by:
                return False
            fields: dict[str, Any] = {"state": state, "completedTime": now_ms()}
            fields |= {"leaseUntil": UNSET, "cancelRequested": UNSET}
            if error is not None:
                fields["error"] = error
            await tx.patch(TABLE, job["_id"], fields)
            if with_recover and recover is not None:
                ctx = self.runner.mutation_ctx(tx, _identity(row), call_id=row["_id"])
                await recover(ctx, row["args"])
            return True

        try:
            return self._ended(state, (await self.store.mutation(lambda tx: end(tx, True))).value)
        except Exception:
            if recover is None:
                log.exception("scheduled_record_failed", id=job["_id"], name=job["name"])
                return False
            log.exception("scheduled_on_unfinished_failed", id=job["_id"], name=job["name"])
        try:
            return self._ended(state, (await self.store.mutation(lambda tx: end(tx, False))).value)
        except Exception:  # the store is gone: the lease ends it later
            log.exception("scheduled_record_failed", id=job["_id"], name=job["name"])
            return False

    def _ended(self, state: str, ended: bool) -> bool:
        if ended:
            self.ended[state] += 1
        return ended

    def _stop(self, running: _Running, why: Ending) -> None:
        if running.ending is None and not running.task.done():
            running.ending = why
            running.task.cancel()

    # --- leases, cancel requests, lost calls -----------------------------------------------

    async def heartbeat(self) -> None:
        """Look at every call this worker runs: stop the ones asked to cancel or ended by
        someone else, and renew the leases that are half spent."""
        leased = {job_id: r for job_id, r in self._running.items() if r.leased}
        if not leased:
            return

        async def read(tx: Transaction) -> dict[str, Document | None]:
            return {job_id: await tx.get(TABLE, job_id) for job_id in leased}

        rows = (await self.store.query(read)).value
        renew: list[str] = []
        now = now_ms()
        overdue: list[_Running] = []
        for job_id, row in rows.items():
            running = leased[job_id]
            if row is None or row["state"] != "inProgress" or row.get("worker") != self.id:
                self._stop(running, "lost")
            elif time.monotonic() > running.deadline:
                overdue.append(running)  # it ignored its cancel: end it without its help
            elif row.get("cancelRequested"):
                self._stop(running, "canceled")
            elif row.get("leaseUntil", 0) - now < self.lease_ms / 2:
                renew.append(job_id)
        for running in overdue:
            running.ending = "finishing"
            limit = _time_limit(running.function)
            await self._end(running.job, "failed", _timeout(limit), running.function)
        if not renew:
            return

        async def extend(tx: Transaction) -> None:
            until = now_ms() + self.lease_ms
            for job_id in renew:
                row = await tx.get(TABLE, job_id)
                if row is not None and row["state"] == "inProgress" and row["worker"] == self.id:
                    await tx.patch(TABLE, job_id, {"leaseUntil": until})

        outcome = await self.store.mutation(extend)
        if outcome.commit is not None:  # our own write is no cancel request
            self._touched.discard(outcome.commit.ts)
            if not self._touched:
                self._touched_event.clear()

    async def recover(self, now: float | None = None) -> int:
        """End `failed` the calls whose lease lapsed (their process died), each with its
        declaration's `on_unfinished`; returns how many."""
        moment = now_ms() if now is None else now

        async def read(tx: Transaction) -> list[Document]:
            q = tx.query(TABLE, "by_state_lease").eq("state", "inProgress")
            return await q.lt("leaseUntil", moment).take(SWEEP_BATCH)

        # A call this worker still runs is not lost, only late in renewing (a busy loop, a
        # slow database): the heartbeat renews it or stops it, never this sweep.
        lost = [j for j in (await self.store.query(read)).value if j["_id"] not in self._running]
        ended = 0
        for job in lost:
            function = self.runner.registry.find(job["name"])
            recover = function.on_unfinished if function is not None else None
            if await self._end_in_tx(job, "failed", INTERRUPTED, recover, lapsed_by=moment):
                ended += 1
                log.warning("scheduled_lost", id=job["_id"], name=job["name"])
        return ended

    async def forget_finished(self, now: float | None = None) -> int:
        """Delete calls that ended (success, failed or canceled) and were due over KEEP_MS
        ago, as Convex keeps its scheduled functions' history for a week."""
        cutoff = (now_ms() if now is None else now) - KEEP_MS

        async def sweep(tx: Transaction) -> int:
            gone = 0
            for state in ("success", "failed", "canceled"):
                q = tx.query(TABLE, "by_state_time").eq("state", state)
                for job in await q.lt("scheduledTime", cutoff).take(SWEEP_BATCH):
                    await tx.delete(TABLE, job["_id"])
                    gone += 1
            return gone

        return (await self.store.mutation(sweep)).value


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` pass. Not `asyncio.wait_for`: on Python 3.11 it
    swallows a cancel that arrives as the event is set, and a loop built on it then never
    stops (seen: a worker that could not be shut down)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()


def _startable(row: Document | None, seen: Document) -> bool:
    """Still pending and due as when it was read: not canceled, started elsewhere, or put
    off (a snapshot read before a retry moved its time may offer it again)."""
    return (
        row is not None
        and row["state"] == "pending"
        and row["scheduledTime"] <= max(seen["scheduledTime"], now_ms())
    )


def _identity(job: Document) -> Identity | None:
    return Identity.from_document(job["identity"]) if "identity" in job else None


def _time_limit(function: Function | None) -> float:
    """Seconds a call may run: its declaration's, or a short call's for an unknown path."""
    return function.time_limit if function is not None else TIME_LIMIT_S["short"]


def _timeout(limit: float) -> str:
    return f"{Code.TIMEOUT}: ran past its time limit of {limit:g} s"
