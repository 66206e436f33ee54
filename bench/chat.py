"""`python -m bench.chat [--backends sqlite,postgres] [--postgres-url URL] [--quick]`: the
chat engine against its targets, each figure beside a baseline measured in the same run.

The provider is the tests' scripted OpenAI-compatible server in a process of its own
(bench/provider.py), recording when its request arrived and when it sent each token; the
engine runs in this process (bench/chat_engine.py) as the server runs it, and every chunk
it commits is timed at its in-process commit announcement. There is no WebSocket live
layer yet: that announcement is "delivered to a client" here. The baseline is a bare
`openai` SDK client streaming from the same provider, at the same concurrency.

1. Time to first token added by the server, 1 and 20 concurrent streams (targets <= 10 and
   <= 50 ms), in a new conversation and in one of 200 messages: from `messages:sendMessage`
   returning to the provider having the request, plus from the provider sending its first
   token to that token's chunk announced, split by step; beside a bare SDK client's time
   to first token for the very prompts the engine sent.
2. Server overhead per streamed token, provider sent -> its chunk announced, p50/p99, 1 and
   20 streams (targets p99 <= 1 and <= 5 ms), with the engine's 100 ms chunk interval and
   with none (the interval set to 0 in this process only); also for the first token of
   each chunk, the rest, and the last; beside the bare client's own sent -> received.
3. Tokens per second delivered with 20 streams at 50 tokens/s each (target >= 990 of
   1,000 offered), in the window where all 20 stream, and every answer exactly the text
   sent.
4. Bytes of documents written per 1,000-token answer (its chunks and its message, JSON as
   stored) against its text's UTF-8 bytes (target < 2x); SQLite's WAL growth for the
   whole round (PostgreSQL's WAL bytes).
5. `messages:sendMessage` over HTTP per second (bench/chat_http.py), SQLite.

Answers are 1,000 tokens (`--quick`: 200) although the engine asks a provider for at most
512: the bench raises that cap in its own process. Figures are printed and written to
bench/results/chat.json; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import dataclasses
import datetime
import itertools
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from openai import AsyncOpenAI
from rich.console import Console

from advisor_chat.store.backend import Backend
from advisor_chat.store.postgres import PostgresBackend
from advisor_chat.store.sqlite import SqliteBackend
from bench import servers
from bench.chat_engine import (
    ANSWER_MODEL,
    SETTLE_S,
    TAG,
    Asked,
    BenchError,
    Engine,
    delta_interval,
    engine,
)
from bench.chat_http import run_http
from bench.chat_report import (
    STREAMS,
    AnswerBytes,
    BackendFigures,
    Baseline,
    FirstTokens,
    PerToken,
    SdkStreaming,
    Streaming,
    as_json,
    http_json,
    print_engine,
    print_http,
    print_notes,
)
from bench.loop_lag import Spread
from bench.provider import Answer, ProviderGone, RemoteProvider
from bench.wal import PostgresWal, SqliteWal, Wal, WalError

RESULTS = Path(__file__).parent / "results"  # gitignored
URL_ENV = "ADVISOR_CHAT_BENCH_DATABASE_URL"
TOKEN_DELAY_S = 0.02  # 50 tokens a second per stream, a fast hosted model's pace
INTERVALS_S = (0.1, 0.0)  # the engine's chunk interval, and none
SHORT = 5  # tokens of the answers only their first token is timed on
HISTORIES = (0, 200)  # earlier messages in the conversation: a new one, a long one
WORDS = (
    *("runway", "hire", "pricing", "churn", "cohort", "margin", "board", "quarter", "focus"),
    *("ship", "cash", "café", "naïve", "déjà", "vu", "€40k", "—", "18", "months", "plan"),
)


@dataclass(frozen=True)
class Sizes:
    ttft_trials: int  # one stream: questions asked one after another
    ttft_rounds: int  # STREAMS questions at once, this many times
    tokens: int  # a streamed answer's length
    sdk_tokens: int  # the bare client's streams (its per-token baseline)
    joining: int  # questions asked one at a time while STREAMS answers stream
    http_clients: int
    http_seconds: float


DEFAULT = Sizes(30, 5, 1_000, 250, 15, 16, 5.0)
QUICK = Sizes(8, 2, 200, 100, 3, 8, 2.0)


def answer_tokens(count: int) -> list[str]:
    """Word-ish tokens as a model streams them (a word with the space before it), with
    sentence ends, paragraph breaks and non-ASCII words, so characters and bytes differ."""
    rng = random.Random(count)
    tokens = []
    for i in range(count):
        word = rng.choice(WORDS) + ("." if i % 17 == 16 else "")
        tokens.append(word if i == 0 else ("\n\n" if i % 120 == 0 else " ") + word)
    return tokens


def _spread(seconds: Iterable[float]) -> Spread:
    return Spread.of(list(seconds))


def _numbered(answers: list[Answer]) -> dict[int, Answer]:
    found = {}
    for answer in answers:
        if answer.model == ANSWER_MODEL and (match := TAG.search(answer.question)):
            found[int(match.group(1))] = answer
    return found


def _window(answers: list[Answer]) -> tuple[float, float]:
    """From the last stream's first token to the first stream's last: all are sending."""
    return max(a.sent[0] for a in answers), min(a.sent[-1] for a in answers)


def _rate(times: Iterable[float], window: tuple[float, float]) -> float:
    start, end = window
    return sum(1 for t in times if start <= t <= end) / (end - start) if end > start else 0.0


# --- the baseline: a bare SDK client -------------------------------------------------------


class Sdk:
    """Bare `openai` SDK streams from the provider, numbered apart from the engine's."""

    def __init__(self, provider: RemoteProvider) -> None:
        self.provider = provider
        self.client = AsyncOpenAI(base_url=provider.base_url, api_key="none", max_retries=0)
        self.asked = 1_000_000

    async def stream(
        self, prompt: list[dict[str, Any]] | None = None
    ) -> tuple[int, float, list[float]]:
        """(number, asked at, each token received at). `prompt`: messages to send, the
        number put in place of the one in its last."""
        self.asked += 1
        number = self.asked
        messages: list[Any] = [{"role": "user", "content": f"#q{number} How long is our runway?"}]
        if prompt is not None:  # as the engine sent it
            last = {**prompt[-1], "content": TAG.sub(f"#q{number}", prompt[-1]["content"])}
            messages = [*prompt[:-1], last]
        asked = time.perf_counter()
        stream = await self.client.chat.completions.create(
            model=ANSWER_MODEL,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            timeout=SETTLE_S,
        )
        received = []
        async for chunk in stream:
            if any(choice.delta.content for choice in chunk.choices):
                received.append(time.perf_counter())
        return number, asked, received

    async def first_tokens(
        self, prompts: list[list[dict[str, Any]]], streams: int
    ) -> tuple[list[float], list[float]]:
        """(time to first token, the provider's own part) per prompt, sent `streams` at
        once."""
        since = time.perf_counter()
        self.provider.reply(
            answer_tokens(SHORT), token_delay_s=0, model=ANSWER_MODEL, times=len(prompts)
        )
        runs = []
        for at in range(0, len(prompts), streams):
            group = prompts[at : at + streams]
            runs += await asyncio.gather(*(self.stream(prompt) for prompt in group))
        answers = _numbered(self.provider.streamed(since))
        ttft = [received[0] - asked for _, asked, received in runs]
        own = [answers[n].sent[0] - answers[n].arrived for n, _, _ in runs]
        return ttft, own

    async def streaming(self, streams: int, tokens: int) -> SdkStreaming:
        since = time.perf_counter()
        self.provider.reply(
            answer_tokens(tokens), token_delay_s=TOKEN_DELAY_S, model=ANSWER_MODEL, times=streams
        )
        runs = await asyncio.gather(*(self.stream() for _ in range(streams)))
        answers = _numbered(self.provider.streamed(since))
        transport, gaps, received_all = [], [], []
        for number, _, received in runs:
            sent = answers[number].sent
            if len(received) != len(sent):
                raise BenchError(f"the bare client got {len(received)} of {len(sent)} tokens")
            transport += [r - s for r, s in zip(received, sent, strict=True)]
            gaps += [b - a for a, b in itertools.pairwise(sent)]
            received_all += received
        window = _window(list(answers.values()))
        sent_all = [t for a in answers.values() for t in a.sent]
        return SdkStreaming(
            streams,
            tokens,
            _spread(transport),
            _spread(gaps),
            _rate(sent_all, window),
            _rate(received_all, window),
        )

    async def aclose(self) -> None:
        await self.client.close()


async def baseline(
    provider: RemoteProvider, sizes: Sizes, progress: Callable[[str], None]
) -> Baseline:
    found = Baseline()
    sdk = Sdk(provider)
    try:
        short = [{"role": "user", "content": "#q0 How long is our runway?"}]
        await sdk.first_tokens([short] * 3, 1)  # warm: the connection, the SDK's lazy imports
        for streams in (1, STREAMS):
            progress(f"baseline: bare SDK client, {streams} x {sizes.sdk_tokens} tokens at 50/s")
            found.streaming.append(await sdk.streaming(streams, sizes.sdk_tokens))
    finally:
        await sdk.aclose()
    return found


# --- the engine ------------------------------------------------------------------------


async def first_tokens(
    chat: Engine, provider: RemoteProvider, streams: int, rounds: int, history: int
) -> FirstTokens:
    """`rounds` times, `streams` users ask at once, each in a conversation holding `history`
    earlier messages (a new conversation each time when 0)."""
    since = time.perf_counter()
    provider.reply(
        answer_tokens(SHORT), token_delay_s=0, model=ANSWER_MODEL, times=streams * rounds
    )
    long = [await chat.conversation(s, history) for s in chat.seats[:streams]] if history else []
    asked: list[Asked] = []
    for _ in range(rounds):
        seats = long or [await chat.conversation(s) for s in chat.seats[:streams]]
        asked += await asyncio.gather(*(chat.ask(seat) for seat in seats))
        await chat.settled(SETTLE_S)
    return await _first_token_figures(chat, provider, since, asked, streams, history, "at once")


async def _joining(chat: Engine, every_s: float, count: int) -> list[Asked]:
    """One user asks `count` times, `every_s` apart, each in a new conversation, while the
    streams of the bench's other users run."""
    asked = []
    seat = chat.seats[STREAMS]  # a user of its own
    for _ in range(count):
        await asyncio.sleep(every_s)
        asked.append(await chat.ask(await chat.conversation(seat)))
    return asked


async def _first_token_figures(
    chat: Engine,
    provider: RemoteProvider,
    since: float,
    asked: list[Asked],
    streams: int,
    history: int,
    mode: str,
) -> FirstTokens:
    """Figure 1 for questions asked (their rounds ended), and its baseline: a bare client
    sending the very prompts the engine sent, as many at once as were asked at once."""
    answers = _numbered(provider.streamed(since, prompts=True))
    parts: dict[str, list[float]] = defaultdict(list)
    prompts: list[list[dict[str, Any]]] = []
    for question in asked:
        answer = answers.get(question.number)
        if answer is None or answer.prompt is None:
            raise BenchError(f"the provider was never asked #q{question.number}")
        message = await chat.answer_to(question)
        first = min(chat.deliveries.chunks[message["_id"]], key=lambda c: c.start)
        claimed = chat.deliveries.claimed[message["roundId"]]
        begun = chat.deliveries.inserted[message["_id"]]
        parts["send"].append(question.returned - question.called)
        parts["before"].append(answer.arrived - question.returned)
        parts["queued"].append(claimed - question.returned)
        parts["begun"].append(begun - claimed)
        parts["prepared"].append(answer.arrived - begun)
        parts["own"].append(answer.sent[0] - answer.arrived)
        parts["commit"].append(first.announced - answer.sent[0])
        parts["total"].append(first.announced - question.returned)
        prompts.append(answer.prompt)
    added = [b + c for b, c in zip(parts["before"], parts["commit"], strict=True)]
    sdk = Sdk(provider)
    try:
        await sdk.first_tokens(prompts[:1], 1)  # warm
        sdk_ttft, sdk_own = await sdk.first_tokens(prompts, streams if mode == "at once" else 1)
    finally:
        await sdk.aclose()
    return FirstTokens(
        streams=streams,
        mode=mode,
        history=history,
        prompt_messages=int(statistics.median(len(p) for p in prompts)),
        send=_spread(parts["send"]),
        before_ask=_spread(parts["before"]),
        queued=_spread(parts["queued"]),
        begun=_spread(parts["begun"]),
        prepared=_spread(parts["prepared"]),
        provider=_spread(parts["own"]),
        to_commit=_spread(parts["commit"]),
        added=_spread(added),
        total=_spread(parts["total"]),
        sdk=_spread(sdk_ttft),
        sdk_provider=_spread(sdk_own),
    )


async def streaming(
    chat: Engine,
    provider: RemoteProvider,
    streams: int,
    tokens: int,
    interval_s: float,
    wal: Wal | None,
    joining: int = 0,
) -> tuple[Streaming, FirstTokens | None]:
    """`streams` users ask at once, each answered `tokens` long at 50 tokens/s; with
    `joining`, another user asks that many short questions meanwhile, one at a time."""
    text_tokens = answer_tokens(tokens)
    text = "".join(text_tokens)
    since = time.perf_counter()
    provider.reply(text_tokens, token_delay_s=TOKEN_DELAY_S, model=ANSWER_MODEL, times=streams)
    # Taken after the long answers: the joining questions come once the streams have begun.
    if joining:
        provider.reply(answer_tokens(SHORT), token_delay_s=0, model=ANSWER_MODEL, times=joining)
    if wal is not None:
        await wal.start()
    with delta_interval(interval_s):
        asked = await asyncio.gather(*(chat.ask(seat) for seat in chat.seats[:streams]))
        spacing = (tokens * TOKEN_DELAY_S - 1) / max(joining, 1)
        joined = await _joining(chat, spacing, joining)
        await chat.settled(tokens * TOKEN_DELAY_S + SETTLE_S)
    wal_bytes = await wal.stop() if wal is not None else None
    seconds = time.perf_counter() - since
    every = _numbered(provider.streamed(since))
    answers = {q.number: every[q.number] for q in asked if q.number in every}
    timed: dict[str, list[float]] = {k: [] for k in ("all", "first", "rest", "last")}
    announced_all: list[float] = []
    exact = 0
    statuses: Counter[str] = Counter()
    written = AnswerBytes(0, 0, 0, 0, 0)  # sums here, means below
    for question in asked:
        answer = answers.get(question.number)
        if answer is None:
            raise BenchError(f"the provider was never asked #q{question.number}")
        message = await chat.answer_to(question)
        whole = message["status"] == "complete" and message["content"] == text
        exact += whole
        statuses[message["status"]] += 1
        chunks = sorted(chat.deliveries.chunks[message["_id"]], key=lambda c: c.start)
        starts = [c.start for c in chunks]
        ends = [*starts[1:], len(text)]
        if not chunks or starts[0] != 0:
            raise BenchError(f"#q{question.number}: its chunks do not start at 0")
        offset = 0
        for token, sent in zip(answer.tokens, answer.sent, strict=True):
            begin, offset = offset, offset + len(token)
            k = bisect.bisect_left(ends, offset)  # the chunk holding the token's end
            if k == len(chunks) or starts[k] > begin:
                raise BenchError(f"#q{question.number}: a token in no chunk, or split")
            took = chunks[k].announced - sent
            timed["all"].append(took)
            timed["first" if begin == starts[k] else "rest"].append(took)
            if offset == ends[k]:
                timed["last"].append(took)
            announced_all.append(chunks[k].announced)
        if not whole:
            continue  # what it wrote is not a whole answer's
        counted = chat.counting.by_answer[message["_id"]]
        written.text += len(message["content"].encode())
        written.deltas += counted.deltas
        written.delta_rows += counted.delta_rows
        written.message += counted.message
        written.message_writes += counted.message_writes
    n = max(exact, 1)  # bytes are the mean of the whole answers
    window = _window(list(answers.values()))
    sent_all = [t for a in answers.values() for t in a.sent]
    streamed = Streaming(
        streams=streams,
        interval_ms=interval_s * 1000,
        tokens=tokens,
        per_token=PerToken(*(_spread(timed[k]) for k in ("all", "first", "rest", "last"))),
        exact=exact,
        ends=dict(statuses),
        window_s=window[1] - window[0],
        offered_per_s=_rate(sent_all, window),
        delivered_per_s=_rate(announced_all, window),
        bytes=AnswerBytes(
            written.text / n,
            written.deltas / n,
            written.delta_rows / n,
            written.message / n,
            written.message_writes / n,
        ),
        wal_bytes=wal_bytes,
        seconds=seconds,
    )
    if not joined:
        return streamed, None
    mode = f"joining {streams} streams"
    figures = _first_token_figures(chat, provider, since, joined, streams, 0, mode)
    return streamed, await figures


async def run_engine(
    name: str,
    backend: Backend,
    wal: Wal,
    provider: RemoteProvider,
    sizes: Sizes,
    base: Baseline,
    progress: Callable[[str], None],
) -> BackendFigures:
    figures = BackendFigures(name)
    async with engine(backend, provider.base_url, STREAMS + 1) as chat:
        provider.reply(answer_tokens(SHORT), token_delay_s=0, model=ANSWER_MODEL, times=1)
        await chat.ask(chat.seats[0])  # warm: the tokenizer, the connections
        await chat.settled(SETTLE_S)
        for history in HISTORIES:
            for streams, rounds in ((1, sizes.ttft_trials), (STREAMS, sizes.ttft_rounds)):
                progress(
                    f"{name}: time to first token, {streams} stream(s), {history} earlier messages"
                )
                first = first_tokens(chat, provider, streams, rounds, history)
                figures.first_tokens.append(await first)
        for interval in INTERVALS_S:
            for streams in (1, STREAMS):
                progress(
                    f"{name}: {streams} x {sizes.tokens} tokens at 50/s, "
                    f"chunks every {interval * 1000:g} ms"
                )
                product = interval == INTERVALS_S[0]  # the engine's own interval
                measured = wal if product and streams == 1 else None
                joining = sizes.joining if product and streams == STREAMS else 0
                run, joined = await streaming(
                    chat, provider, streams, sizes.tokens, interval, measured, joining
                )
                figures.streaming.append(run)
                if joined is not None:
                    figures.first_tokens.append(joined)
    return figures


# --- command line ------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.chat",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(URL_ENV),
        help=f"an empty database (default ${URL_ENV}; else a private temporary server, "
        "durable settings, started and deleted by the bench)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller runs (about a minute)")
    args = parser.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    if unknown := set(args.backends) - {"postgres", "sqlite"}:
        parser.error(f"unknown backend {', '.join(sorted(unknown))}")
    return args


def _engine_on(
    backend: str,
    args: argparse.Namespace,
    folder: Path,
    provider: RemoteProvider,
    sizes: Sizes,
    base: Baseline,
    progress: Callable[[str], None],
) -> BackendFigures:
    if backend == "sqlite":
        sqlite = SqliteBackend(folder / "chat.sqlite3")
        run = run_engine(backend, sqlite, SqliteWal(sqlite), provider, sizes, base, progress)
        return asyncio.run(run)
    with servers.postgres(args.postgres_url, progress) as url:
        run = run_engine(
            backend, PostgresBackend(url), PostgresWal(url), provider, sizes, base, progress
        )
        return asyncio.run(run)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    sizes = QUICK if args.quick else DEFAULT
    console = Console(width=None if sys.stdout.isatty() else 170)  # a log keeps whole rows
    started = time.perf_counter()

    def progress(message: str) -> None:
        console.print(f"[{time.perf_counter() - started:6.1f}s] {message}", highlight=False)

    results: dict[str, Any] = {
        "run": {
            "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "sizes": dataclasses.asdict(sizes),
            "load_before": os.getloadavg()[0],
        }
    }
    progress(f"load average {os.getloadavg()[0]:.2f} (others' work on the machine skews timings)")
    RESULTS.mkdir(exist_ok=True)

    def save() -> None:  # after each part, so a failure later keeps the figures so far
        results["run"]["seconds"] = round(time.perf_counter() - started, 1)
        results["run"]["load_after"] = os.getloadavg()[0]
        (RESULTS / "chat.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))

    try:
        with (
            tempfile.TemporaryDirectory(prefix="advisor-chat-bench-chat-") as directory,
            RemoteProvider() as provider,
        ):
            folder = Path(directory)
            progress(
                f"provider: the scripted OpenAI server in its own process, {provider.base_url}"
            )
            base = asyncio.run(baseline(provider, sizes, progress))
            results["baseline"] = {"streaming": [dataclasses.asdict(s) for s in base.streaming]}
            for backend in args.backends:
                figures = _engine_on(backend, args, folder, provider, sizes, base, progress)
                print_engine(console, figures, base)
                results[backend] = as_json(figures)
                save()
            progress(f"http: {sizes.http_clients} clients x sendMessage, product vs bare ASGI")
            http = asyncio.run(run_http(provider, folder, sizes.http_clients, sizes.http_seconds))
            print_http(console, http)
            results["http"] = http_json(http)
            save()
    except (BenchError, ProviderGone, WalError) as exc:
        raise SystemExit(f"bench: {exc}") from exc
    print_notes(console)
    progress(f"load average {os.getloadavg()[0]:.2f}; figures written to {RESULTS / 'chat.json'}")


if __name__ == "__main__":
    main()
