"""Following a round as it runs: the answers the server writes after a message, and each
answer's text while it streams, as a stream of `Event`s.

There is no push channel yet, so `follow` polls: `messages:getStreamingText` for the
answer being streamed, `messages:getConversationMessages` (from a cursor past the last
message seen, so each poll costs what is new) for answers still to come. The rest of the
chat sees only events, so a push transport (the WebSocket sync protocol) replaces
`follow` alone.

An answer's states, as the server writes them: `streaming → complete | stopped | error`.
A new answer appears as a `streaming` message with empty content before its first token.
Answers of one round come one after another (each sees the ones before it), so they are
followed, and printed, one at a time in the order they were written.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from advisor_chat.cli.remote import Remote

TEXT_POLL_S = 0.12  # an answer's text is written in ~200 ms chunks: this shows each promptly
LIST_POLL_S = 0.3  # new answers of the round; a round's next answer starts after the last
PAGE = 200  # the server's largest page
FIRST_ANSWER_S = 60.0  # the embedded model loads on first use; past this, stop waiting
QUIET_S = 3.0  # every expected answer ended and nothing new this long: the round is over
STOP_WAIT_S = 10.0  # after a stop, how long answers have to end `stopped`

Message = dict[str, Any]


@dataclass(frozen=True)
class Started:
    """An answer began (or was found already finished): print its attribution."""

    message: Message


@dataclass(frozen=True)
class Delta:
    """More of the current answer's text."""

    message_id: str
    advisor_id: str | None
    text: str


@dataclass(frozen=True)
class Ended:
    """The current answer ended; `state` carries status, error, errorCode, model, notice."""

    message_id: str
    state: Message


@dataclass(frozen=True)
class Posted:
    """A whole message that is no answer to stream: a system note (over the daily limit,
    say), or a message sent from another device."""

    message: Message


@dataclass(frozen=True)
class GaveUp:
    """The round did not end in time; its answers will be there on the next open."""

    reason: str


Event = Started | Delta | Ended | Posted | GaveUp


class Tail:
    """A conversation's messages from a cursor on: each `read` returns only what is new
    since the previous one (the cursor is an index key, so a re-read costs what is new)."""

    def __init__(self, remote: Remote, conversation_id: str) -> None:
        self.remote = remote
        self.conversation_id = conversation_id
        self.cursor: str | None = None

    async def read(self, keep: int | None = None) -> list[Message]:
        """New messages, oldest first; with `keep`, only the last `keep` of them (opening
        a long conversation pages through it once but holds only what is shown)."""
        found: deque[Message] = deque(maxlen=keep)
        while True:
            page = await self.remote.query(
                "messages:getConversationMessages",
                {
                    "conversationId": self.conversation_id,
                    "paginationOpts": {"numItems": PAGE, "cursor": self.cursor},
                },
            )
            found.extend(page["page"])
            self.cursor = page.get("continueCursor") or self.cursor
            if page.get("isDone", True) or not page["page"]:
                return list(found)


@dataclass
class Interrupt:
    """Ctrl-C presses while a round runs: the first stops the round, a second stops
    waiting for the server to confirm."""

    presses: int = 0
    woken: asyncio.Event = field(default_factory=asyncio.Event)

    def press(self) -> None:
        self.presses += 1
        self.woken.set()


@dataclass
class Round:
    """What to follow: `stop_id` is what `messages:stop` is given (the user's message, or
    the answer being regenerated); `expected` the answers the message asked for, when
    known; `watch` answers already written to follow first (a regenerated one)."""

    stop_id: str
    expected: int | None = None
    watch: list[Message] = field(default_factory=list)
    skip: set[str] = field(default_factory=set)  # our own message, already on screen


async def follow(
    remote: Remote, tail: Tail, round_: Round, interrupt: Interrupt
) -> AsyncIterator[Event]:
    """The round's events until its last answer ends, or it is stopped and confirmed."""
    queue: deque[Message] = deque(round_.watch)
    seen = {m["_id"] for m in round_.watch} | round_.skip
    answers = len(queue)
    ended_all_at: float | None = None
    start = time.monotonic()
    next_list = 0.0
    stop_sent_at: float | None = None
    current: Message | None = None
    shown = 0
    system_note = False
    while True:
        now = time.monotonic()
        if interrupt.presses and stop_sent_at is None:
            stop_sent_at = now
            await remote.mutation("messages:stop", {"messageId": round_.stop_id})
        if interrupt.presses > 1:
            yield GaveUp("stopped waiting; the answer may still end on the server")
            return
        if now >= next_list:
            next_list = now + LIST_POLL_S
            for message in await tail.read():
                if message["_id"] in seen:
                    continue
                seen.add(message["_id"])
                if message.get("sender") == "advisor":
                    queue.append(message)
                    answers += 1
                else:
                    system_note = system_note or message.get("sender") == "system"
                    yield Posted(message)
        if current is None and queue:
            current, shown, ended_all_at = queue.popleft(), 0, None
            yield Started(current)
        if current is not None:
            state: Message = current
            if current.get("status", "complete") == "streaming":
                state = await remote.query(
                    "messages:getStreamingText", {"messageId": current["_id"]}
                )
            text = str(state.get("content") or "")
            if len(text) > shown:
                yield Delta(current["_id"], current.get("advisorId"), text[shown:])
                shown = len(text)
            if state.get("status", "complete") != "streaming":
                yield Ended(current["_id"], state)
                current, ended_all_at = None, time.monotonic()
                continue
        elif not queue:
            quiet = time.monotonic() - (ended_all_at or start)
            if stop_sent_at is not None or system_note:
                if answers == 0 or ended_all_at is not None:
                    return  # nothing left streaming once the list was read after the end
            elif round_.expected is not None and answers >= round_.expected:
                return
            elif answers and quiet > QUIET_S:
                return
        if stop_sent_at is not None and time.monotonic() - stop_sent_at > STOP_WAIT_S:
            yield GaveUp("the server has not confirmed the stop yet")
            return
        if not answers and time.monotonic() - start > FIRST_ANSWER_S:
            yield GaveUp("no answer has started yet; it will show when you open this conversation")
            return
        interrupt.woken.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(interrupt.woken.wait(), TEXT_POLL_S)
