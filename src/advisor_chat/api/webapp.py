"""The browser app: its built files (web/ builds into the package's `webapp/` folder, so a
wheel carries them and needs no Node), and /api/config, what the app needs to know about
this server before anyone signs in.

Client-side routes (/chat/…, /marketplace) answer index.html, but only where no route
matched, and never under the server's own prefixes: an unknown /api or /auth path stays a
404, as does a missing hashed asset. Hashed assets are cached for a year (their name
changes with their content); index.html is never cached (the security headers' no-store),
so a new build is picked up on the next load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException

from advisor_chat import __version__
from advisor_chat.settings import Settings

WEB_ROOT = Path(__file__).resolve().parent.parent / "webapp"
ASSET_CACHE = "public, max-age=31536000, immutable"  # content-hashed names: never stale
FILE_CACHE = "no-cache"  # favicon and the like: kept, revalidated by ETag
# First path segments the app never answers for: the server's own, present or not.
RESERVED = frozenset(
    {"api", "auth", "webhooks", "health", "ready", "metrics", "docs", "redoc", "assets"}
)

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AI Advisor Chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto;">
<h1>AI Advisor Chat</h1>
<p>The server is running (version {version}, database: {database}), but the web app has
not been built. <code>scripts/serve</code> builds it; by hand, with Node and npm:</p>
<pre>npm ci --prefix web &amp;&amp; npm run build --prefix web</pre>
<p><a href="/health">/health</a> and <a href="/ready">/ready</a> report the server's
state; the Convex HTTP API is at /api.</p>
</body></html>
"""


def server_config(settings: Settings) -> dict[str, Any]:
    """What the app shows before sign-in: the sign-ins offered and whether answers come
    from the small embedded model. Never a secret, a path or a URL beyond the issuer's."""
    issuer = settings.oidc_issuer.rstrip("/") if settings.oidc_issuer else None
    oidc = None
    if issuer:
        # browser: the web app can sign in with the issuer itself (api/oidc.py)
        browser = bool(settings.oidc_client_id)
        oidc = {"issuer": issuer, "name": settings.oidc_name, "browser": browser}
    return {
        "version": __version__,
        "signIn": {"local": True, "oidc": oidc},
        "model": {"embedded": not (settings.openai_base_url or settings.openai_api_key)},
    }


def _is_reserved(path: str) -> bool:
    first = path.lstrip("/").split("/", 1)[0]
    return first in RESERVED or first.startswith("openapi")


def _file_under(root: Path, relative: str) -> Path | None:
    """The file `relative` names inside `root`, or None (missing, a folder, or outside)."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        return None
    return candidate


def mount_webapp(app: FastAPI, settings: Settings, root: Path = WEB_ROOT) -> None:
    """Add /api/config, /assets/… and the client-route fallback to `app`; call it after
    every other route is added."""
    # Which database, never where it is: a page anyone can open must not reveal paths.
    database = "PostgreSQL" if settings.uses_postgres else "SQLite"
    config = server_config(settings)

    @app.get("/api/config")
    async def web_config() -> dict[str, Any]:
        """The sign-ins and model this server offers the web app."""
        return config

    @app.get("/assets/{name:path}", include_in_schema=False, response_model=None)
    async def asset(name: str) -> Response:
        found = _file_under(root / "assets", name)
        if found is None:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        return FileResponse(found, headers={"cache-control": ASSET_CACHE})

    def index() -> Response:
        page = root / "index.html"
        if not page.is_file():
            return HTMLResponse(NOT_BUILT.format(version=__version__, database=database))
        return FileResponse(page, media_type="text/html")

    @app.get("/", include_in_schema=False, response_model=None)
    async def home() -> Response:
        return index()

    async def not_found(request: Request, exc: Exception) -> Response:
        """No route matched: a GET for a page of the app answers index.html (a file the
        build put at its root, itself); anything else is the usual answer."""
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if exc.status_code != 404 or request.method not in ("GET", "HEAD") or _is_reserved(path):
            return await http_exception_handler(request, exc)
        last = path.rsplit("/", 1)[-1]
        if "." in last:  # a file's name: the build's own, or nothing
            found = _file_under(root, path.lstrip("/"))
            if found is None or found.name == "index.html":
                return await http_exception_handler(request, exc)
            return FileResponse(found, headers={"cache-control": FILE_CACHE})
        return index()

    app.add_exception_handler(HTTPException, not_found)
