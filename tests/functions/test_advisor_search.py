"""marketplace:searchAdvisors over the shipped marketplace: what a person typing into the
marketplace's search box finds, and what they never find (private, inactive advisors)."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions import advisor_search
from advisor_chat.functions.runner import Runner
from advisor_chat.importers.marketplace import load_shipped
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, BOB, World


@pytest.fixture
async def shipped(store: Store, world: World) -> World:
    await load_shipped(store)
    return world


async def search(runner: Runner, query: str, **args: Any) -> dict[str, Any]:
    found: dict[str, Any] = (
        await runner.call("marketplace:searchAdvisors", {"query": query, **args}, BOB)
    ).value
    return found


def names(found: dict[str, Any]) -> list[str]:
    return [a["persona"]["name"] for a in found["advisors"]]


async def test_a_name_is_found_as_it_is_typed_case_and_accents_ignored(
    runner: Runner, shipped: World
) -> None:
    for typed in ("hana", "HANA mori", "Hána Moriyama"):
        assert names(await search(runner, typed)) == ["Hana Moriyama"], typed
    assert names(await search(runner, "moriyamas")) == []


async def test_every_word_must_match_and_names_outrank_mentions(
    runner: Runner, shipped: World
) -> None:
    found = await search(runner, "architect")
    assert names(found)[0] == "Hana Moriyama"  # her title, not a passing mention
    assert found["complete"] is True
    assert found["scanned"] >= 12
    narrowed = names(await search(runner, "data modeling"))
    assert "Hana Moriyama" in narrowed  # specialties: "Data modeling"
    wider = names(await search(runner, "data"))
    assert set(narrowed) <= set(wider)


async def test_category_and_tags_narrow_a_search(runner: Runner, shipped: World) -> None:
    everyone = await search(runner, "a")
    legal = await search(runner, "a", category="legal")
    assert set(names(legal)) == {"Beatriz Olmedo", "Jonah Whitfield"}
    assert all(a["category"] == "legal" for a in legal["advisors"])
    tagged = await search(runner, "a", tags=["architecture"])
    assert names(tagged) == ["Hana Moriyama"]
    assert len(everyone["advisors"]) > len(legal["advisors"])
    limited = await search(runner, "a", limit=2)
    assert len(limited["advisors"]) == 2
    assert limited["matched"] == everyone["matched"]


async def test_private_and_inactive_advisors_are_never_found(
    store: Store, runner: Runner, shipped: World
) -> None:
    # Alice's own private advisor is "Ada Reyes", as is the world's public one.
    found = (await runner.call("marketplace:searchAdvisors", {"query": "ada reyes"}, ALICE)).value
    assert [a["_id"] for a in found["advisors"]] == [shipped.public_advisor]

    async def retire(tx: Transaction) -> None:
        await tx.patch("advisors", shipped.public_advisor, {"status": "inactive"})

    await store.mutation(retire)
    assert names(await search(runner, "ada reyes")) == []


async def test_a_query_without_words_is_refused(runner: Runner, shipped: World) -> None:
    with pytest.raises(FunctionError) as caught:
        await search(runner, " -- ")
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert caught.value.data["field"] == "query"


async def test_a_search_reads_a_bounded_number_of_advisors_and_says_so(
    store: Store, runner: Runner, shipped: World
) -> None:
    bound = advisor_search.MAX_SCANNED

    async def crowd(tx: Transaction) -> None:
        base: dict[str, Any] = {
            "schemaVersion": "1.1-base",
            "status": "active",
            "isPublic": True,
            "tags": [],
            "createdAt": 1,
            "updatedAt": 1,
        }
        for i in range(bound):
            persona = {"name": f"Filler {i}", "title": "Generalist"}
            await tx.insert("advisors", base | {"persona": persona, "category": "filler"})
        persona = {"name": "Zelda Last", "title": "Latecomer"}
        await tx.insert("advisors", base | {"persona": persona, "category": "late"})

    await store.mutation(crowd)
    found = await search(runner, "zelda")
    assert found["advisors"] == []  # beyond the advisors one search reads
    assert (found["scanned"], found["complete"]) == (bound, False)
    assert names(await search(runner, "hana")) == ["Hana Moriyama"]  # within them
    narrowed = await search(runner, "zelda", category="late")  # a category reaches it
    assert (names(narrowed), narrowed["complete"]) == (["Zelda Last"], True)


async def test_stats_count_the_tags_a_client_offers_as_filters(
    runner: Runner, shipped: World
) -> None:
    stats = (await runner.call("marketplace:getMarketplaceStats", {}, BOB)).value
    assert stats["tags"]["architecture"] == 1
    assert stats["tags"]["finance"] >= 2  # the world's advisor and the shipped ones
    tagged = (await runner.call("advisors:getAdvisorsByTags", {"tags": ["finance"]}, BOB)).value
    assert stats["tags"]["finance"] == len(tagged)
