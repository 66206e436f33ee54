"""The web app's files as the server answers them (api/webapp.py): index.html for the
app's own pages and nowhere else, hashed assets cached for a year, a page saying how to
build the app when it was not built, and /api/config."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from advisor_chat.api.app import create_app
from advisor_chat.api.webapp import ASSET_CACHE
from advisor_chat.settings import Settings

INDEX = "<!doctype html><title>app</title><div id=root></div>"


@asynccontextmanager
async def _client(web_root: Path, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, web_root=web_root)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        yield client


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = tmp_path / "webapp"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX)
    (root / "assets" / "index-abc123.js").write_text("console.log(1)")
    (root / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside the web root")
    return root


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.mark.parametrize("path", ["/", "/chat/k57abc", "/marketplace", "/advisors"])
async def test_the_apps_pages_answer_its_index(built: Path, settings: Settings, path: str) -> None:
    async with _client(built, settings) as client:
        answer = await client.get(path)
    assert answer.status_code == 200
    assert answer.text == INDEX
    assert answer.headers["cache-control"] == "no-store"  # a new build is seen on reload


@pytest.mark.parametrize(
    "path",
    [
        "/api/no-such-function",
        "/auth/nothing",
        "/webhooks/none",
        "/health/",
        "/metrics",
        "/docs",
        "/openapi.json",
        "/assets/index-gone.js",
        "/robots.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
    ],
)
async def test_the_servers_own_paths_and_missing_files_stay_404(
    built: Path, settings: Settings, path: str
) -> None:
    async with _client(built, settings) as client:
        answer = await client.get(path)
    assert answer.status_code == 404
    assert "outside the web root" not in answer.text
    assert INDEX not in answer.text


async def test_an_unknown_api_call_is_not_answered_by_the_app(
    built: Path, settings: Settings
) -> None:
    async with _client(built, settings) as client:
        answer = await client.post("/api/nothing", json={})
    assert answer.status_code == 404


async def test_hashed_assets_are_cached_for_a_year(built: Path, settings: Settings) -> None:
    async with _client(built, settings) as client:
        script = await client.get("/assets/index-abc123.js")
        icon = await client.get("/favicon.svg")
    assert script.status_code == 200
    assert script.headers["cache-control"] == ASSET_CACHE
    assert "javascript" in script.headers["content-type"]
    assert script.headers["x-content-type-options"] == "nosniff"
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"


async def test_an_unbuilt_app_says_how_to_build_it_and_reveals_no_path(
    tmp_path: Path, settings: Settings
) -> None:
    async with _client(tmp_path / "not-built", settings) as client:
        answer = await client.get("/chat/anything")
    assert answer.status_code == 200
    assert "npm run build --prefix web" in answer.text
    assert "scripts/serve" in answer.text
    assert "SQLite" in answer.text
    assert str(tmp_path) not in answer.text


async def test_config_names_the_sign_ins_and_the_model_and_no_secret(
    built: Path, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        oidc_issuer="https://clerk.example.com/",
        openai_api_key=SecretStr("sk-not-to-be-shown"),
    )
    async with _client(built, settings) as client:
        answer = await client.get("/api/config")
    assert answer.status_code == 200
    assert answer.json()["signIn"] == {
        "local": True,
        "oidc": {"issuer": "https://clerk.example.com", "name": "single sign-on", "browser": False},
    }
    assert answer.json()["model"] == {"embedded": False}
    assert "sk-not" not in answer.text
