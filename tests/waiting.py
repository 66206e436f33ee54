"""Waiting for conditions, not for time: tests poll what a user would see until it holds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(
    condition: Callable[[], Awaitable[bool]], within: float, what: str = "condition"
) -> float:
    """Poll `condition` every 20 ms until it holds; returns the seconds it took. Raises
    naming `what` after `within` s."""
    start = time.monotonic()
    while not await condition():
        if time.monotonic() - start > within:
            raise TimeoutError(f"{what}: not so after {within:g} s")
        await asyncio.sleep(0.02)  # a poll interval, bounded by the deadline above
    return time.monotonic() - start
