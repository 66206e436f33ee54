"""Reactive pagination through the functions, as a sync session runs them: each page a
subscription whose journal (where its page ends) is handed back to every re-run. Pages
neither lose nor repeat a message while messages are written around them; the options the
official clients send are accepted, and nothing else is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.runner import Runner
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, World
from tests.store.documents import message

LIST = "messages:getConversationMessages"
LATER = 4e12  # ms: after the world's own messages, written at the real time


@dataclass
class Subscription:
    """One page query as the session keeps it: its args and its journal."""

    args: dict[str, Any]
    journal: str | None = None

    async def run(self, runner: Runner) -> dict[str, Any]:
        snapshot = await runner.run_queries([(LIST, self.args)], ALICE, [self.journal])
        (run,) = snapshot.runs
        assert run.error is None, run.error
        self.journal = run.journal or self.journal
        value: dict[str, Any] = run.value
        return value


def page_args(world: World, num: int, cursor: str | None, order: str) -> dict[str, Any]:
    return {
        "conversationId": world.conversation,
        "order": order,
        "paginationOpts": {"numItems": num, "cursor": cursor, "id": 7},
    }


async def write(store: Store, world: World, *contents: str, at: float = 0) -> list[str]:
    """Messages written now, each later than the one before."""

    async def run(tx: Transaction) -> list[str]:
        ids: list[str] = []
        for n, content in enumerate(contents):
            doc = message(world.conversation, content) | {"createdAt": LATER + at + n}
            ids.append(await tx.insert("messages", doc))
        return ids

    return (await store.mutation(run)).value


async def everything(runner: Runner, world: World, order: str) -> list[str]:
    args = page_args(world, 200, None, order)
    return [m["_id"] for m in (await runner.call(LIST, args, ALICE)).value["page"]]


def ids(*pages: dict[str, Any]) -> list[str]:
    return [m["_id"] for page in pages for m in page["page"]]


async def test_a_new_message_no_longer_pushes_the_last_row_of_page_one_out_of_both_pages(
    runner: Runner, store: Store, world: World
) -> None:
    """The measured bug, newest first as the chat view reads: page 1 re-run for a new
    message took `numItems` rows again, so its last row fell out of it, and page 2 starts
    after it. Pinned by its journal, page 1 grows by the new message instead."""
    await write(store, world, *(f"m{n}" for n in range(5)))
    one = Subscription(page_args(world, 3, None, "desc"))
    first = await one.run(runner)
    two = Subscription(page_args(world, 3, first["continueCursor"], "desc"))
    second = await two.run(runner)
    assert ids(first, second) == (await everything(runner, world, "desc"))[:6]
    last_of_one = first["page"][-1]["_id"]

    (newest,) = await write(store, world, "new", at=100)
    again = await one.run(runner)
    assert ids(again)[0] == newest
    assert ids(again)[1:] == ids(first)
    assert await two.run(runner) == second
    assert ids(again, second) == (await everything(runner, world, "desc"))[:7]
    # Unpinned (no journal), page 1 loses the row page 2 does not have: what users saw.
    unpinned = (await runner.call(LIST, one.args, ALICE)).value
    assert last_of_one not in ids(unpinned, second)


async def test_pages_stay_adjacent_through_inserts_and_boundary_deletes(
    runner: Runner, store: Store, world: World
) -> None:
    await write(store, world, *(f"m{n}" for n in range(6)))
    pages = [Subscription(page_args(world, 3, None, "asc"))]
    results = [await pages[0].run(runner)]
    while not results[-1]["isDone"]:
        pages.append(Subscription(page_args(world, 3, results[-1]["continueCursor"], "asc")))
        results.append(await pages[-1].run(runner))
    assert len(pages) == 3  # 8 messages: 3 + 3 + 2, the last one done

    boundary = results[0]["page"][-1]["_id"]  # the row page 1 ends at
    await store.mutation(lambda tx: tx.delete("messages", boundary))
    await write(store, world, "late-1", "late-2", at=500)  # after every page: the last one's

    results = [await page.run(runner) for page in pages]
    assert ids(*results) == await everything(runner, world, "asc")
    assert len(results[0]["page"]) == 2  # page 1 shrank; page 2 did not slide back into it
    assert results[-1]["isDone"]  # the last page stays open: the late ones joined it
    assert ids(results[-1])[-2:] == (await everything(runner, world, "asc"))[-2:]
    assert [p["continueCursor"] for p in results[:-1]] == [
        p.args["paginationOpts"]["cursor"] for p in pages[1:]
    ]


async def test_the_last_pages_cursor_still_reads_what_arrives_later(
    runner: Runner, store: Store, world: World
) -> None:
    """A reader that polls (the CLI's follow) starts from the done page's continueCursor:
    it gets exactly the messages written since."""
    page = (await runner.call(LIST, page_args(world, 50, None, "asc"), ALICE)).value
    assert page["isDone"]
    later = await write(store, world, "a", "b", at=900)
    polled = await runner.call(LIST, page_args(world, 50, page["continueCursor"], "asc"), ALICE)
    assert ids(polled.value) == later
    assert polled.value["isDone"]


async def test_a_page_that_grew_offers_a_split_into_two_adjacent_pages(
    runner: Runner, store: Store, world: World
) -> None:
    one = Subscription(page_args(world, 2, None, "desc"))
    first = await one.run(runner)
    assert first["splitCursor"] is None
    assert first["pageStatus"] is None
    await write(store, world, "x", "y", "z", at=100)
    grown = await one.run(runner)
    assert len(grown["page"]) == 5
    assert grown["pageStatus"] is None
    opts = {"numItems": 2, "cursor": None, "endCursor": grown["splitCursor"], "id": 7}
    head = (await runner.call(LIST, one.args | {"paginationOpts": opts}, ALICE)).value
    opts = {
        "numItems": 2,
        "cursor": grown["splitCursor"],
        "endCursor": grown["continueCursor"],
        "id": 7,
    }
    tail = (await runner.call(LIST, one.args | {"paginationOpts": opts}, ALICE)).value
    assert ids(head, tail) == ids(grown)
    assert len(head["page"]) == 3
    # A client that caps its reads hears that the page is near the cap.
    capped = Subscription(one.args | {"paginationOpts": {"numItems": 2, "maximumRowsRead": 4}})
    capped.journal = one.journal
    assert (await capped.run(runner))["pageStatus"] == "SplitRecommended"


@pytest.mark.parametrize(
    "opts",
    [
        {"numItems": 2, "cursor": None, "id": 3},  # usePaginatedQuery
        {"numItems": 2, "cursor": None, "id": -1},  # ConvexClient.onPaginatedUpdate
        {"numItems": 2, "cursor": None, "endCursor": None, "id": 1},
        {"numItems": 2, "cursor": None, "maximumRowsRead": 100, "maximumBytesRead": 1 << 20},
    ],
)
async def test_the_options_official_clients_send_are_accepted(
    runner: Runner, world: World, opts: dict[str, Any]
) -> None:
    args = {"conversationId": world.conversation, "paginationOpts": opts}
    page = (await runner.call(LIST, args, ALICE)).value
    assert len(page["page"]) == 2
    assert set(page) == {
        "page",
        "isDone",
        "continueCursor",
        "splitCursor",
        "pageStatus",
    }


@pytest.mark.parametrize(
    ("opts", "field"),
    [
        ({"numItems": 2, "cursor": None, "offset": 3}, "paginationOpts.offset"),
        ({"numItems": 2, "id": "x"}, "paginationOpts.id"),
        ({"numItems": 2, "id": 2.0**60}, "paginationOpts.id"),
        ({"numItems": 2, "maximumRowsRead": 0}, "paginationOpts.maximumRowsRead"),
        ({"numItems": 2, "maximumBytesRead": -5}, "paginationOpts.maximumBytesRead"),
        ({"numItems": 2, "endCursor": "c" * 5000}, "paginationOpts.endCursor"),
        ({"numItems": 0}, "paginationOpts.numItems"),
    ],
)
async def test_other_options_are_refused(
    runner: Runner, world: World, opts: dict[str, Any], field: str
) -> None:
    args = {"conversationId": world.conversation, "paginationOpts": opts}
    with pytest.raises(FunctionError) as caught:
        await runner.call(LIST, args, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert field in caught.value.message


async def test_a_forged_end_cursor_is_refused_as_a_cursor(runner: Runner, world: World) -> None:
    opts = {"numItems": 2, "cursor": None, "endCursor": "not-a-cursor"}
    args = {"conversationId": world.conversation, "paginationOpts": opts}
    with pytest.raises(FunctionError) as caught:
        await runner.call(LIST, args, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
