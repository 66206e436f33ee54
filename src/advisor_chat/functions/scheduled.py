"""Running scheduled calls: the server's worker takes `scheduledFunctions` rows when due,
runs each as the caller who scheduled it, and records how it ended.

Each call is claimed in a transaction (pending → inProgress) before it runs, so with
several server processes on one database a call runs once. Every call ends `success` or
`failed` (with the error's code and message); none is left in progress: a call still
running when the server stops is marked failed, and one whose process died is marked
failed once its lease has passed (checked every minute, by every server). Ended calls are
kept for a week. The worker wakes on this process's commits that schedule something and
polls for other processes' every `poll_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from advisor_chat.clock import now_ms
from advisor_chat.errors import FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner, as_function_error
from advisor_chat.log import get_logger
from advisor_chat.store import Commit, Document, Store, Transaction

log = get_logger(__name__)
TABLE = "scheduledFunctions"
LEASE_MS = 15 * 60 * 1000  # a call in progress longer than this lost its process
KEEP_MS = 7 * 24 * 3600 * 1000  # how long ended calls are kept, as history
SWEEP_EVERY_S = 60.0  # how often lost calls are failed and old ones forgotten
MAX_RUNNING = 16


class ScheduledWorker:
    def __init__(self, store: Store, runner: Runner, *, poll_s: float = 1.0) -> None:
        self.store = store
        self.runner = runner
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_RUNNING)

    def _on_commit(self, commit: Commit) -> None:
        if any(w.table == TABLE and w.new_keys is not None for w in commit.writes):
            self._wake.set()

    async def run_forever(self) -> None:
        """Until cancelled; then the calls it started are stopped and marked failed."""
        stop_listening = self.store.commits.listen(self._on_commit)
        try:
            swept = -float("inf")
            while True:
                self._wake.clear()
                try:
                    if time.monotonic() - swept >= SWEEP_EVERY_S:
                        await self.recover()
                        await self.forget_finished()
                        swept = time.monotonic()
                    await self.start_due()
                    pause = await self._until_next_due()
                except Exception:  # e.g. the database away for a moment: try again
                    log.exception("scheduled_poll_failed")
                    pause = self.poll_s
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=pause)
        finally:
            stop_listening()
            for task in self._running:
                task.cancel()
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)

    async def recover(self, now: float | None = None) -> int:
        """Mark failed the calls left in progress by a process that died (lease passed)."""
        cutoff = (now_ms() if now is None else now) - LEASE_MS

        async def sweep(tx: Transaction) -> int:
            stale = await tx.query(TABLE, "by_state_time").eq("state", "inProgress").collect()
            lost = [job for job in stale if job.get("startedTime", 0) < cutoff]
            for job in lost:
                await _finish(tx, job["_id"], "INTERNAL: interrupted (its server stopped)")
            return len(lost)

        return (await self.store.mutation(sweep)).value

    async def forget_finished(self, now: float | None = None) -> int:
        """Delete calls that ended (success or failed) and were due over KEEP_MS ago, as
        Convex keeps its scheduled functions' history for a week."""
        cutoff = (now_ms() if now is None else now) - KEEP_MS

        async def sweep(tx: Transaction) -> int:
            gone = 0
            for state in ("success", "failed", "canceled"):
                q = tx.query(TABLE, "by_state_time").eq("state", state)
                for job in await q.lt("scheduledTime", cutoff).take(1000):
                    await tx.delete(TABLE, job["_id"])
                    gone += 1
            return gone

        return (await self.store.mutation(sweep)).value

    async def start_due(self, now: float | None = None) -> list[asyncio.Task[None]]:
        """Claim every call due by `now` and start it; returns the started tasks."""
        moment = now_ms() if now is None else now
        started: list[asyncio.Task[None]] = []
        while True:
            due = await self._due(moment)
            if not due:
                return started
            for job in due:
                await self._slots.acquire()  # before the claim: a claimed call always runs
                try:
                    claimed = await self._claim(job["_id"])
                except BaseException:
                    self._slots.release()
                    raise
                if not claimed:
                    self._slots.release()
                    continue  # another process took it
                task = asyncio.create_task(self._run(job))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
                started.append(task)

    async def run_due(self, now: float | None = None) -> int:
        """Run every call due by `now` to its end (tests and one-off use)."""
        tasks = await self.start_due(now)
        await asyncio.gather(*tasks)
        return len(tasks)

    async def _due(self, moment: float) -> list[Document]:
        async def read(tx: Transaction) -> list[Document]:
            q = tx.query(TABLE, "by_state_time").eq("state", "pending")
            return await q.lte("scheduledTime", moment).take(MAX_RUNNING)

        return (await self.store.query(read)).value

    async def _until_next_due(self) -> float:
        async def read(tx: Transaction) -> Document | None:
            return await tx.query(TABLE, "by_state_time").eq("state", "pending").first()

        upcoming = (await self.store.query(read)).value
        if upcoming is None:
            return self.poll_s
        due_in = (float(upcoming["scheduledTime"]) - now_ms()) / 1000
        return min(self.poll_s, max(0.0, due_in))

    async def _claim(self, job_id: str) -> bool:
        async def claim(tx: Transaction) -> bool:
            job = await tx.get(TABLE, job_id)
            if job is None or job["state"] != "pending":
                return False
            await tx.patch(TABLE, job_id, {"state": "inProgress", "startedTime": now_ms()})
            return True

        return (await self.store.mutation(claim)).value

    async def _run(self, job: Document) -> None:
        error: str | None = None
        try:
            identity = Identity.from_document(job["identity"]) if "identity" in job else None
            await self.runner.call(job["name"], job["args"], identity)
        except asyncio.CancelledError:
            error = "INTERNAL: interrupted (the server stopped)"
            raise
        except Exception as exc:
            failure = exc if isinstance(exc, FunctionError) else as_function_error(exc, job["name"])
            error = f"{failure.code}: {failure.message}"
        finally:
            self._slots.release()
            await asyncio.shield(self._record(job, error))

    async def _record(self, job: Document, error: str | None) -> None:
        async def finish(tx: Transaction) -> None:
            await _finish(tx, job["_id"], error)

        try:
            await self.store.mutation(finish)
        except Exception:  # the store is gone: the lease marks it failed on next start
            log.exception("scheduled_record_failed", id=job["_id"], name=job["name"])
        if error is not None:
            log.warning("scheduled_failed", id=job["_id"], name=job["name"], error=error)


async def _finish(tx: Transaction, job_id: str, error: str | None) -> None:
    fields: dict[str, Any] = {"completedTime": now_ms()}
    fields |= {"state": "failed", "error": error} if error else {"state": "success"}
    await tx.patch(TABLE, job_id, fields)
