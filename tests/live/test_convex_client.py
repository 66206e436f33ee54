"""The official Convex npm client over WebSocket (`ConvexClient`, the sync protocol) against
our server: subscriptions updated by mutations, read-your-writes, a refreshed token, and a
sign-out seen as the query's UNAUTHENTICATED error. It runs under Node (tests/clients/npm)."""

from __future__ import annotations

import functools

from tests.api.conftest import Served, call_api, sign_up_tokens
from tests.clients.node import run_script


def test_the_official_client_subscribes_mutates_refreshes_and_is_signed_out(
    live_server: Served,
) -> None:
    tokens = sign_up_tokens(live_server.base, "ws-alice@example.test", "Alice")
    seen = run_script(
        "ws_client.mjs",
        live_server.base,
        {"ACCESS_TOKEN": tokens["accessToken"], "REFRESH_TOKEN": tokens["refreshToken"]},
        timeout_s=60,
    )
    assert seen["authChanges"][0] is True
    assert seen["firstPage"] == []
    assert seen["pageWhenSent"] == ["one"]  # read-your-writes: there when the promise resolved
    assert seen["titleWhenRenamed"] == "Renamed ✓"
    assert seen["refreshes"] >= 1
    assert seen["pageAfterRefresh"] == ["one", "two"]
    assert seen["pages"].count(["one"]) == 1  # an unchanged result is not sent again
    assert seen["signOut"] == 200
    assert [e["data"]["code"] for e in seen["errors"]] == ["UNAUTHENTICATED"] * 2


def test_the_official_client_loads_a_paginated_query_page_by_page(live_server: Served) -> None:
    """What a client sees with plain cursors today; it must hold with pinned pages too:
    the pages, each subscribed with the previous page's continueCursor, hold every message
    once and in order, and a new message shows up once, in the last page."""
    tokens = sign_up_tokens(live_server.base, "ws-pages@example.test", "Paige")
    token = tokens["accessToken"]

    call = functools.partial(call_api, live_server.base, token, "mutation")

    call("users:store", {})
    conversation = call("conversations:createConversation", {"title": "Pages"})
    sent = [f"m{n}" for n in range(1, 6)]
    for content in sent:
        call("messages:sendMessage", {"conversationId": conversation, "content": content})

    seen = run_script(
        "paginate_client.mjs",
        live_server.base,
        {"ACCESS_TOKEN": token, "CONVERSATION": conversation, "NUM_ITEMS": "2"},
        timeout_s=60,
    )
    assert seen["errors"] == []
    assert seen["cursors"][0] is None
    assert len(set(seen["cursors"])) == len(seen["cursors"])  # each page starts further on
    assert [m for page in seen["loaded"] for m in page] == sent
    assert all(len(page) <= 2 for page in seen["loaded"])
    assert seen["isDone"][-1] is True
    assert not any(seen["isDone"][:-1])
    after = seen["afterSend"]
    assert [m for page in after for m in page] == [*sent, "new"]
    assert after[:-1] == seen["loaded"][:-1]  # the pages before the last are unchanged
