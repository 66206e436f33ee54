"""An answer's text on its way to the database: deltas from the provider, written in
throttled chunks (`streamDeltas` rows), so the database sees O(length) bytes per answer and
the message itself (its search text, every list of the conversation) is written twice:
when the answer starts and when it ends.

The provider's stream never waits on the database: `add` only buffers. A flusher task
writes what accumulated: at once when nothing was written for `interval_s` (the first
token reaches readers without delay), else at the end of the interval, so a fast stream
costs one write per interval. A write answering False means the answer was ended from
outside (the stop button, from any process): `stopped` turns True and the turn stops
asking the provider for more.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

Flush = Callable[[int, str], Awaitable[bool]]  # (character offset, text) → still streaming?

INTERVAL_S = 0.1  # at most one chunk per answer per interval


class DeltaWriter:
    def __init__(self, flush: Flush, *, interval_s: float = INTERVAL_S) -> None:
        self._flush = flush
        self._interval = interval_s
        self._parts: list[str] = []
        self._written = 0  # characters already in the database
        self._length = 0  # characters received
        self._last = -float("inf")  # monotonic time of the last write
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.stopped = False  # no more text is wanted: ended from outside, or a write failed
        self.failure: Exception | None = None  # why a write failed
        self.chunks = 0

    @property
    def text(self) -> str:
        """Everything received so far (the answer's text)."""
        joined = "".join(self._parts)
        self._parts = [joined] if joined else []
        return joined

    async def __aenter__(self) -> DeltaWriter:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Waits for the last chunk on a normal exit, and raises what made a write fail.
        Left by an exception, the pending text is left to whoever ends the answer (they
        write the whole text anyway)."""
        self._closing = True
        self._wake.set()
        if self._task is None:
            return
        if exc[0] is None:
            await self._task
            if self.failure is not None:
                raise self.failure
        else:
            self._task.cancel()
            # Ending anyway: whoever ends the answer writes its whole text.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def add(self, text: str) -> None:
        if not text or self.stopped:
            return
        self._parts.append(text)
        self._length += len(text)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = self._last + self._interval - time.monotonic()
            if wait > 0 and not self._closing:
                await asyncio.sleep(wait)
            if self._length > self._written and not self.stopped:
                try:
                    await self._write()
                except Exception as exc:  # the store refused: stop asking for more text
                    self.failure = exc
                    self.stopped = True
            if self._closing and (self._length == self._written or self.stopped):
                return

    async def _write(self) -> None:
        start = self._written
        chunk = self.text[start:]
        self._last = time.monotonic()
        still = await self._flush(start, chunk)
        self._written = start + len(chunk)
        self.chunks += 1
        if not still:
            self.stopped = True
