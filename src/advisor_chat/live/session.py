"""One client's live state over the sync protocol: its query set, its identity, and the
version of both the client holds, moved forward by Transitions.

Versions. The client numbers its query sets and identities; each ModifyQuerySet and
Authenticate names the version it builds on (`baseVersion`), and one out of order is a
protocol error. A Transition goes from the version the client holds (`start`, exactly the
last one sent) to `end`: the query set and identity its results were computed for, and the
timestamp of the snapshot they come from.

Rounds. Whatever asks for new results (queries added, a commit that touched what a query
read, a new identity, a mutation's answer) marks queries dirty and wakes the round loop.
A round takes the dirty queries, runs them in one snapshot (`Runner.run_queries`) and sends
one Transition with the results that changed since last sent; commits that land while it
runs mark queries dirty for the next round, which coalesces them. A query that fails keeps
its read set, so it is re-run when the data appears.

Read-your-writes: a mutation's MutationResponse carries its commit's ts, and the client
holds the mutation's promise until a Transition reaches that ts. So every response owes a
Transition, sent by a round that starts after the commit (its snapshot reflects it), even
when no result changed (a failed one too: the Rust client waits for it).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, assert_never

import orjson

from advisor_chat.api.sync.protocol import (
    Action,
    ActionResponse,
    AddQuery,
    Authenticate,
    AuthError,
    ClientMessage,
    Connect,
    Event,
    ModifyQuerySet,
    Mutation,
    MutationResponse,
    ProtocolError,
    QueryFailed,
    QueryRemoved,
    QueryUpdated,
    RemoveQuery,
    ServerMessage,
    Transition,
    Version,
    encode_modification,
)
from advisor_chat.auth.tokens import LEEWAY_S
from advisor_chat.errors import FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.receipts import receipt_key
from advisor_chat.functions.runner import Runner
from advisor_chat.live.subscriptions import Subscriptions, affects
from advisor_chat.log import get_logger
from advisor_chat.store.commits import Commit

log = get_logger(__name__)

Verify = Callable[[str], Awaitable[Identity]]
Send = Callable[[ServerMessage], None]
Expired = Callable[[AuthError], Awaitable[None]]
Identified = Callable[[Identity | None], None]  # told each identity the session takes on


@dataclass(frozen=True)
class SessionLimits:
    max_queries: int  # subscribed queries at once
    max_pending: int  # mutations waiting or running, plus actions running


class AuthRefused(Exception):
    """An Authenticate the server refuses: the client is told by `answer`, and the session
    ends (the client reconnects and authenticates afresh)."""

    def __init__(self, answer: AuthError) -> None:
        super().__init__(answer.error)
        self.answer = answer


@dataclass(eq=False)
class _Query:
    path: str
    args: Any
    journal: str | None = None  # from its last run (or the client's Add): its page's end
    sent: bytes | None = None  # digest of the last result sent


class Session:
    def __init__(
        self,
        runner: Runner,
        verify: Verify,
        subscriptions: Subscriptions,
        send: Send,
        limits: SessionLimits,
        tasks: asyncio.TaskGroup,
        identified: Identified | None = None,
        expired: Expired | None = None,
    ) -> None:
        self._runner = runner
        self._identified = identified  # presence (live/presence.py)
        self._expired = expired  # ends the connection once its AuthError is written
        self._verify = verify
        self._subscriptions = subscriptions
        self._send = send
        self._limits = limits
        self._tasks = tasks
        self._queries: dict[int, _Query] = {}
        self._query_set = 0
        self._identity_version = 0
        self._identity: Identity | None = None
        self._sent = Version(0, 0, 0)
        self._dirty: set[int] = set()
        self._removed: set[int] = set()
        self._rerun_all = False
        self._owed = False  # a MutationResponse went out: a Transition must follow it
        self._meanwhile: list[Commit] = []  # commits during a round
        self._wake = asyncio.Event()
        self._mutations: asyncio.Queue[tuple[Mutation, Identity | None]] = asyncio.Queue()
        self._pending = asyncio.Semaphore(limits.max_pending)
        self._clock_skew: float | None = None
        self._session_id: str | None = None
        self._expiry: asyncio.Task[None] | None = None

    # --- the client's messages ----------------------------------------------------------

    def start(self) -> None:
        self._tasks.create_task(self._rounds())
        self._tasks.create_task(self._run_mutations())

    def close(self) -> None:
        self._subscriptions.drop(self)

    async def handle(self, message: ClientMessage) -> None:
        """Apply one message, in the order the client sent them. Raises `ProtocolError`
        or `AuthRefused`: the session must end."""
        match message:
            case Connect():
                self._session_id = message.session_id  # names its mutations' receipts
                if message.client_ts is not None:
                    self._clock_skew = time.time() * 1000 - message.client_ts
            case ModifyQuerySet():
                self._modify(message)
            case Authenticate():
                await self._authenticate(message)
            case Mutation():
                await self._pending.acquire()  # past the bound, stop reading the client
                self._mutations.put_nowait((message, self._identity))
            case Action():
                await self._pending.acquire()
                self._tasks.create_task(self._run_action(message, self._identity))
            case Event():
                log.debug("sync_event", event_type=message.event_type)
            case _:
                assert_never(message)

    def _modify(self, message: ModifyQuerySet) -> None:
        if message.base_version != self._query_set:
            raise ProtocolError(
                f"query set version {message.base_version} is out of order: "
                f"the session is at {self._query_set}"
            )
        if message.new_version <= message.base_version:
            raise ProtocolError("a query set's new version must follow its base version")
        for change in message.modifications:
            match change:
                case AddQuery(query_id, path, args, journal):
                    if query_id in self._queries:
                        raise ProtocolError(f"query {query_id} is already subscribed")
                    if len(self._queries) >= self._limits.max_queries:
                        raise ProtocolError(
                            f"TooManySubscriptions: at most {self._limits.max_queries} "
                            "queries per session"
                        )
                    self._queries[query_id] = _Query(path, args, journal)
                    self._dirty.add(query_id)
                    self._removed.discard(query_id)
                case RemoveQuery(query_id):
                    if self._queries.pop(query_id, None) is None:
                        raise ProtocolError(f"query {query_id} is not subscribed")
                    self._subscriptions.forget(self, query_id)
                    self._dirty.discard(query_id)
                    self._removed.add(query_id)
                case _:
                    assert_never(change)
        self._query_set = message.new_version
        self._wake.set()

    async def _authenticate(self, message: Authenticate) -> None:
        base = message.base_version
        if base != self._identity_version:
            raise ProtocolError(
                f"identity version {base} is out of order: "
                f"the session is at {self._identity_version}"
            )
        identity: Identity | None = None
        if message.token_type == "Admin":
            raise AuthRefused(AuthError("admin keys are not accepted here", base, True))
        if message.token_type == "User":
            assert message.value is not None
            try:
                identity = await self._verify(message.value)
                await self._runner.require_signed_in(identity)
            except FunctionError as error:
                raise AuthRefused(AuthError(error.message, base, True)) from error
        self._identity = identity
        self._identity_version = base + 1
        self._watch_expiry(identity)
        if self._identified is not None:
            self._identified(identity)
        self._rerun_all = True
        self._wake.set()

    def _watch_expiry(self, identity: Identity | None) -> None:
        """End the session when its token expires (with the verifier's leeway): the client
        is told with an AuthError it did not ask for (`authUpdateAttempted: false`), on
        which it fetches a fresh token and reconnects, as it does with Convex. Nothing is
        served past a token's life, whether the client refreshes on time or not."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if identity is not None and identity.expires_at is not None:
            left = identity.expires_at + LEEWAY_S - time.time()
            self._expiry = self._tasks.create_task(self._expire(left, self._identity_version))

    async def _expire(self, left: float, version: int) -> None:
        await asyncio.sleep(max(left, 0.0))
        if version != self._identity_version:
            return
        answer = AuthError("the token has expired: authenticate again", version - 1, False)
        if self._expired is None:
            self._send(answer)
        else:
            await self._expired(answer)

    # --- mutations and actions ----------------------------------------------------------

    async def _run_mutations(self) -> None:
        """One at a time, in the order sent, as Convex runs a client's mutations."""
        while True:
            message, identity = await self._mutations.get()
            try:
                receipt = None
                if self._session_id is not None:
                    receipt = receipt_key(identity, self._session_id, message.request_id)
                result = await self._runner.call(
                    message.udf_path, message.args, identity, "mutation", receipt=receipt
                )
            except FunctionError as error:
                self._send(MutationResponse(message.request_id, None, error, 0))
            else:
                self._send(MutationResponse(message.request_id, result.value, None, result.ts))
            finally:
                self._pending.release()
            # A Transition follows every answer, failures too: the Rust client (under the
            # PyPI `convex`) resolves a mutation that failed with errorData only then.
            self._owed = True
            self._wake.set()

    async def _run_action(self, message: Action, identity: Identity | None) -> None:
        try:
            result = await self._runner.call(message.udf_path, message.args, identity, "action")
        except FunctionError as error:
            self._send(ActionResponse(message.request_id, None, error))
        else:
            self._send(ActionResponse(message.request_id, result.value, None))
        finally:
            self._pending.release()

    # --- rounds ---------------------------------------------------------------------------

    def committed(self, commit: Commit, affected: set[int]) -> None:
        """From `Subscriptions`, synchronously, for each commit that touched a query of
        ours, and for every commit while a round runs."""
        self._meanwhile.append(commit)
        if affected:
            self._dirty |= affected
            self._wake.set()

    async def _rounds(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._round()

    async def _round(self) -> None:
        query_set, identity_version, identity = (
            self._query_set,
            self._identity_version,
            self._identity,
        )
        ids = set(self._queries) if self._rerun_all else self._dirty & self._queries.keys()
        self._rerun_all = False
        self._dirty = set()
        removed, self._removed = self._removed, set()
        owed, self._owed = self._owed, False
        moved = (query_set, identity_version) != (self._sent.query_set, self._sent.identity)
        if not (ids or removed or owed or moved):
            return
        order = sorted(ids)
        running = {qid: self._queries[qid] for qid in order}
        self._meanwhile = []
        self._subscriptions.follow(self, True)
        try:
            snapshot = await self._subscriptions.run(
                self._runner,
                [(running[qid].path, running[qid].args) for qid in order],
                identity,
                [running[qid].journal for qid in order],
            )
        finally:
            self._subscriptions.follow(self, False)
        later = [commit for commit in self._meanwhile if commit.ts > snapshot.ts]
        self._meanwhile = []

        changes: list[QueryUpdated | QueryFailed | QueryRemoved] = [
            QueryRemoved(qid) for qid in sorted(removed)
        ]
        for qid, run in zip(order, snapshot.runs, strict=True):
            query = running[qid]
            if self._queries.get(qid) is not query:
                continue  # removed while it ran: the next Transition says so
            self._subscriptions.watch(self, qid, run.reads)
            if any(affects(run.reads, commit) for commit in later):
                self._dirty.add(qid)  # a commit it may not have seen: again, next round
                self._wake.set()
            query.journal = run.journal or query.journal  # a page keeps the end it answered
            change: QueryUpdated | QueryFailed = (
                QueryUpdated(qid, run.value, query.journal)
                if run.error is None
                else QueryFailed(qid, run.error, query.journal)
            )
            digest = hashlib.blake2b(
                orjson.dumps(encode_modification(change)), digest_size=16
            ).digest()
            if digest != query.sent:
                query.sent = digest
                changes.append(change)
        if not (changes or owed or moved):
            return  # nothing the client would see
        end = Version(query_set, identity_version, max(self._sent.ts, snapshot.ts))
        self._send(Transition(self._sent, end, tuple(changes), time.time_ns(), self._clock_skew))
        self._sent = end
