"""Signed out, the official Convex npm client browses the marketplace the server ships
(public advisors, team templates, their stats), over HTTP and over a WebSocket
subscription, as the original app let a visitor do before signing up; a user's own
advisor reads as missing, and everything else asks for a sign-in."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import call_api, sign_up
from tests.clients.node import run_script


def _browse(base: str, private_advisor: str) -> dict[str, Any]:
    env = {"PRIVATE_ADVISOR": private_advisor}
    return run_script("signed_out_client.mjs", base, env, timeout_s=120)


def test_a_visitor_browses_the_shipped_marketplace_and_nothing_private(
    served: tuple[str, str],
) -> None:
    base, _ = served
    token = sign_up(base, "browsing-owner@example.test", name="Owner")
    call_api(base, token, "mutation", "users:store", {})
    uploaded = call_api(
        base,
        token,
        "action",
        "advisors:uploadAdvisorJSON",
        {"jsonString": json.dumps({"persona": {"name": "Owner's Own", "title": "Coach"}})},
    )
    assert uploaded["ok"] is True
    seen = _browse(base, uploaded["advisorId"])

    names = [a["persona"]["name"] for a in seen["all"]]
    assert len(names) >= 12  # the shipped marketplace
    assert all(a["isPublic"] for a in seen["all"])
    assert "Owner's Own" not in names
    assert len(seen["teams"]) >= 3
    assert seen["team"]["ok"] is True
    assert seen["stats"]["totalAdvisors"] == len(seen["all"])
    assert seen["byId"]["ok"] is True
    assert seen["private"]["ok"] is False
    assert seen["private"]["data"]["code"] == "NOT_FOUND"
    assert seen["board"]["data"]["code"] == "UNAUTHENTICATED"
    # Over the sync protocol: the subscription answers the public advisors, and a query
    # that needs a sign-in fails as it does over HTTP.
    assert seen["subscribed"][-1] == [a["_id"] for a in seen["all"] if a["status"] == "active"]
    assert seen["wsBoard"] == {"ok": False, "data": {"code": "UNAUTHENTICATED"}}
