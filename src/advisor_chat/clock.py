"""Document timestamps (createdAt, updatedAt, lastSeenAt, ...) are Unix milliseconds, as
in the seed schema; this is the one place that says so."""

from __future__ import annotations

import time


def now_ms() -> float:
    return time.time() * 1000
