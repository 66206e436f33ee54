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

TEXT_POLL_S = 0.12  # the server writes an answer's text in ~200 ms chunks: each shows promptly
LIST_POLL_S = 0.3  # new answers of the round (the next starts once the last has ended)
PAGE = 200  # the server's largest page
QUIET_S = 3.0  # when the number of answers is not known: this long with none new ends it
STALL_S = 60.0  # an expected answer not begun this long after the last (or the question)
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
    """The current answer ended: `message` as it started, `state` how it ended (status,
    content, error, errorCode, model, notice)."""

    message: Message
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

    async def nap(self, seconds: float) -> None:
        """Sleep between polls, woken at once by a press."""
        self.woken.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.woken.wait(), seconds)


@dataclass
class Round:
    """What to follow. `stop_id`: what `messages:stop` is given (the user's message, or
    the answer being regenerated); `expected`: how many answers the round has, when known
    (else it ends after QUIET_S without a new one); `watch`: answers already written, to
    follow first; `skip`: messages already on screen (the one just sent)."""

    stop_id: str
    expected: int | None = None
    watch: list[Message] = field(default_factory=list)
    skip: set[str] = field(default_factory=set)


class _Progress:
    """Where following a round has got to."""

    def __init__(self, round_: Round) -> None:
        self.round = round_
        self.queue: deque[Message] = deque(round_.watch)
        self.seen = {m["_id"] for m in round_.watch} | round_.skip
        self.answers = len(self.queue)  # seen so far, ended or not
        self.ended = 0
        self.current: Message | None = None
        self.shown = 0  # characters of the current answer printed
        self.last_change = time.monotonic()  # an answer arrived or ended
        self.stopped_at: float | None = None
        self.listed_after_stop = False
        self.system_note = False

    def arrived(self, message: Message) -> Event | None:
        if message["_id"] in self.seen:
            return None
        self.seen.add(message["_id"])
        self.last_change = time.monotonic()
        if message.get("sender") == "advisor":
            self.queue.append(message)
            self.answers += 1
            return None
        self.system_note = self.system_note or message.get("sender") == "system"
        return Posted(message)

    def begin(self) -> Started:
        self.current, self.shown = self.queue.popleft(), 0
        return Started(self.current)

    def progress(self, current: Message, state: Message) -> list[Event]:
        events: list[Event] = []
        text = str(state.get("content") or "")
        if len(text) > self.shown:
            events.append(Delta(current["_id"], current.get("advisorId"), text[self.shown :]))
            self.shown = len(text)
        if state.get("status", "complete") != "streaming":
            events.append(Ended(current, state))
            self.current, self.ended, self.last_change = None, self.ended + 1, time.monotonic()
        return events

    def over(self) -> bool:
        """Nothing streaming or queued, and no more to come."""
        if self.current is not None or self.queue:
            return False
        if self.listed_after_stop or self.system_note:
            return True
        if self.round.expected is not None:
            return self.ended >= self.round.expected
        return self.answers > 0 and time.monotonic() - self.last_change > QUIET_S

    def gave_up(self) -> str | None:
        now = time.monotonic()
        if self.stopped_at is not None and now - self.stopped_at > STOP_WAIT_S:
            return "the server has not confirmed the stop yet"
        if self.current is None and not self.queue and now - self.last_change > STALL_S:
            return "no answer has started yet; it will show when you open this conversation"
        return None


async def _state(remote: Remote, message: Message) -> Message:
    """An answer's text so far and status; one already finished needs no call."""
    if message.get("status", "complete") != "streaming":
        return message
    state: Message = await remote.query("messages:getStreamingText", {"messageId": message["_id"]})
    return state


async def follow(
    remote: Remote, tail: Tail, round_: Round, interrupt: Interrupt
) -> AsyncIterator[Event]:
    """The round's events until its last answer ends, or it is stopped and confirmed."""
    progress = _Progress(round_)
    next_list = 0.0
    while True:
        if interrupt.presses > 1:
            yield GaveUp("stopped waiting; the server may still be ending the answer")
            return
        if interrupt.presses and progress.stopped_at is None:
            progress.stopped_at = time.monotonic()
            await remote.mutation("messages:stop", {"messageId": round_.stop_id})
            next_list = 0.0  # what was written before the stop: read it, then nothing more
        if time.monotonic() >= next_list:
            stopped = progress.stopped_at is not None
            for message in await tail.read():
                if event := progress.arrived(message):
                    yield event
            progress.listed_after_stop = stopped
            next_list = time.monotonic() + LIST_POLL_S
        if progress.current is None and progress.queue:
            yield progress.begin()
        if (current := progress.current) is not None:
            events = progress.progress(current, await _state(remote, current))
            for event in events:
                yield event
            if events and isinstance(events[-1], Ended):
                continue  # the next answer, if already there, at once
        elif progress.over():
            return
        if reason := progress.gave_up():
            yield GaveUp(reason)
            return
        await interrupt.nap(TEXT_POLL_S)
