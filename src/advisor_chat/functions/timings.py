"""Times the server decides for live state and tells its clients, rather than each client
keeping its own clock (settings: `typing_expiry`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from advisor_chat.settings import Settings

TYPING_EXPIRY_MS = 10_000.0  # the seed app's: a typing row not refreshed for this long lapses
# An answer a client streams itself (streamAssistantResponse) that receives nothing for this
# long ends `stopped`: a client that went away never leaves it streaming.
CLIENT_STREAM_IDLE_MS = 30_000.0


@dataclass(frozen=True)
class Timings:
    typing_expiry_ms: float = TYPING_EXPIRY_MS
    client_stream_idle_ms: float = CLIENT_STREAM_IDLE_MS

    @classmethod
    def from_settings(cls, settings: Settings) -> Timings:
        return cls(typing_expiry_ms=settings.typing_expiry * 1000)
