"""The chat engine in the bench's process, as the server runs it: a store, the runner with
an OpenAI-compatible provider, the scheduled worker running rounds; and what the bench reads
off it: every chunk's commit announcement (`Deliveries`) and the bytes of every document
written (`CountingBackend`).

"Delivered to a client" is the in-process commit announcement of a `streamDeltas` row
(`store.commits`): there is no WebSocket live layer yet, and that announcement is the
moment one would learn of the chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock

import orjson

from advisor_chat.ai.models import Models
from advisor_chat.ai.providers.openai_compatible import OpenAICompatible
from advisor_chat.ai.streaming import DeltaWriter
from advisor_chat.clock import now_ms
from advisor_chat.functions import chat as chat_functions
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.plans import DEFAULT_LIMITS, PlanLimits
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.importers.marketplace import load_shipped
from advisor_chat.schema.derive import all_layouts
from advisor_chat.store import UNSET, Commit, Document, Store, Transaction
from advisor_chat.store.backend import Backend, Catalog, Connection, Row
from advisor_chat.store.sql import table_statements

ANSWER_MODEL = "gpt-4o-mini"  # answers: the users' plan model (exact OpenAI token counts)
CHORES_MODEL = "gpt-4o-mini-2024-07-18"  # the fallback: titles and memories, echoed
ANSWER_TOKENS = 2_048  # the engine asks for at most 512; the bench's answers are 1,000
ISSUER = "https://issuer.bench"
UNLIMITED = {plan: PlanLimits(10**9, 10**9) for plan in DEFAULT_LIMITS}  # not about quotas
SETTLE_S = 60.0  # past an answer's own length: a round that has not ended by then is broken
TAG = re.compile(r"#q(\d+)\b")  # a question's number, found again in the provider's request


class BenchError(RuntimeError):
    """The engine did not do what the bench asked (an answer missing, wrong, too late)."""


# --- what the bench reads off the engine -------------------------------------------------


@dataclass
class Written:
    """Bytes of documents written for one answer (JSON as stored), and how many writes."""

    deltas: int = 0
    delta_rows: int = 0
    message: int = 0
    message_writes: int = 0


class _CountingConnection(Connection):
    """One transaction's statements, noting the documents it writes: they count once it
    commits (a rolled-back attempt, retried after a conflict, writes no document)."""

    __slots__ = ("_counting", "_inner", "noted")

    def __init__(self, inner: Connection, counting: CountingBackend) -> None:
        self._inner = inner
        self._counting = counting
        self.noted: list[tuple[str, str, int]] = []  # (table, answer id, bytes)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[Row]:
        return await self._inner.fetch(sql, params)

    async def execute(self, sql: str, params: Sequence[Any]) -> None:
        if (noted := self._counting.note(sql, params)) is not None:
            self.noted.append(noted)
        await self._inner.execute(sql, params)

    async def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._inner.execute_many(sql, rows)


class CountingBackend(Backend):
    """Another backend, counting the bytes of each answer's documents its transactions
    commit: the JSON of the `doc` column of each insert and update (the store writes a
    whole document per patch) of `streamDeltas` rows and of the answer's message. Index
    columns, index entries, the search index and the database's pages are not counted
    here (the WAL figure holds them)."""

    WATCHED = ("messages", "streamDeltas")

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.dialect = inner.dialect
        self.by_answer: defaultdict[str, Written] = defaultdict(Written)
        # statement -> (table, position of the document's JSON, position of its id)
        self._watched: dict[str, tuple[str, int, int]] = {}
        for layout in all_layouts():
            if layout.name in self.WATCHED:
                statements = table_statements(self.dialect, layout)
                self._watched[statements.insert] = (layout.name, 2, 0)
                self._watched[statements.update] = (layout.name, 0, -1)

    def note(self, sql: str, params: Sequence[Any]) -> tuple[str, str, int] | None:
        watched = self._watched.get(sql)
        if watched is None:
            return None
        table, at, id_at = watched
        payload = params[at]
        size = len(payload.encode() if isinstance(payload, str) else payload)
        if table == "streamDeltas":
            return table, str(orjson.loads(payload)["messageId"]), size
        return table, str(params[id_at]), size

    def _committed(self, noted: list[tuple[str, str, int]]) -> None:
        for table, answer, size in noted:
            written = self.by_answer[answer]
            if table == "streamDeltas":
                written.deltas += size
                written.delta_rows += 1
            else:
                written.message += size
                written.message_writes += 1

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    def read(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        return self.inner.read()

    @contextlib.asynccontextmanager
    async def write(
        self, on_commit: Callable[[], None], key: str | None = None
    ) -> AsyncIterator[Connection]:
        counted: list[_CountingConnection] = []

        def committed() -> None:
            self._committed(counted[0].noted)
            on_commit()

        async with self.inner.write(committed, key) as conn:
            counted.append(_CountingConnection(conn, self))
            yield counted[0]

    async def catalog(self, conn: Connection) -> Catalog:
        return await self.inner.catalog(conn)

    def doorbell(self) -> AsyncIterator[None]:
        return self.inner.doorbell()

    async def maintain(self, sql: str, params: Sequence[Any]) -> None:
        await self.inner.maintain(sql, params)


@dataclass(frozen=True)
class Chunk:
    announced: float  # perf_counter when the commit was announced in-process
    start: int  # character offset of the chunk in its answer


class Deliveries:
    """A commit listener: when each `streamDeltas` row of each answer was announced, when
    each message was inserted and each scheduled call claimed (`inProgress`), and an event
    set whenever a scheduled call changed (to wait for rounds to end)."""

    def __init__(self) -> None:
        self.chunks: defaultdict[str, list[Chunk]] = defaultdict(list)  # answer id -> chunks
        self.inserted: dict[str, float] = {}  # message id -> announced
        self.claimed: dict[str, float] = {}  # scheduled call id -> announced
        self.scheduled = asyncio.Event()

    def __call__(self, commit: Commit) -> None:
        now = time.perf_counter()
        for write in commit.writes:
            if write.old_keys is None and write.new_keys:
                if write.table == "streamDeltas":
                    answer, start = write.new_keys["by_message_start"][0][:2]
                    self.chunks[str(answer)].append(Chunk(now, int(start)))
                elif write.table == "messages":
                    self.inserted[write.id] = now
            if write.table == "scheduledFunctions":
                self.scheduled.set()
                state = (write.new_keys or {}).get("by_state_time", [("",)])[0][0]
                if state == "inProgress":
                    self.claimed.setdefault(write.id, now)


# --- the engine --------------------------------------------------------------------------


@dataclass(frozen=True)
class Seat:
    """A signed-in user with one conversation, whose board is one advisor."""

    who: Identity
    conversation: str


@dataclass(frozen=True)
class Asked:
    """One question sent, timed on perf_counter."""

    number: int  # the `#qN` tag in its text
    seat: Seat
    message: str
    called: float
    returned: float


@dataclass
class Engine:
    store: Store
    runner: Runner
    counting: CountingBackend
    deliveries: Deliveries
    advisor: str
    seats: list[Seat]
    asked: int = 0

    async def conversation(self, seat: Seat, history: int = 0) -> Seat:
        """A new conversation of the seat's user with the advisor, holding `history`
        earlier messages (questions and complete answers, written directly)."""
        args = {"advisorIds": [self.advisor]}
        created = await self.runner.call("conversations:createConversation", args, seat.who)
        conversation = str(created.value)

        async def fill(tx: Transaction) -> None:
            base = now_ms() - history
            for n in range(history):
                by_advisor = {"sender": "advisor", "advisorId": self.advisor} if n % 2 else {}
                fields = {
                    "conversationId": conversation,
                    "sender": "user",
                    "content": f"Earlier message {n}: " + "what about the runway? " * 12,
                    "mentions": [],
                    "createdAt": base + n,
                    "status": "complete",
                }
                await tx.insert("messages", fields | by_advisor)

        if history:
            await self.store.mutation(fill)
        return Seat(seat.who, conversation)

    async def ask(self, seat: Seat) -> Asked:
        """`messages:sendMessage` as the seat's user: its advisor answers."""
        self.asked += 1
        number = self.asked
        args = {
            "conversationId": seat.conversation,
            "content": f"#q{number} How long is our runway if we hire two engineers in March?",
        }
        called = time.perf_counter()
        message = (await self.runner.call("messages:sendMessage", args, seat.who)).value
        return Asked(number, seat, str(message), called, time.perf_counter())

    async def settled(self, within: float) -> None:
        """Until no scheduled call is pending or running: every round asked for has ended,
        and the chores after it too. Looked at again whenever a call changes."""
        deadline = time.monotonic() + within
        while await self._busy():
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"rounds still running after {within:g} s")
            self.deliveries.scheduled.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 0.5)):
                    await self.deliveries.scheduled.wait()

    async def _busy(self) -> bool:
        async def read(tx: Transaction) -> bool:
            for state in ("pending", "inProgress"):
                if await tx.query("scheduledFunctions", "by_state_time").eq("state", state).first():
                    return True
            return False

        return (await self.store.query(read)).value

    async def answer_to(self, asked: Asked) -> Document:
        """The advisor's message answering `asked`."""

        async def read(tx: Transaction) -> Document | None:
            question = await tx.get("messages", asked.message)
            if question is None or not question.get("roundId"):
                return None
            after = (
                tx.query("messages", "by_conversation_created")
                .eq("conversationId", asked.seat.conversation)
                .gte("createdAt", question["createdAt"])
            )
            for message in await after.take(50):
                if message["sender"] == "advisor" and message.get("roundId") == question["roundId"]:
                    return message
            return None

        found = (await self.store.query(read)).value
        if found is None:
            raise BenchError(f"question #q{asked.number} has no answer")
        return found


@contextlib.contextmanager
def delta_interval(seconds: float) -> Iterator[None]:
    """The engine's chunk interval (`ai.streaming.INTERVAL_S`, 100 ms) set to `seconds`
    for the block, in this process only: the round's writers are made with it."""
    writer = functools.partial(DeltaWriter, interval_s=seconds)
    with mock.patch.object(chat_functions, "DeltaWriter", writer):
        yield


@contextlib.asynccontextmanager
async def engine(backend: Backend, base_url: str, seats: int) -> AsyncIterator[Engine]:
    """The engine on a new database behind `backend`, with `seats` users, each with one
    conversation and one shipped advisor (a full persona, as a real board has), the
    worker running rounds until the block ends."""
    counting = CountingBackend(backend)
    models = Models(
        OpenAICompatible(base_url, None, timeout_s=30),
        global_model=CHORES_MODEL,
        plan_models={"free": ANSWER_MODEL},
    )
    async with Store(counting) as store:
        await store.migrate()
        await load_shipped(store)
        runner = Runner(store, build_registry(), limits=UNLIMITED, models=models)
        advisor = await _advisor(store)
        found = []
        for n in range(seats):
            who = Identity(f"bench-chat-{n}", ISSUER, name=f"Founder {n}")
            await runner.call("users:store", {}, who)
            args = {"advisorIds": [advisor]}
            conversation = (await runner.call("conversations:createConversation", args, who)).value
            found.append(Seat(who, str(conversation)))
        deliveries = Deliveries()
        stop_listening = store.commits.listen(deliveries)
        worker = asyncio.create_task(ScheduledWorker(store, runner).run_forever())
        try:
            with mock.patch.object(chat_functions, "ANSWER_TOKENS", ANSWER_TOKENS):
                yield Engine(store, runner, counting, deliveries, advisor, found)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            stop_listening()
            await models.aclose()


async def _advisor(store: Store) -> str:
    """A shipped advisor with its model hint taken off, so the plan's model answers."""

    async def first(tx: Transaction) -> str:
        advisor = await tx.query("advisors").first()
        if advisor is None:
            raise BenchError("the shipped marketplace holds no advisor")
        await tx.patch("advisors", advisor["_id"], {"modelHint": UNSET})
        return str(advisor["_id"])

    return (await store.mutation(first)).value
