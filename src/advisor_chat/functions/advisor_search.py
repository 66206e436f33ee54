"""advisor_search: finding marketplace advisors by what they are called and what they know.

The marketplace is curated (tens to hundreds of public advisors), so a search reads the
public advisors in creation order through an index (narrowed by category when one is
given) and matches each in memory, rather than keeping a text index over persona fields
that every advisor write would have to maintain. It is bounded: one search reads at most
MAX_SCANNED advisors, and says when it stopped before the end (`complete: false`), so a
client can ask the user to narrow it by category.

A match: every word of the query begins a word somewhere in the advisor's name, title,
one-liner, archetype, category, tags, specialties, expertise or bio (case and accents
ignored), so results come as the user types. Ranked by where the words were found (name
first, then title, then the labels, then prose), oldest first among equals."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.access import require_user
from advisor_chat.functions.context import QueryCtx
from advisor_chat.functions.marketplace import public_advisors
from advisor_chat.functions.registry import Args, query
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store import Document

MAX_SCANNED = 1000  # public advisors one search reads: far above a curated marketplace
MAX_TERMS = 16  # words of a query that count; more add nothing a person would notice
DEFAULT_LIMIT = 24
_WORD = re.compile(r"[^\W_]+")

# Where a word was found, and what that is worth: a name outranks a passing mention.
_WEIGHTS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (8, ("name",)),
    (4, ("title",)),
    (2, ("category", "tags", "specialties", "expertise", "archetype")),
    (1, ("oneLiner", "bio")),
)


def words(text: str) -> list[str]:
    """Lower-cased words with accents removed: "Lindqvist" and "lindqvíst" are one word."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(plain)


def _strings(value: Any) -> Iterable[str]:
    if type(value) is str:
        yield value
    elif type(value) is list:
        yield from (item for item in value if type(item) is str)


def _fields(advisor: Document) -> dict[str, list[str]]:
    """The searched words of an advisor, by field."""
    persona = advisor.get("persona") or {}
    found: dict[str, list[str]] = {}
    for field in ("name", "title", "oneLiner", "archetype", "bio", "specialties", "expertise"):
        found[field] = [w for text in _strings(persona.get(field)) for w in words(text)]
    found["category"] = [w for text in _strings(advisor.get("category")) for w in words(text)]
    found["tags"] = [w for text in _strings(advisor.get("tags")) for w in words(text)]
    return found


def score(advisor: Document, terms: list[str]) -> int:
    """0 when some term begins no word of the advisor; otherwise higher for better places."""
    fields = _fields(advisor)
    total = 0
    for term in terms:
        best = 0
        for weight, names in _WEIGHTS:
            if any(w.startswith(term) for name in names for w in fields[name]):
                best = weight
                break
        if best == 0:
            return 0
        total += best
    return total


@query(
    "marketplace:searchAdvisors",
    {
        "query": v.string(max_length=limits.SEARCH),
        "category": v.optional(v.string(max_length=limits.LABEL)),
        "tags": v.optional(v.array(v.string(max_length=limits.LABEL), max_items=limits.ITEMS)),
        "limit": v.optional(v.number(minimum=1, maximum=100)),
    },
)
async def search_advisors(ctx: QueryCtx, args: Args) -> dict[str, Any]:
    """Active public advisors matching every word of `query`, best first; narrowed to a
    category and to advisors having any of `tags` when given. Answers the matches (at most
    `limit`), how many advisors were read, and whether that was all of them."""
    await require_user(ctx)
    terms = list(dict.fromkeys(words(args["query"])))[:MAX_TERMS]
    if not terms:
        raise FunctionError(Code.INVALID_ARGUMENT, "a search needs a word", field="query")
    read = await public_advisors(ctx, args.get("category")).take(MAX_SCANNED + 1)
    scanned = read[:MAX_SCANNED]
    tags = set(args.get("tags", []))
    ranked: list[tuple[int, int, Document]] = []
    for position, advisor in enumerate(scanned):
        if advisor["status"] != "active":
            continue
        if tags and not tags.intersection(advisor.get("tags", [])):
            continue
        points = score(advisor, terms)
        if points:
            ranked.append((-points, position, advisor))
    ranked.sort(key=lambda entry: entry[:2])
    limit = int(args.get("limit", DEFAULT_LIMIT))
    return {
        "advisors": [advisor for _, _, advisor in ranked[:limit]],
        "matched": len(ranked),
        "scanned": len(scanned),
        "complete": len(read) <= MAX_SCANNED,
    }


FUNCTIONS = (search_advisors,)
