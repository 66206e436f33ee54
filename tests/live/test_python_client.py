"""The PyPI `convex` client (0.8: Convex's Rust client under Python, speaking the sync
protocol at /api/sync) against a real `serve`: queries, mutations, a subscription updated
by this client's and another connection's writes, our errors as `ConvexError` with our codes
in `data`, a refreshed token, and a sign-out seen by the subscription.

Its calls block on the Rust client's own runtime with no timeout of their own, so each runs
in a daemon thread that the test stops waiting for after STEP_S (a hang fails, not stalls)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
from convex import ConvexClient, ConvexError

from tests.api.conftest import Served, call_api, sign_up_tokens

T = TypeVar("T")
STEP_S = 20.0  # each call answers in milliseconds; this only bounds a hang
MAX_UPDATES = 8  # a subscription's values on the way to an expected one, repeats included


def within(call: Callable[[], T]) -> T:
    """`call()`'s result or exception, or a failure after STEP_S."""
    answers: queue.Queue[tuple[bool, Any]] = queue.Queue()

    def run() -> None:
        try:
            answers.put((True, call()))
        except BaseException as error:  # handed to the test's thread
            answers.put((False, error))

    threading.Thread(target=run, daemon=True).start()
    try:
        ok, answer = answers.get(timeout=STEP_S)
    except queue.Empty:
        pytest.fail(f"the PyPI client did not answer within {STEP_S:.0f} s")
    if not ok:
        raise answer
    result: T = answer
    return result


def contents(page: Any) -> list[str]:
    return [message["content"] for message in page["page"]]


def until_page(updates: Iterator[Any], before: list[str], wanted: list[str]) -> None:
    """Read the subscription until its page holds `wanted`, having held only `before` on
    the way. The Rust client yields its current value at every Transition, changed or not
    (an empty one owed after a mutation, one moving the identity after `set_auth`), so
    `before` and `wanted` may repeat; nothing else may appear."""
    seen: list[list[str]] = []
    while not seen or seen[-1] != wanted:
        assert len(seen) < MAX_UPDATES, seen
        seen.append(contents(within(lambda: next(updates))))
        assert seen[-1] in (before, wanted), seen


def _error_after(updates: Iterator[Any], last: list[str]) -> ConvexError:
    """The error the subscription raises next; its last page may repeat before it."""
    for _ in range(MAX_UPDATES):
        try:
            page = within(lambda: next(updates))
        except ConvexError as error:
            return error
        assert contents(page) == last
    pytest.fail(f"no error after {MAX_UPDATES} updates")


@pytest.fixture
def client(live_server: Served) -> ConvexClient:
    return ConvexClient(live_server.base)


def test_queries_mutates_and_subscribes(live_server: Served, client: ConvexClient) -> None:
    tokens = sign_up_tokens(live_server.base, "py-alice@example.test", "Alice")
    with pytest.raises(ConvexError) as anonymous:
        within(lambda: client.query("users:current"))
    assert anonymous.value.data["code"] == "UNAUTHENTICATED"

    client.set_auth(tokens["accessToken"])
    user = within(lambda: client.mutation("users:store"))
    me = within(lambda: client.query("users:current"))
    assert (me["_id"], me["name"]) == (user, "Alice")
    conversation = within(
        lambda: client.mutation("conversations:createConversation", {"title": "Python ✓"})
    )
    assert (
        within(
            lambda: client.query(
                "conversations:getConversationById", {"conversationId": conversation}
            )
        )["title"]
        == "Python ✓"
    )

    args = {"conversationId": conversation, "paginationOpts": {"numItems": 10, "cursor": None}}
    updates = iter(client.subscribe("messages:getConversationMessages", args))
    assert contents(within(lambda: next(updates))) == []
    within(
        lambda: client.mutation(
            "messages:sendMessage", {"conversationId": conversation, "content": "one 🐍"}
        )
    )
    until_page(updates, [], ["one 🐍"])
    # A write through another connection (HTTP) reaches the subscription too.
    call_api(
        live_server.base,
        tokens["accessToken"],
        "mutation",
        "messages:sendMessage",
        {"conversationId": conversation, "content": "two"},
    )
    until_page(updates, ["one 🐍"], ["one 🐍", "two"])

    with pytest.raises(ConvexError) as bad:
        within(
            lambda: client.mutation(
                "messages:sendMessage", {"conversationId": conversation, "content": 5}
            )
        )
    assert (bad.value.data["code"], bad.value.data["field"]) == ("INVALID_ARGUMENT", "content")
    with pytest.raises(ConvexError) as unknown:
        within(lambda: client.mutation("nothing:here"))
    assert unknown.value.data["code"] == "NOT_FOUND"
    with pytest.raises(ConvexError) as missing:
        within(
            lambda: client.query(
                "conversations:getConversationById", {"conversationId": "01nothing"}
            )
        )
    assert missing.value.data["code"] == "NOT_FOUND"


def test_a_refreshed_token_keeps_the_subscription_and_a_sign_out_ends_it(
    live_server: Served, client: ConvexClient
) -> None:
    tokens = sign_up_tokens(live_server.base, "py-bob@example.test", "Bob")
    client.set_auth(tokens["accessToken"])
    within(lambda: client.mutation("users:store"))
    conversation = within(
        lambda: client.mutation("conversations:createConversation", {"title": "Refresh"})
    )
    args = {"conversationId": conversation, "paginationOpts": {"numItems": 10, "cursor": None}}
    updates = iter(client.subscribe("messages:getConversationMessages", args))
    assert contents(within(lambda: next(updates))) == []

    refreshed = httpx.post(
        f"{live_server.base}/auth/refresh",
        json={"refreshToken": tokens["refreshToken"]},
        timeout=10,
    )
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    client.set_auth(fresh["accessToken"])
    within(
        lambda: client.mutation(
            "messages:sendMessage", {"conversationId": conversation, "content": "refreshed"}
        )
    )
    until_page(updates, [], ["refreshed"])

    signed_out = httpx.post(
        f"{live_server.base}/auth/signout",
        json={"refreshToken": fresh["refreshToken"]},
        timeout=10,
    )
    assert signed_out.status_code == 200, signed_out.text
    assert _error_after(updates, ["refreshed"]).data["code"] == "UNAUTHENTICATED"
