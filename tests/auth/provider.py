"""An OIDC provider for tests: a real local HTTP server that signs people in by the
authorization-code flow with PKCE, as Clerk or any issuer does, so the web app's sign-in is
tested end to end (api/oidc.py over HTTP here; the browser tests click its page).

    with OidcProvider(redirect_uris=["http://127.0.0.1:8123/signin/callback"]) as provider:
        settings = Settings(oidc_issuer=provider.issuer, oidc_client_id=provider.client_id)

It serves, at `provider.issuer` (its own http://127.0.0.1:PORT):
    GET  /.well-known/openid-configuration   discovery (`discovery_issuer` overrides its issuer)
    GET  /.well-known/jwks.json              its RSA key (at `jwks_path`, which discovery names)
    GET  /authorize                          a consent page: "Continue as <name>" or "Cancel";
                                             an invalid request shows an error page (400) and
                                             never redirects
    POST /authorize                          that page's form: 302 to the redirect URI with
                                             ?code=…&state=… or ?error=access_denied&state=…
    POST /token                              authorization_code (single use, short-lived,
                                             PKCE S256, same redirect URI and client) and
                                             refresh_token (rotated: the old one is refused)
    POST /revoke                             RFC 7009; records the token

It records what a test asserts: `codes_used`, `revoked`, `token_requests`. Its settings are
attributes, changeable while it runs. `stop()` and `start()` take it down and bring it back
on the same port (so at the same issuer).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt

from tests.auth.issuer import new_key

CLIENT_ID = "advisor-chat-web"
KID = "provider-1"


@dataclass(frozen=True)
class User:
    """Who the provider signs in."""

    sub: str = "user_ada"
    email: str = "ada@example.test"
    name: str = "Ada Lovelace"


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: User
    issued: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class TokenRequest:
    """One POST /token as the provider saw it."""

    grant_type: str
    client_auth: str  # "none", "client_secret_basic" or "client_secret_post"
    status: int
    error: str | None


class OidcProvider:
    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        redirect_uris: Iterable[str] = (),
        client_secret: str | None = None,
        auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post"),
        user: User | None = None,
        app_name: str = "AI Advisor Chat",
        token_lifetime_s: int = 300,
        code_lifetime_s: float = 60.0,
        issue_refresh_tokens: bool = True,
        port: int = 0,
    ) -> None:
        """`client_secret`: a confidential client (the token endpoint requires it).
        `auth_methods`: the token endpoint's, as discovery lists them. `port` 0: a free one."""
        self.client_id = client_id
        self.redirect_uris = list(redirect_uris)
        self.client_secret = client_secret
        self.auth_methods = auth_methods
        self.user = user or User()
        self.app_name = app_name
        self.token_lifetime_s = token_lifetime_s
        self.code_lifetime_s = code_lifetime_s
        self.issue_refresh_tokens = issue_refresh_tokens
        self.id_token_on_refresh = True  # False: a refresh answers no id_token
        self.discovery_issuer: str | None = None  # another issuer in discovery, to refuse
        # Where the keys are served, as discovery's jwks_uri says (Keycloak's, say).
        self.jwks_path = "/.well-known/jwks.json"
        self.key = new_key()
        self.codes_used: list[str] = []
        self.revoked: list[str] = []
        self.token_requests: list[TokenRequest] = []
        self.port = port
        self._codes: dict[str, _Code] = {}
        self._refresh: dict[str, User] = {}  # live refresh tokens
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Serve on `port` (a free one the first time if 0, then the same one again)."""
        assert self._server is None, "already serving"
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop answering: connections to it are refused until `start()`."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        assert self._thread is not None
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests read -------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    url = issuer

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/authorize"

    def register(self, redirect_uri: str) -> None:
        """Accept one more redirect URI (e.g. once the app's port is known)."""
        with self._lock:
            self.redirect_uris.append(redirect_uri)

    def refresh_tokens(self) -> set[str]:
        """The refresh tokens that still work."""
        with self._lock:
            return set(self._refresh)

    def id_token(self, user: User | None = None, nonce: str | None = None, **changes: Any) -> str:
        """An id token as /token issues it, with `changes` to its claims."""
        who = user or self.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": who.sub,
            "aud": self.client_id,
            "azp": self.client_id,
            "email": who.email,
            "name": who.name,
            "iat": now,
            "exp": now + self.token_lifetime_s,
        }
        if nonce is not None:
            claims["nonce"] = nonce
        return jwt.encode(claims | changes, self.key, algorithm="RS256", headers={"kid": KID})

    # -- documents -------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}{self.jwks_path}",
            "revocation_endpoint": f"{self.issuer}/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
            "scopes_supported": ["openid", "email", "profile", "offline_access"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [jwk | {"kid": KID, "alg": "RS256", "use": "sig"}]}

    # -- the flow --------------------------------------------------------------------------

    def authorization_problem(self, params: dict[str, str]) -> str | None:
        """Why an authorization request is refused outright (shown, never redirected to)."""
        if params.get("client_id") != self.client_id:
            return f"unknown client {params.get('client_id')!r}"
        if params.get("redirect_uri") not in self.redirect_uris:
            return f"redirect URI {params.get('redirect_uri')!r} is not registered"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "a code_challenge with code_challenge_method S256 is required"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        return None

    def consent_page(self, params: dict[str, str]) -> str:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        name = html.escape(self.user.name)
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: test provider</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 30rem; margin: 4rem auto;">
<h1>Sign in to {html.escape(self.app_name)}</h1>
<p>{html.escape(self.app_name)} (<code>{html.escape(self.client_id)}</code>) asks to know
who you are: {name}, {html.escape(self.user.email)}.</p>
<form method="post" action="/authorize">{hidden}
<button type="submit" name="decision" value="allow">Continue as {name}</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form></body></html>"""

    def decide(self, params: dict[str, str]) -> str:
        """The redirect after the consent page: a new code, or access_denied."""
        answer: dict[str, str]
        if params.get("decision") == "allow":
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = _Code(
                    client_id=params["client_id"],
                    redirect_uri=params["redirect_uri"],
                    challenge=params["code_challenge"],
                    nonce=params.get("nonce"),
                    user=replace(self.user),
                )
            answer = {"code": code}
        else:
            answer = {"error": "access_denied"}
        if "state" in params:
            answer["state"] = params["state"]
        target = params["redirect_uri"]
        return f"{target}{'&' if '?' in target else '?'}{urlencode(answer)}"

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """POST /token's status and JSON answer."""
        client, method, problem = self._client(form, authorization)
        grant = form.get("grant_type", "")
        status, answer = (401, {"error": "invalid_client", "error_description": problem})
        if problem is None:
            if grant == "authorization_code":
                status, answer = self._code_grant(form, client)
            elif grant == "refresh_token":
                status, answer = self._refresh_grant(form)
            else:
                status, answer = 400, {"error": "unsupported_grant_type"}
        with self._lock:
            self.token_requests.append(TokenRequest(grant, method, status, answer.get("error")))
        return status, answer

    def revoke(self, form: dict[str, str], authorization: str | None) -> int:
        _, _, problem = self._client(form, authorization)
        if problem is not None:
            return 401
        token = form.get("token", "")
        with self._lock:
            self.revoked.append(token)
            self._refresh.pop(token, None)
        return 200

    def _client(
        self, form: dict[str, str], authorization: str | None
    ) -> tuple[str | None, str, str | None]:
        """The client id, how it authenticated, and what is wrong with that (or None)."""
        client, secret, method = form.get("client_id"), form.get("client_secret"), "none"
        if secret is not None:
            method = "client_secret_post"
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            decoded = base64.b64decode(value).decode()
            user, _, password = decoded.partition(":")
            client, secret, method = unquote(user), unquote(password), "client_secret_basic"
        if client != self.client_id:
            return client, method, f"unknown client {client!r}"
        if self.client_secret is not None:
            if method not in self.auth_methods:
                return client, method, "the client must authenticate with its secret"
            if secret is None or not secrets.compare_digest(secret, self.client_secret):
                return client, method, "wrong client secret"
        return client, method, None

    def _code_grant(self, form: dict[str, str], client: str | None) -> tuple[int, dict[str, Any]]:
        code = form.get("code", "")
        with self._lock:
            issued = self._codes.get(code)
            if issued is None or code in self.codes_used:
                return 400, {"error": "invalid_grant", "error_description": "unknown or used code"}
            if time.monotonic() - issued.issued > self.code_lifetime_s:
                return 400, {"error": "invalid_grant", "error_description": "the code expired"}
            if issued.client_id != client or issued.redirect_uri != form.get("redirect_uri"):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "client or redirect_uri differs",
                }
            verifier = form.get("code_verifier", "").encode()
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
            if not secrets.compare_digest(digest.decode(), issued.challenge):
                return 400, {
                    "error": "invalid_grant",
                    "error_description": "PKCE verification failed",
                }
            self.codes_used.append(code)
        return 200, self._tokens(issued.user, issued.nonce)

    def _refresh_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            user = self._refresh.pop(form.get("refresh_token", ""), None)
        if user is None:
            return 400, {"error": "invalid_grant", "error_description": "unknown refresh token"}
        if self.user.sub == user.sub:  # the profile as it is now, as an issuer answers it
            user = self.user
        answer = self._tokens(user, None)
        if not self.id_token_on_refresh:
            del answer["id_token"]
        return 200, answer

    def _tokens(self, user: User, nonce: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.token_lifetime_s,
            "id_token": self.id_token(user, nonce),
        }
        if self.issue_refresh_tokens:
            refresh = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh[refresh] = user
            answer["refresh_token"] = refresh
        return answer


def _handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, kind: str, location: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if location is not None:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, answer: dict[str, Any]) -> None:
            self._send(status, json.dumps(answer).encode(), "application/json")

        def _error_page(self, problem: str) -> None:
            page = (
                "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
                "<title>Sign-in error</title></head><body><h1>This sign-in request is "
                f"invalid</h1><p>{html.escape(problem)}</p></body></html>"
            )
            self._send(400, page.encode(), "text/html; charset=utf-8")

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif parts.path == provider.jwks_path:
                self._json(200, provider.jwks())
            elif parts.path == "/authorize":
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                problem = provider.authorization_problem(params)
                if problem is not None:
                    self._error_page(problem)
                else:
                    page = provider.consent_page(params)
                    self._send(200, page.encode(), "text/html; charset=utf-8")
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            form = self._form()
            authorization = self.headers.get("Authorization")
            if path == "/authorize":
                problem = provider.authorization_problem(form)
                if problem is not None:
                    self._error_page(problem)
                else:
                    self._send(302, b"", "text/plain", location=provider.decide(form))
            elif path == "/token":
                self._json(*provider.token(form, authorization))
            elif path == "/revoke":
                self._send(provider.revoke(form, authorization), b"", "text/plain")
            else:
                self._json(404, {"error": "not_found"})

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read what the provider recorded, not its log."""

    return Handler


class ConsentForm(HTMLParser):
    """The consent page's form as a browser would submit it: its action, its hidden
    fields, and the value of each button by its text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}
        self.buttons: dict[str, str] = {}
        self._button: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.action = values.get("action", "")
        elif tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "button":
            self._button = values.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._button is not None and data.strip():
            self.buttons[data.strip()] = self._button

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._button = None

    def pressing(self, button: str) -> dict[str, str]:
        """The form's body when `button` (its text) is pressed."""
        return self.fields | {"decision": self.buttons[button]}
