"""Prometheus metrics at /metrics, against a real `advisor-chat serve`: absent without a
token, refused without the right one, an exposition prometheus_client's own parser reads,
counters that move with real calls (functions by path and outcome, requests by route,
scheduled calls started and ended), and the database pool on PostgreSQL only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.ai.openai_server import ScriptedOpenAI
from tests.api.conftest import Served, serving, sign_up
from tests.services import wait_until

TOKEN = "metrics-" + "t" * 24
KEY = "sk-metrics"


@pytest.fixture(scope="module")
def provider() -> Iterator[ScriptedOpenAI]:
    with ScriptedOpenAI() as server:
        server.api_key = KEY
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, provider: ScriptedOpenAI) -> Iterator[Served]:
    env = {"OPENAI_BASE_URL": provider.base_url, "OPENAI_API_KEY": KEY}
    with serving(tmp_path_factory.mktemp("metrics"), env, metrics_token=TOKEN) as served:
        yield served


def scrape(served: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    page = httpx.get(f"{served.base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/plain; version=")
    samples: list[Sample] = [
        sample for family in text_string_to_metric_families(page.text) for sample in family.samples
    ]
    return {(s.name, frozenset(s.labels.items())): s.value for s in samples}


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class Caller:
    def __init__(self, base: str, who: str) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {sign_up(base, f'{who}@example.test')}"}

    def call(self, kind: str, path: str, args: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{self.base}/api/{kind}",
            json={"path": path, "args": args},
            headers=self.headers,
            timeout=10,
        )

    def value(self, kind: str, path: str, args: dict[str, Any]) -> Any:
        answer = self.call(kind, path, args).json()
        assert answer["status"] == "success", answer
        return answer["value"]


def test_without_a_token_there_are_no_metrics(served: tuple[str, str]) -> None:
    base, _ = served
    assert httpx.get(f"{base}/metrics").status_code == 404


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x"],
)
def test_metrics_need_the_token(server: Served, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    refused = httpx.get(f"{server.base}/metrics", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["errorData"]["code"] == "UNAUTHENTICATED"
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "advisor_chat" not in refused.text


def test_calls_move_the_counters_by_function_and_outcome(server: Served) -> None:
    caller = Caller(server.base, "metrics_caller")
    before = scrape(server)
    caller.value("mutation", "users:store", {})
    caller.value("query", "users:current", {})
    caller.value("query", "users:current", {})
    assert caller.call("query", "users:current", {"stray": 1}).status_code == 560
    assert caller.call("query", f"nope:{'x' * 40}", {}).status_code == 560
    after = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    calls = "advisor_chat_function_calls_total"
    assert moved(calls, function="users:current", outcome="success") == 2
    assert moved(calls, function="users:current", outcome="INVALID_ARGUMENT") == 1
    assert moved(calls, function="users:store", outcome="success") == 1
    assert moved(calls, function="unknown", outcome="NOT_FOUND") == 1  # no series per path
    latency = "advisor_chat_function_call_duration_seconds_count"
    assert moved(latency, function="users:current") == 3
    requests = "advisor_chat_http_requests_total"
    assert moved(requests, method="POST", route="/api/query", status="200") == 2
    assert moved(requests, method="POST", route="/api/query", status="560") == 2
    assert moved("advisor_chat_http_request_duration_seconds_count", route="/api/query") == 4
    assert value(after, "advisor_chat_connections_open") >= 1
    assert not any(name.startswith("advisor_chat_db_pool") for name, _ in after)  # SQLite


def test_scheduled_work_is_counted(server: Served, provider: ScriptedOpenAI) -> None:
    """An advisor's answer is a scheduled call in the long lane: started, then ended
    `success`, and nothing left pending or in progress."""
    caller = Caller(server.base, "metrics_chat")
    caller.value("mutation", "users:store", {})
    advisor = caller.value(
        "mutation", "advisors:createAdvisor", {"persona": {"name": "Ada Reyes", "title": "CFO"}}
    )
    conversation = caller.value(
        "mutation", "conversations:createConversation", {"advisorIds": [advisor]}
    )
    before = scrape(server)
    provider.reply("Counted.")
    caller.value(
        "mutation",
        "messages:sendMessage",
        {"conversationId": conversation, "content": "@Ada a question"},
    )

    def answered() -> bool:
        page = caller.value(
            "query",
            "messages:getConversationMessages",
            {"conversationId": conversation, "paginationOpts": {"numItems": 10, "cursor": None}},
        )
        return any(m["sender"] == "advisor" and m["status"] == "complete" for m in page["page"])

    wait_until(answered, 30, "the advisor's answer")

    def settled() -> bool:
        now = scrape(server)
        started = value(now, "advisor_chat_scheduled_started_total", lane="long")
        ended = value(now, "advisor_chat_scheduled_ended_total", state="success")
        return (
            started > value(before, "advisor_chat_scheduled_started_total", lane="long")
            and ended > value(before, "advisor_chat_scheduled_ended_total", state="success")
            and value(now, "advisor_chat_scheduled_running", lane="long") == 0
        )

    wait_until(settled, 10, "the round counted as ended")
    now = scrape(server)
    for lane in ("short", "long"):
        assert (
            "advisor_chat_scheduled_calls",
            frozenset({("lane", lane), ("state", "pending")}),
        ) in now
    assert value(now, "advisor_chat_scheduled_calls", lane="long", state="inProgress") == 0


@pytest.mark.postgres
def test_the_postgres_pool_is_reported(tmp_path: Path, fresh_postgres_url: str) -> None:
    with serving(
        tmp_path, {"DATABASE_URL": fresh_postgres_url}, metrics_token=TOKEN, postgres_pool_size="4"
    ) as served:
        httpx.get(f"{served.base}/ready")
        samples = scrape(served)
    assert value(samples, "advisor_chat_db_pool_max_connections") == 4
    in_use = value(samples, "advisor_chat_db_pool_connections", state="in_use")
    idle = value(samples, "advisor_chat_db_pool_connections", state="idle")
    assert 0 <= in_use <= 4
    assert 1 <= in_use + idle <= 4  # at least the one the scrape's backlog read used
