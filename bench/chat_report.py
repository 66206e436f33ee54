"""The figures of `bench.chat`, their targets, and how they are shown: a table per figure,
the notes that say what each measures, and JSON for bench/results/chat.json."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.chat_http import CLIENTS, PRODUCT, HttpFigures
from bench.loop_lag import Spread

STREAMS = 20
TTFT_MS = {1: 10.0, STREAMS: 50.0}  # targets, by concurrent streams
TOKEN_P99_MS = {1: 1.0, STREAMS: 5.0}
DELIVERED_OF_1000 = 990
BYTES_RATIO = 2.0
HTTP_RATIO = 0.25


@dataclass
class FirstTokens:
    """Figure 1 at one concurrency. Every part is per answer, in ms."""

    streams: int
    mode: str  # "at once": `streams` users ask together; "joining N streams": one asks
    history: int  # earlier messages in the conversation
    prompt_messages: int  # median messages in the prompt the provider got
    send: Spread  # the sendMessage call itself
    before_ask: Spread  # sendMessage returned -> the provider has the request, made of:
    queued: Spread  # sendMessage returned -> the worker claimed the round
    begun: Spread  # claimed -> the answer's message inserted (streaming, empty)
    prepared: Spread  # inserted -> the provider has the request (context, prompt, SDK)
    provider: Spread  # the request arrived -> the provider sent its first token
    to_commit: Spread  # first token sent -> its chunk's commit announced
    added: Spread  # before_ask + to_commit: what the server adds
    total: Spread  # sendMessage returned -> first chunk announced
    sdk: Spread  # baseline: a bare SDK client's time to first token, same prompts
    sdk_provider: Spread  # within it, the provider's own part


@dataclass
class PerToken:
    """Provider sent a token -> its chunk's commit announced, ms."""

    all: Spread
    first_in_chunk: Spread
    rest: Spread
    last_in_chunk: Spread


@dataclass
class AnswerBytes:
    """Per answer, mean over the answers of a run that ended complete and exact."""

    text: float  # UTF-8 bytes of the final text
    deltas: float  # streamDeltas documents written
    delta_rows: float
    message: float  # the answer's message: its insert and every patch
    message_writes: float

    @property
    def ratio(self) -> float:
        return (self.deltas + self.message) / self.text if self.text else float("nan")


@dataclass
class Streaming:
    """Figures 2-4 for one run: `streams` answers of `tokens` at 50 tokens/s."""

    streams: int
    interval_ms: float
    tokens: int
    per_token: PerToken
    exact: int  # answers complete with exactly the text sent
    ends: dict[str, int]  # answers by how they ended: complete, error, stopped, streaming
    window_s: float  # all streams sending
    offered_per_s: float  # tokens the provider sent in the window
    delivered_per_s: float  # tokens whose chunk was announced in the window
    bytes: AnswerBytes
    wal_bytes: int | None  # the whole round, one stream and 100 ms only
    seconds: float


@dataclass
class SdkStreaming:
    """The baseline of figures 2-3: bare SDK clients streaming the same way."""

    streams: int
    tokens: int
    transport: Spread  # provider sent -> the client received, ms
    gap: Spread  # between the provider's tokens, ms
    offered_per_s: float
    received_per_s: float


@dataclass
class BackendFigures:
    backend: str
    first_tokens: list[FirstTokens] = field(default_factory=list)
    streaming: list[Streaming] = field(default_factory=list)


@dataclass
class Baseline:
    """Bare SDK clients' streams (figure 1's baseline is measured beside it)."""

    streaming: list[SdkStreaming] = field(default_factory=list)


# --- tables ----------------------------------------------------------------------------


def _ms(s: Spread) -> str:
    return f"{s.p50:,.2f} / {s.p99:,.2f}" if s.n else "-"


def _met(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]missed[/]"


def _met_p99(s: Spread, target: float) -> str:
    if s.p99 <= target:
        return "[green]met[/]"
    return "[yellow]p50 met, p99 missed[/]" if s.p50 <= target else "[red]missed[/]"


def _table(title: str, columns: tuple[str, ...], left: tuple[str, ...]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="left" if column in left else "right")
    return table


def _streams(f: FirstTokens) -> str:
    return f"{f.streams} at once" if f.mode == "at once" else f"1, {f.mode}"


def _first_tokens(console: Console, found: BackendFigures) -> None:
    table = _table(
        f"{found.backend}: 1. time to first token, ms p50 / p99 per answer",
        ("streams", "conversation", "added by the server", "target", "met?"),
        ("conversation",),
    )
    for column in ("sendMessage -> chunk", "bare client TTFT", "beyond bare (p50)"):
        table.add_column(column, justify="right")
    for f in found.first_tokens:
        target = TTFT_MS[f.streams]
        where = "new" if not f.history else f"{f.history} earlier messages"
        table.add_row(
            _streams(f),
            f"{where}; prompt {f.prompt_messages} messages",
            _ms(f.added),
            f"<= {target:g} ms",
            _met_p99(f.added, target),
            _ms(f.total),
            _ms(f.sdk),
            f"{f.total.p50 - f.sdk.p50:,.1f}",
        )
    console.print(table)
    table = _table(
        f"{found.backend}: 1. where it goes, ms p50 / p99 per answer",
        ("streams", "conversation", "sendMessage call", "-> round claimed", "-> answer begun"),
        ("conversation",),
    )
    for column in ("-> provider asked", "provider's own", "first token -> chunk"):
        table.add_column(column, justify="right")
    for f in found.first_tokens:
        table.add_row(
            _streams(f),
            "new" if not f.history else f"{f.history} earlier",
            *(_ms(s) for s in (f.send, f.queued, f.begun, f.prepared, f.provider, f.to_commit)),
        )
    console.print(table)


def _per_token(console: Console, found: BackendFigures, base: Baseline) -> None:
    table = _table(
        f"{found.backend}: 2. per streamed token, provider sent -> its chunk announced, "
        "ms p50 / p99",
        ("streams", "chunks", "tokens", "product", "baseline, same run", "target", "met?"),
        ("tokens", "baseline, same run"),
    )
    sdk = {s.streams: s for s in base.streaming}
    for run in found.streaming:
        target = TOKEN_P99_MS[run.streams]
        b = sdk[run.streams]
        rows = (
            ("all", run.per_token.all, f"bare client, sent -> received: {_ms(b.transport)}"),
            ("first of each chunk", run.per_token.first_in_chunk, f"provider's gap: {_ms(b.gap)}"),
            ("the rest", run.per_token.rest, ""),
            ("last of each chunk", run.per_token.last_in_chunk, ""),
        )
        for i, (what, spread, beside) in enumerate(rows):
            first = i == 0
            table.add_row(
                str(run.streams) if first else "",
                f"every {run.interval_ms:g} ms" if first else "",
                f"{what} ({spread.n:,})",
                _ms(spread),
                beside,
                f"p99 <= {target:g} ms" if first else "",
                _met(spread.p99 <= target) if first else "",
                end_section=i == len(rows) - 1,
            )
    console.print(table)


def _exact(run: Streaming) -> str:
    others = ", ".join(f"{n} {end}" for end, n in sorted(run.ends.items()) if end != "complete")
    return f"{run.exact} of {run.streams}" + (f" ({others})" if others else "")


def _rates(console: Console, found: BackendFigures, base: Baseline) -> None:
    table = _table(
        f"{found.backend}: 3. tokens/s, {STREAMS} streams at 50 tokens/s each, while all stream",
        ("chunks", "delivered", "offered", "bare client received", "exact answers", "target"),
        (),
    )
    table.add_column("met?", justify="right")
    sdk = next(s for s in base.streaming if s.streams == STREAMS)
    for run in found.streaming:
        if run.streams != STREAMS:
            continue
        ok = run.delivered_per_s >= DELIVERED_OF_1000 / 1000 * run.offered_per_s
        table.add_row(
            f"every {run.interval_ms:g} ms",
            f"{run.delivered_per_s:,.0f}",
            f"{run.offered_per_s:,.0f}",
            f"{sdk.received_per_s:,.0f}",
            _exact(run),
            f">= {DELIVERED_OF_1000} of 1,000",
            _met(ok and run.exact == run.streams),
        )
    console.print(table)


def _bytes(console: Console, found: BackendFigures) -> None:
    tokens = found.streaming[0].tokens if found.streaming else 0
    table = _table(
        f"{found.backend}: 4. bytes of documents written per {tokens:,}-token answer (mean)",
        ("streams", "chunks", "text, UTF-8", "streamDeltas (rows)", "JSON per row"),
        (),
    )
    wal = "WAL, whole round" if found.backend == "sqlite" else "WAL bytes, whole round"
    for column in ("message (writes)", "written / text", wal, "target", "met?"):
        table.add_column(column, justify="right")
    for run in found.streaming:
        w = run.bytes
        table.add_row(
            str(run.streams),
            f"every {run.interval_ms:g} ms",
            f"{w.text:,.0f}",
            f"{w.deltas:,.0f} ({w.delta_rows:,.0f})",
            f"{(w.deltas - w.text) / max(w.delta_rows, 1):,.0f}",
            f"{w.message:,.0f} ({w.message_writes:,.0f})",
            f"{w.ratio:.2f}x",
            f"{run.wal_bytes:,}" if run.wal_bytes is not None else "",
            f"< {BYTES_RATIO:g}x",
            _met(w.ratio < BYTES_RATIO),
        )
    console.print(table)


def print_engine(console: Console, found: BackendFigures, base: Baseline) -> None:
    _first_tokens(console, found)
    _per_token(console, found, base)
    _rates(console, found, base)
    _bytes(console, found)


def print_http(console: Console, http: HttpFigures) -> None:
    table = _table(
        "5. messages:sendMessage over HTTP, SQLite",
        ("server", "client", "clients", "calls/s", "ms p50 / p99", "failed"),
        ("server", "client"),
    )
    for column in ("server CPU", "client CPU", "product / baseline", "target", "met?"):
        table.add_column(column, justify="right")
    for run in http.runs:
        ratio, target, met = "", "", ""
        if run.server == PRODUCT:
            value = http.ratio(run.client, run.rounds)
            ratio = f"{value:.0%}"
            if not run.rounds:
                target, met = f">= {HTTP_RATIO:.0%}", _met(value >= HTTP_RATIO)
        table.add_row(
            run.server
            + (", with rounds" if run.rounds else ", no round" if run.server == PRODUCT else ""),
            run.client,
            str(run.clients),
            f"{run.per_s:,.0f}",
            _ms(run.latency),
            str(run.failed),
            f"{run.server_cpu:.0%}",
            f"{run.client_cpu:.0%}",
            ratio,
            target,
            met,
        )
    console.print(table)
    rounds = http.find(PRODUCT, "httpx", rounds=True)
    answers = rounds.answers or 0
    console.print(
        f"with rounds: {answers:,} answers finished streaming in the {rounds.seconds:g} s "
        f"window ({answers / rounds.seconds:,.0f}/s) while {rounds.per_s:,.0f} calls/s asked for "
        "more: rounds queue behind the calls."
    )


NOTES = """\
What each figure measures (time.perf_counter, CLOCK_MONOTONIC: one clock for this process
and the provider's, which runs in a process of its own):
- "Announced": the in-process commit announcement (store.commits) of the streamDeltas row
  holding a token. There is no WebSocket live layer yet: this is when one would learn of
  it. "Sent": the provider handed the token to its socket. "Bare client": the openai SDK
  streaming from the same provider at the same concurrency, in this process.
- 1: added by the server = (sendMessage returned -> provider has the request) + (provider
  sent the first token -> its chunk announced), per answer. It includes the openai SDK's
  own work on the request and both hops to the provider, which the bare client's TTFT
  (the very prompts the engine sent, replayed) pays too: "beyond bare" is the difference.
  20 streams: 20 users ask at once. A new conversation per question, or one with 200
  earlier messages (the prompt takes what fits the budget). Target judged at p99.
- 2: the engine writes an answer's chunks at most once per 100 ms (ai/streaming.py), so a
  token waits for its chunk: the first token of a chunk waits longest, the last least
  (up to one provider gap, then the write). "Every 0 ms" sets that interval to 0 in this
  process only: each token's wait is then the engine's own work.
- 3: tokens whose chunk was announced per second, between the last stream's first token
  and the first stream's last; "offered" counts the provider's tokens sent in that window.
  Exact: the answer ended complete with exactly the text the provider sent.
- 4: bytes of the JSON documents written (each insert, and the whole document of each
  patch), not index entries or pages. The chunks hold the text once and the finished
  message holds it again, so chunks + message is 2x the text before any overhead; each
  chunk row adds its own JSON (ids, offsets, times). The WAL column is everything the
  round wrote (one stream, 100 ms chunks; SQLite's automatic checkpoint off meanwhile).
- 5: see bench/chat_http.py. httpx clients cost ~1 ms of CPU a call, so with them the
  baseline is client-bound; the raw client leaves the servers to run out."""


def print_notes(console: Console) -> None:
    console.print(NOTES, highlight=False)


def as_json(figures: BackendFigures) -> dict[str, Any]:
    out = dataclasses.asdict(figures)
    for run, raw in zip(figures.streaming, out["streaming"], strict=True):
        raw["bytes"]["ratio"] = run.bytes.ratio
    return out


def http_json(http: HttpFigures) -> dict[str, Any]:
    runs = [dataclasses.asdict(r) | {"per_s": r.per_s} for r in http.runs]
    ratios = {client: http.ratio(client) for client in CLIENTS}
    return {"runs": runs, "ratio": ratios, "ratio_with_rounds": http.ratio("httpx", True)}
