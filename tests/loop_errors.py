"""What reaches the event loop's exception handler: asyncpg reports a connection that went
back to its pool inside a transaction there ("Resetting connection with an active
transaction"), and asyncio a future whose exception nobody read, neither as a warning, so
`filterwarnings = error` cannot catch them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def loop_errors() -> Iterator[list[str]]:
    """Collect, during the block, what the running loop's exception handler is given."""
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    seen: list[str] = []
    loop.set_exception_handler(
        lambda _loop, context: seen.append(f"{context['message']} {context.get('exception')!r}")
    )
    try:
        yield seen
    finally:
        loop.set_exception_handler(previous)
