"""The official npm client's reactive pagination (`ConvexClient.onPaginatedUpdate_experimental`,
the same PaginatedQueryClient that `usePaginatedQuery` drives) against a real `serve`, on
each backend: a conversation newest first, two pages subscribed, messages written at the top
and one deleted where page 1 first ended. Every update the client shows holds each message
once, newest first, and the pages joined end up exactly the conversation as a fresh read
gives it (under the old unpinned pages a message fell out of both for good)."""

from __future__ import annotations

from tests.api.conftest import Served, sign_up_tokens
from tests.clients.node import run_script


def test_the_official_clients_pages_hold_every_message_once_while_messages_arrive(
    live_server: Served,
) -> None:
    tokens = sign_up_tokens(live_server.base, "pages@example.test", "Paige")
    seen = run_script(
        "ws_pagination.mjs",
        live_server.base,
        {"ACCESS_TOKEN": tokens["accessToken"], "REFRESH_TOKEN": tokens["refreshToken"]},
        timeout_s=60,
    )
    assert "error" not in seen, seen.get("error")
    assert len(seen["firstPage"]) >= 3
    assert len(seen["twoPages"]) >= 6
    assert seen["repeated"] == []  # no update ever showed a message twice
    assert seen["unordered"] == []  # nor out of order
    assert seen["joined"] == seen["fresh"]  # nothing lost: every message, once, in order
    assert seen["boundary"] not in seen["joined"]
    assert seen["finalStatus"] == "Exhausted"
    assert {"during-0", "during-1", "during-2", "before-0"} <= set(seen["joined"])
