"""`python -m bench.embedded`: the embedded model's figures on this machine.

Load time, first-token latency with a cold persona and with the advisor's kept context
(after other advisors answered in between, as in a team chat), generation speed and memory.
Personas come from the shipped advisors. Printed and written to
bench/results/embedded.json; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path
from typing import Any

from advisor_chat.ai.providers.base import ChatMessage, Request
from advisor_chat.ai.providers.embedded import EMBEDDED_MODEL, Embedded

CONTENT = Path(__file__).parents[1] / "src" / "advisor_chat" / "content" / "advisors"
RESULTS = Path(__file__).parent / "results"
QUESTIONS = [
    "Should we raise our prices before the launch?",
    "We have nine months of runway. Should we hire two engineers now?",
    "What should we measure in the first month after launch?",
]


def persona(advisor: dict[str, Any]) -> str:
    """A system prompt of the size a real persona has (~500-900 tokens)."""
    p, role = advisor["persona"], advisor["roleDefinition"]
    parts = [
        f"You are {p['name']}, {p['title']}. {p['oneLiner']}",
        f"Temperament: {p.get('temperament', '')}",
        str(p.get("bio", "")),
        f"Mission: {role.get('mission', '')}",
        json.dumps(role.get("scope", {})),
        json.dumps(advisor.get("components", []))[:1500],
    ]
    return "\n".join(parts)


def memory_mb() -> dict[str, float]:
    """Resident and peak resident memory of this process (Linux)."""
    out: dict[str, float] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = round(int(value.split()[0]) / 1024, 1)
    return out


async def main(advisors: int, max_tokens: int, threads: int | None) -> dict[str, Any]:
    files = sorted(CONTENT.glob("*.json"))[:advisors]
    prompts = [persona(json.loads(f.read_text())) for f in files]
    keys = [f.stem for f in files]
    figures: dict[str, Any] = {"model": EMBEDDED_MODEL, "memory_before_mb": memory_mb()}
    start = time.monotonic()
    model = Embedded(threads=threads)
    figures["construct_s"] = round(time.monotonic() - start, 4)
    start = time.monotonic()
    await model.load()
    figures["load_s"] = round(time.monotonic() - start, 3)
    figures["memory_loaded_mb"] = memory_mb()
    figures["threads"] = model.threads
    rounds: list[list[dict[str, Any]]] = []
    try:
        for question in QUESTIONS[:2]:  # round 1 reads each persona cold, round 2 warm
            answers = []
            for key, system in zip(keys, prompts, strict=True):
                request = Request(
                    EMBEDDED_MODEL,
                    [ChatMessage("system", system), ChatMessage("user", question)],
                    max_tokens=max_tokens,
                    cache_key=key,
                )
                await model.complete(request)
                assert model.last is not None
                answers.append(
                    {
                        "advisor": key,
                        "prompt_tokens": model.last.prompt_tokens,
                        "reused_tokens": model.last.reused_tokens,
                        "first_token_s": round(model.last.first_token_s, 3),
                        "tokens": model.last.completion_tokens,
                        "tokens_per_s": round(model.last.tokens_per_s, 1),
                    }
                )
            rounds.append(answers)
    finally:
        await model.aclose()
    cold, warm = rounds
    figures["cold"] = cold
    figures["warm"] = warm
    figures["summary"] = {
        "prompt_tokens_median": statistics.median(a["prompt_tokens"] for a in cold),
        "first_token_cold_s_median": statistics.median(a["first_token_s"] for a in cold),
        "first_token_warm_s_median": statistics.median(a["first_token_s"] for a in warm),
        "tokens_per_s_median": statistics.median(a["tokens_per_s"] for a in cold + warm),
    }
    figures["memory_after_mb"] = memory_mb()
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--advisors", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=None, help="default: half the cores")
    args = parser.parse_args()
    result = asyncio.run(main(args.advisors, args.max_tokens, args.threads))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "embedded.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k not in ("cold", "warm")}, indent=2))
    for name in ("cold", "warm"):
        for row in result[name]:
            print(name, row)
