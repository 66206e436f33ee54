"""The ASGI app. Its lifespan owns the store: opened and upgraded at start, closed at stop;
and the Redis client when REDIS_URL is set (the sign-in throttle's state).

It serves health, readiness, the Convex HTTP API, Convex's sync protocol (api/sync/),
local accounts, the web app's sign-in with the OIDC issuer (api/oidc.py), webhooks, (with
a token) metrics, and the web app (api/webapp.py).

Middleware, outermost first: security headers (they only add to what is sent, so every
answer has them, refusals included); the bounds on bodies and messages, before any work;
quiet disconnects; request metrics; trusted hosts; then the routes. The connection-level
bounds (caps, header size and time) come before all of it, in the server's protocol
(`api/connections.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from starlette.middleware.trustedhost import TrustedHostMiddleware

from advisor_chat import __version__
from advisor_chat.ai.models import Models
from advisor_chat.api.accounts import router as accounts_router
from advisor_chat.api.bounds import Bounds
from advisor_chat.api.connections import Connections
from advisor_chat.api.disconnects import QuietDisconnects
from advisor_chat.api.headers import SecurityHeaders
from advisor_chat.api.http import router as http_router
from advisor_chat.api.metrics import Metrics, RequestMetrics
from advisor_chat.api.oidc import router as oidc_router
from advisor_chat.api.responses import error_response
from advisor_chat.api.sync.route import SyncBounds
from advisor_chat.api.sync.route import router as sync_router
from advisor_chat.api.webapp import WEB_ROOT, mount_webapp
from advisor_chat.api.webhooks import router as webhooks_router
from advisor_chat.auth.accounts import Accounts
from advisor_chat.auth.devices import DeviceTokens
from advisor_chat.auth.discovery import IssuerDiscovery
from advisor_chat.auth.limiter import Limiter, RedisLimiter, StoreLimiter
from advisor_chat.auth.limits import rules_from
from advisor_chat.auth.oidc import OidcVerifier
from advisor_chat.auth.oidc_signin import OidcSignIn
from advisor_chat.auth.secret import load_secret
from advisor_chat.auth.throttle import Throttle
from advisor_chat.auth.tokens import LocalTokens
from advisor_chat.auth.verifier import TokenVerifier
from advisor_chat.auth.webhooks import ClerkWebhooks
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.plans import limits_from
from advisor_chat.functions.runner import Runner
from advisor_chat.functions.scheduled import ScheduledWorker
from advisor_chat.functions.timings import Timings
from advisor_chat.importers.marketplace import load_shipped
from advisor_chat.live.presence import Presence
from advisor_chat.live.subscriptions import Subscriptions
from advisor_chat.log import get_logger
from advisor_chat.settings import Settings
from advisor_chat.store import Store

log = get_logger(__name__)

# A Redis that does not answer within this costs a sign-in that long once, then the store
# counts it instead (auth/limiter.py); one quick retry rides over a connection it dropped.
REDIS_TIMEOUT_S = 0.5


def create_app(
    settings: Settings, connections: Connections | None = None, web_root: Path = WEB_ROOT
) -> FastAPI:
    """`connections`: the server's, when `serve` runs the app (its counts reach /metrics).
    `web_root`: the built web app (another only in tests)."""
    refused: Counter[str] = Counter()
    metrics = Metrics(refused=refused, connections=connections)
    rules = rules_from(settings.auth_limits)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store.from_settings(settings)
        async with store:
            done = await store.migrate()
            log.info("store_ready", backend=store.backend.dialect.name, changes=len(done))
            if "created table advisors" in done:  # a new database: ship the marketplace
                shipped = await load_shipped(store, only_missing=True)
                log.info("marketplace_loaded", documents=shipped.changed)
            app.state.store = store
            models = Models.from_settings(settings)  # the embedded model loads on first use
            app.state.models = models
            app.state.runner = Runner(
                store,
                build_registry(),
                limits=limits_from(settings.quotas),
                models=models,
                timings=Timings.from_settings(settings),
            )
            app.state.tokens = LocalTokens(load_secret(settings))
            app.state.accounts = Accounts(store, app.state.tokens)
            app.state.devices = DeviceTokens(app.state.tokens.secret)
            redis = redis_client(settings)
            limiter: Limiter = StoreLimiter(store)
            if redis is not None:
                limiter = RedisLimiter(redis, fallback=limiter)
            app.state.throttle = Throttle(limiter, rules, app.state.tokens.secret)
            secret = settings.clerk_webhook_secret
            app.state.clerk_webhooks = (
                ClerkWebhooks(store, secret.get_secret_value(), oidc_issuer(settings))
                if secret
                else None
            )
            subscriptions = Subscriptions(store.commits)
            app.state.subscriptions = subscriptions
            presence = Presence(store, settings.presence_lease * 1000)
            app.state.presence = presence
            scheduled = ScheduledWorker(store, app.state.runner)
            metrics.watch(store, scheduled, subscriptions)
            worker = asyncio.create_task(scheduled.run_forever())
            # Other processes' commits (another `serve`, an import) reach this one's listeners.
            follower = asyncio.create_task(store.follow())
            leases = asyncio.create_task(presence.run_forever())
            try:
                async with httpx.AsyncClient() as http:
                    oidc = oidc_verifier(settings, http)
                    app.state.verifier = TokenVerifier(app.state.tokens, oidc)
                    app.state.oidc_signin = oidc_signin(settings, http, oidc)
                    yield
            finally:
                for task in (leases, follower, worker):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                subscriptions.close()
                await models.aclose()
                if redis is not None:
                    await redis.aclose()

    # No framework docs pages (our OpenAPI document is /api/openapi.json), and no
    # trailing-slash redirects: they would build their target from the Host header.
    app = FastAPI(
        title="AI Advisor Chat",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.metrics = metrics
    app.state.sync_bounds = SyncBounds.from_settings(settings)
    hosts = [h.strip() for h in settings.allowed_hosts.split(",") if h.strip()]
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=hosts or ["*"])
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(QuietDisconnects)  # nothing it catches needs an answer
    app.add_middleware(
        Bounds,
        max_body_bytes=settings.max_body_bytes,
        max_webhook_body_bytes=settings.max_webhook_body_bytes,
        body_timeout=settings.body_timeout,
        ws_max_size=settings.ws_max_size,
        refused=refused,
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, refusals included
    app.include_router(http_router)
    app.include_router(accounts_router)
    app.include_router(oidc_router)
    app.include_router(webhooks_router)
    app.include_router(sync_router)

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/ready", response_model=None)
    async def ready() -> JSONResponse:
        """Readiness: the database answers a read."""
        store: Store = app.state.store

        async def probe(tx: object) -> None:
            from advisor_chat.store import Transaction

            assert isinstance(tx, Transaction)
            await tx.query("users").take(1)

        try:
            await store.query(probe)
        except Exception as exc:  # any failure means "not ready": reported, not raised
            log.warning("not_ready", error=str(exc))
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": store.backend.dialect.name})

    token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    if token:

        @app.get("/metrics", response_model=None)
        async def metrics_page(request: Request) -> Response:
            """Prometheus metrics, to the bearer of the metrics token only."""
            scheme, _, offered = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                offered.strip().encode(), token.encode()
            ):
                refusal = error_response(
                    FunctionError(Code.UNAUTHENTICATED, "metrics need the metrics token")
                )
                refusal.headers["www-authenticate"] = "Bearer"
                return refusal
            return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    mount_webapp(app, settings, web_root)  # last: its fallback answers what nothing else did
    return app


def redis_client(settings: Settings) -> Redis | None:
    """The client of REDIS_URL, if set. It connects on first use: a Redis down at start
    only sends the throttle to the store until it answers."""
    if settings.redis_url is None:
        return None
    return Redis.from_url(
        settings.redis_url,
        socket_timeout=REDIS_TIMEOUT_S,
        socket_connect_timeout=REDIS_TIMEOUT_S,
        retry=Retry(NoBackoff(), 1),
    )


def oidc_issuer(settings: Settings) -> str | None:
    """The configured issuer, as its tokens' `iss` names it."""
    return settings.oidc_issuer.rstrip("/") if settings.oidc_issuer else None


def oidc_verifier(settings: Settings, http: httpx.AsyncClient) -> OidcVerifier | None:
    """The issuer's verifier. The web app's client id is one more accepted `azp` and `aud`:
    the id tokens of its own sign-in (api/oidc.py) name it in both. (With no authorized
    parties configured every `azp` is accepted, so it is not added: that would refuse the
    others.)"""
    issuer = oidc_issuer(settings)
    if issuer is None:
        return None
    parties = tuple(p.strip() for p in settings.oidc_authorized_parties.split(",") if p.strip())
    client = settings.oidc_client_id
    audience: str | tuple[str, ...] | None = settings.oidc_audience
    if client:
        parties = (*parties, client) if parties else ()
        audience = (settings.oidc_audience, client) if settings.oidc_audience else None
    return OidcVerifier(
        issuer=issuer,
        jwks_url=settings.oidc_jwks_url or None,
        http=http,
        audience=audience,
        authorized_parties=parties,
        discovery=IssuerDiscovery(issuer, http),
    )


def oidc_signin(
    settings: Settings, http: httpx.AsyncClient, verifier: OidcVerifier | None
) -> OidcSignIn | None:
    """The web app's sign-in with the issuer: offered when a client id is configured too."""
    if verifier is None or verifier.discovery is None or not settings.oidc_client_id:
        return None
    secret = settings.oidc_client_secret
    return OidcSignIn(
        verifier,
        settings.oidc_client_id,
        secret.get_secret_value() if secret else None,
        settings.oidc_scopes,
        http,
        verifier.discovery,
    )
