"""Token counts before a request is sent: exact for OpenAI's own models, a safe
over-estimate for any other model behind an OpenAI-compatible endpoint.

The prompt budget is cut by these counts, so a count may run high (an answer gets a little
less room) but must not run low (the endpoint would refuse the prompt, or cut it).
OpenAI's encodings come from `toktok` (tiktoken's ids, vocabularies compiled into the
extension: nothing to download, so it works offline).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import toktok  # type: ignore[import-untyped]  # ships no type information; wrapped below

from advisor_chat.ai.providers.base import ChatMessage, TokenCounter

# Model name -> encoding, as tiktoken maps them. o200k: GPT-4o, 4.1, 4.5, 5 and later, the
# o-series, ChatGPT and codex models, gpt-oss (its harmony encoding counts text the same).
_O200K = re.compile(r"(gpt-4o|gpt-4\.[1-9]|gpt-[5-9]|chatgpt-|o[1-9]\b|codex-|gpt-oss)")
_CL100K = re.compile(r"(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada)")

# A chat format's framing: ChatML (OpenAI's, and the embedded model's template) puts four
# tokens around a message's content (`<|im_start|>role\n…<|im_end|>\n`) and primes the
# answer with three (`<|im_start|>assistant\n`); other templates frame with as many or
# fewer. The prompt budget (ai/prompt.py) counts with the same figures.
MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3

# Pieces that cost a token each in common vocabularies, give or take a merge (" (" is one
# token in cl100k, two pieces here: the count only runs higher): a run of letters of one
# case pattern ("Yo", "Y" in "YoY"), a digit (Llama-style vocabularies split numbers into
# digits), any other character, and a space before a digit or a mark.
_PIECES = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d|\s(?=[^\sA-Za-z])|[^\sA-Za-z\d]")


def model_name(model: str) -> str:
    """The bare model name: OpenRouter's `openai/gpt-4o` and a fine-tune's
    `ft:gpt-4o-mini:org::id` are gpt-4o and gpt-4o-mini underneath."""
    return model.strip().lower().rsplit("/", 1)[-1].removeprefix("ft:")


def openai_encoding(model: str) -> str | None:
    """The encoding of an OpenAI model (dated snapshots included), or None for any other."""
    name = model_name(model)
    if _O200K.match(name):
        return "o200k_base"
    if _CL100K.match(name):
        return "cl100k_base"
    return None


class EncodingCounter:
    """Exact counts in one of OpenAI's encodings."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        toktok.batch_count([""], encoding, threads=1)  # an unknown encoding fails here

    def count(self, text: str) -> int:
        # threads=1: one short text costs less on the calling thread than in a pool
        counts: list[int] = toktok.batch_count([text], self.encoding, threads=1)
        return counts[0]


class EstimateCounter:
    """An upper estimate for a model whose tokenizer we do not have.

    BPE vocabularies of current open models (Llama 3, Mistral, Qwen, Gemma, SmolLM) average
    about 4 characters of English prose per token, so a token per 3 UTF-8 bytes counts
    prose a quarter high. Short words, numbers and marks cost more tokens per byte ("Q3
    revenue was $1.2M (up 14% YoY)" is 27 tokens in 74 bytes), so the estimate is also never
    below one token per piece of `_PIECES`. Scripts a vocabulary was
    not trained on (single-byte fallback) can still exceed it: the engine's margin covers
    those.
    """

    BYTES_PER_TOKEN = 3

    def count(self, text: str) -> int:
        by_bytes = math.ceil(len(text.encode("utf-8")) / self.BYTES_PER_TOKEN)
        return max(by_bytes, len(_PIECES.findall(text)))


def counter_for(model: str) -> EncodingCounter | EstimateCounter:
    encoding = openai_encoding(model)
    return EncodingCounter(encoding) if encoding is not None else EstimateCounter()


def count_messages(counter: TokenCounter, messages: Iterable[ChatMessage]) -> int:
    """Prompt tokens of a chat request: each message's role and content plus framing."""
    return REPLY_PRIMING + sum(
        MESSAGE_OVERHEAD + counter.count(m.role) + counter.count(m.content) for m in messages
    )
