"""Prometheus metrics, served at /metrics to a bearer of `metrics_token` (unset: no such
page): requests by route and status, function calls by path and outcome, latencies, open
and refused connections, scheduled work, the database pool, live queries (their runs and
the invalidations commits caused).

The registry is the app's own, not prometheus_client's global one: two apps in one
process (the tests) count apart. Every label has a bounded set of values: a route is its
template, a function one the registry declares (others are `unknown`), a method one of
HTTP's own, so no client can grow the series.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client import Counter as CounterMetric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from advisor_chat.api.connections import Connections
    from advisor_chat.functions.scheduled import ScheduledWorker
    from advisor_chat.live.subscriptions import Subscriptions
    from advisor_chat.store import Store

BACKLOG_CAP = 1000  # scheduled calls counted per lane and state on each scrape, at most
# Seconds: from a health check (ms) to an advisor's streamed answer (a minute or more).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SUCCESS = "success"


class Metrics:
    """The app's metrics. The HTTP layer records calls (`observe_call`) and
    `RequestMetrics` requests; the rest is read from their owners on each scrape, once the
    lifespan has handed them over (`watch`)."""

    def __init__(self, *, refused: Counter[str], connections: Connections | None) -> None:
        self.registry = CollectorRegistry()
        self.requests = CounterMetric(
            "advisor_chat_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "advisor_chat_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "advisor_chat_http_requests_in_progress",
            "HTTP requests being answered now.",
            registry=self.registry,
        )
        self.calls = CounterMetric(
            "advisor_chat_function_calls",
            "Function calls over the HTTP API (/api/query, mutation, action, function, run), by "
            "function path and outcome: success, or the error code.",
            ["function", "outcome"],
            registry=self.registry,
        )
        self.call_seconds = Histogram(
            "advisor_chat_function_call_duration_seconds",
            "Time a function call over the HTTP API took, by function path.",
            ["function"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self._live = _Live(refused, connections)
        self.registry.register(self._live)

    def watch(
        self, store: Store, worker: ScheduledWorker, subscriptions: Subscriptions | None = None
    ) -> None:
        self._live.store = store
        self._live.worker = worker
        self._live.subscriptions = subscriptions

    def observe_call(self, function: str, outcome: str, seconds: float) -> None:
        self.calls.labels(function, outcome).inc()
        self.call_seconds.labels(function).observe(seconds)

    async def exposition(self) -> bytes:
        """The text format, after one read of the scheduled backlog."""
        worker = self._live.worker
        backlog = await worker.backlog(BACKLOG_CAP) if worker is not None else {}
        self._live.backlog = {(str(lane), state): n for (lane, state), n in backlog.items()}
        return generate_latest(self.registry)


class _Live(Collector):
    """What the app's parts count themselves, read at each scrape."""

    def __init__(self, refused: Counter[str], connections: Connections | None) -> None:
        self.refused = refused
        self.connections = connections
        self.store: Store | None = None
        self.worker: ScheduledWorker | None = None
        self.subscriptions: Subscriptions | None = None
        self.backlog: dict[tuple[str, str], int] = {}

    def collect(self) -> Iterable[Metric]:
        yield _counter(
            "advisor_chat_requests_refused",
            "Requests refused before any work (body too large or too slow), by error code.",
            "code",
            self.refused.items(),
        )
        if self.connections is not None:
            yield GaugeMetricFamily(
                "advisor_chat_connections_open",
                "Open client connections (HTTP and WebSocket).",
                value=self.connections.open,
            )
            yield _counter(
                "advisor_chat_connections_refused",
                "Connections refused or closed at the edge, by reason (max_connections, "
                "max_connections_per_client, headers_too_large, header_timeout, idle).",
                "reason",
                self.connections.refused.items(),
            )
        yield from self._scheduled()
        yield from self._pool()
        yield from self._sync()

    def _sync(self) -> Iterator[Metric]:
        subscriptions = self.subscriptions
        if subscriptions is None:
            return
        yield GaugeMetricFamily(
            "advisor_chat_sync_queries",
            "Queries subscribed over the sync protocol in this process.",
            value=subscriptions.queries,
        )
        yield CounterMetricFamily(
            "advisor_chat_sync_query_runs",
            "Runs of subscribed queries (first runs and re-runs) in this process.",
            value=subscriptions.runs,
        )
        yield CounterMetricFamily(
            "advisor_chat_sync_query_cache_hits",
            "Subscribed queries answered from another session's result for the same query, "
            "arguments and identity, instead of a run.",
            value=subscriptions.cache.hits,
        )
        yield CounterMetricFamily(
            "advisor_chat_sync_invalidations",
            "Subscribed queries that commits marked for a re-run (a query marked by several "
            "commits before it re-runs counts each time).",
            value=subscriptions.invalidations,
        )

    def _scheduled(self) -> Iterator[Metric]:
        worker = self.worker
        if worker is None:
            return
        backlog = GaugeMetricFamily(
            "advisor_chat_scheduled_calls",
            f"Scheduled calls pending or in progress in every process, by lane and state "
            f"(counted up to {BACKLOG_CAP}).",
            labels=["lane", "state"],
        )
        for (lane, state), count in sorted(self.backlog.items()):
            backlog.add_metric([lane, state], count)
        yield backlog
        running = GaugeMetricFamily(
            "advisor_chat_scheduled_running",
            "Scheduled calls this process runs now, by lane.",
            labels=["lane"],
        )
        for lane, count in sorted(worker.running_by_lane().items()):
            running.add_metric([lane], count)
        yield running
        yield _counter(
            "advisor_chat_scheduled_started",
            "Scheduled calls this process started, by lane.",
            "lane",
            worker.started.items(),
        )
        yield _counter(
            "advisor_chat_scheduled_ended",
            "Scheduled calls this process ended, by state (success, failed, canceled).",
            "state",
            worker.ended.items(),
        )

    def _pool(self) -> Iterator[Metric]:
        usage = self.store.backend.pool_usage() if self.store is not None else None
        if usage is None:
            return
        pool = GaugeMetricFamily(
            "advisor_chat_db_pool_connections",
            "Database pool connections, by state (in_use, idle).",
            labels=["state"],
        )
        pool.add_metric(["in_use"], usage.in_use)
        pool.add_metric(["idle"], usage.size - usage.in_use)
        yield pool
        yield GaugeMetricFamily(
            "advisor_chat_db_pool_max_connections",
            "The database pool's size limit.",
            value=usage.max_size,
        )


def _counter(
    name: str, documentation: str, label: str, counts: Iterable[tuple[str, int]]
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts):
        family.add_metric([value], count)
    return family


class RequestMetrics:
    """ASGI middleware counting and timing each HTTP request by its route template (the
    router sets `scope["route"]`; requests it matched nothing to are `unmatched`)."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = "none"  # the client left before an answer

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        started = time.perf_counter()
        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            self.metrics.in_progress.dec()
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.requests.labels(method, route, status).inc()
            self.metrics.request_seconds.labels(route).observe(time.perf_counter() - started)
