"""The web app's sign-in with an OIDC issuer, end to end: a real app, and a real provider
(tests/auth/provider.py) whose consent page is submitted as a browser would. The id token
the exchange answers is then the caller's bearer token on the Convex HTTP API."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from advisor_chat.api.app import create_app
from advisor_chat.settings import Settings
from tests.auth.provider import ConsentForm, OidcProvider, User

REDIRECT = "http://127.0.0.1:9/signin/callback"  # registered; the tests read the redirect
CONTINUE = "Continue as Ada Lovelace"


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with OidcProvider(redirect_uris=[REDIRECT]) as served:
        yield served


@asynccontextmanager
async def app_client(tmp_path: Path, **settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(data_dir=tmp_path, secret_key=SecretStr("s" * 40), **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http


def configured(provider: OidcProvider, **more: Any) -> dict[str, Any]:
    return {"oidc_issuer": provider.issuer, "oidc_client_id": provider.client_id} | more


@pytest.fixture
async def client(tmp_path: Path, provider: OidcProvider) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(tmp_path, **configured(provider)) as http:
        yield http


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Attempt:
    """What the browser keeps between sending someone to the issuer and their return."""

    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uri: str = REDIRECT

    @property
    def challenge(self) -> str:
        return _b64url(hashlib.sha256(self.verifier.encode()).digest())

    def authorize_body(self) -> dict[str, str]:
        return {
            "redirectUri": self.redirect_uri,
            "codeChallenge": self.challenge,
            "state": self.state,
            "nonce": self.nonce,
        }

    def token_body(self, code: str) -> dict[str, str]:
        return {
            "code": code,
            "codeVerifier": self.verifier,
            "redirectUri": self.redirect_uri,
            "nonce": self.nonce,
        }


async def returned_to_app(client: httpx.AsyncClient, attempt: Attempt, button: str) -> str:
    """Where the issuer sends the browser back after `button` on its consent page."""
    answer = await client.post("/auth/oidc/authorize", json=attempt.authorize_body())
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    async with httpx.AsyncClient() as browser:
        page = await browser.get(url)
        assert page.status_code == 200, page.text
        form = ConsentForm(page.text)
        back = await browser.post(urljoin(url, form.action), data=form.pressing(button))
    assert back.status_code == 302
    return back.headers["location"]


async def code_for(client: httpx.AsyncClient, attempt: Attempt) -> str:
    location = await returned_to_app(client, attempt, CONTINUE)
    assert location.startswith(attempt.redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [attempt.state]
    return query["code"][0]


async def signed_in(client: httpx.AsyncClient, attempt: Attempt | None = None) -> dict[str, Any]:
    attempt = attempt or Attempt()
    code = await code_for(client, attempt)
    answer = await client.post("/auth/oidc/token", json=attempt.token_body(code))
    assert answer.status_code == 200, answer.text
    tokens: dict[str, Any] = answer.json()
    return tokens


async def call(client: httpx.AsyncClient, kind: str, path: str, token: str) -> dict[str, Any]:
    answer = await client.post(
        f"/api/{kind}",
        json={"path": path, "args": {}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = answer.json()
    return body


def refused(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.json()["errorData"]["code"] == code
    message: str = answer.json()["errorMessage"]
    return message


async def test_authorize_answers_the_issuers_url_with_every_parameter(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    attempt = Attempt()
    answer = await client.post("/auth/oidc/authorize", json=attempt.authorize_body())
    assert answer.status_code == 200, answer.text
    url = urlsplit(answer.json()["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == provider.authorize_url
    assert parse_qs(url.query) == {
        "response_type": ["code"],
        "client_id": [provider.client_id],
        "redirect_uri": [REDIRECT],
        "scope": ["openid email profile"],
        "state": [attempt.state],
        "nonce": [attempt.nonce],
        "code_challenge": [attempt.challenge],
        "code_challenge_method": ["S256"],
    }


async def test_signing_in_gives_a_token_that_calls_the_api_as_that_person(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    tokens = await signed_in(client)
    assert set(tokens) == {"accessToken", "refreshToken", "expiresIn"}
    assert 0 < tokens["expiresIn"] <= provider.token_lifetime_s
    assert tokens["refreshToken"] in provider.refresh_tokens()
    stored = await call(client, "mutation", "users:store", tokens["accessToken"])
    assert stored["status"] == "success", stored
    me = (await call(client, "query", "users:current", tokens["accessToken"]))["value"]
    assert (me["email"], me["name"]) == ("ada@example.test", "Ada Lovelace")
    assert len(provider.codes_used) == 1


async def test_keys_are_found_where_the_issuers_discovery_says(
    tmp_path: Path, provider: OidcProvider
) -> None:
    """An issuer that keeps its keys elsewhere than Clerk does (Keycloak's path) needs no
    JWKS setting: discovery's `jwks_uri` is followed; without discovery's word, or with
    the setting, the keys are where those say."""
    provider.jwks_path = "/protocol/openid-connect/certs"
    async with app_client(tmp_path, **configured(provider)) as http:
        tokens = await signed_in(http)
        stored = await call(http, "mutation", "users:store", tokens["accessToken"])
        assert stored["status"] == "success", stored
    wrong = configured(provider, oidc_jwks_url=f"{provider.issuer}/.well-known/jwks.json")
    async with app_client(tmp_path / "wrong", **wrong) as http:
        attempt = Attempt()
        code = await code_for(http, attempt)
        answer = await http.post("/auth/oidc/token", json=attempt.token_body(code))
        assert "cannot fetch the issuer's keys" in refused(answer, 401, "UNAUTHENTICATED")


async def test_cancel_on_the_issuers_page_returns_access_denied(
    client: httpx.AsyncClient,
) -> None:
    attempt = Attempt()
    location = await returned_to_app(client, attempt, "Cancel")
    assert parse_qs(urlsplit(location).query) == {
        "error": ["access_denied"],
        "state": [attempt.state],
    }


async def test_an_unregistered_redirect_uri_gets_the_issuers_error_page_not_a_redirect(
    client: httpx.AsyncClient,
) -> None:
    attempt = Attempt(redirect_uri="https://evil.example.test/signin/callback")
    answer = await client.post("/auth/oidc/authorize", json=attempt.authorize_body())
    async with httpx.AsyncClient() as browser:
        page = await browser.get(answer.json()["url"])
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "is not registered" in page.text


async def test_refresh_gives_a_new_working_token_and_the_old_refresh_token_is_refused(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    first = await signed_in(client)
    provider.user = User(name="Ada King")  # the profile changed at the issuer meanwhile
    renewed = await client.post("/auth/oidc/token", json={"refreshToken": first["refreshToken"]})
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert second["refreshToken"] not in (None, first["refreshToken"])
    stored = await call(client, "mutation", "users:store", second["accessToken"])
    assert stored["status"] == "success", stored
    me = (await call(client, "query", "users:current", second["accessToken"]))["value"]
    assert (me["email"], me["name"]) == ("ada@example.test", "Ada King")
    again = await client.post("/auth/oidc/token", json={"refreshToken": first["refreshToken"]})
    assert "invalid_grant" in refused(again, 401, "UNAUTHENTICATED")


async def test_a_wrong_code_verifier_is_refused_naming_invalid_grant(
    client: httpx.AsyncClient,
) -> None:
    attempt = Attempt()
    code = await code_for(client, attempt)
    body = attempt.token_body(code) | {"codeVerifier": secrets.token_urlsafe(48)}
    answer = await client.post("/auth/oidc/token", json=body)
    message = refused(answer, 401, "UNAUTHENTICATED")
    assert "invalid_grant" in message
    assert "PKCE" in message  # the issuer's error_description too


async def test_a_code_works_once(client: httpx.AsyncClient) -> None:
    attempt = Attempt()
    code = await code_for(client, attempt)
    first = await client.post("/auth/oidc/token", json=attempt.token_body(code))
    assert first.status_code == 200, first.text
    second = await client.post("/auth/oidc/token", json=attempt.token_body(code))
    assert "invalid_grant" in refused(second, 401, "UNAUTHENTICATED")


async def test_a_token_for_another_nonce_is_refused(client: httpx.AsyncClient) -> None:
    attempt = Attempt()
    code = await code_for(client, attempt)
    body = attempt.token_body(code) | {"nonce": secrets.token_urlsafe(24)}
    answer = await client.post("/auth/oidc/token", json=body)
    assert "nonce" in refused(answer, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("methods", "used"),
    [
        (("client_secret_basic", "client_secret_post"), "client_secret_basic"),
        (("client_secret_post",), "client_secret_post"),
    ],
)
async def test_a_confidential_client_signs_in_with_its_secret(
    tmp_path: Path, methods: tuple[str, ...], used: str
) -> None:
    secret = "s3cret/with:odd&chars"  # form-encoded inside HTTP Basic, as RFC 6749 says
    with OidcProvider(
        redirect_uris=[REDIRECT], client_secret=secret, auth_methods=methods
    ) as provider:
        settings = configured(provider, oidc_client_secret=SecretStr(secret))
        async with app_client(tmp_path, **settings) as client:
            tokens = await signed_in(client)
            renewed = await client.post(
                "/auth/oidc/token", json={"refreshToken": tokens["refreshToken"]}
            )
            assert renewed.status_code == 200, renewed.text
    assert [r.client_auth for r in provider.token_requests] == [used, used]


async def test_without_its_secret_a_confidential_client_is_refused(tmp_path: Path) -> None:
    with OidcProvider(redirect_uris=[REDIRECT], client_secret="s3cret") as provider:
        async with app_client(tmp_path, **configured(provider)) as client:
            attempt = Attempt()
            code = await code_for(client, attempt)
            answer = await client.post("/auth/oidc/token", json=attempt.token_body(code))
            assert "invalid_client" in refused(answer, 401, "UNAUTHENTICATED")


_VALID = Attempt()
_CODE_BODY = _VALID.token_body("a-code")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("authorize", {k: v for k, v in _VALID.authorize_body().items() if k != "nonce"}, "nonce"),
        ("authorize", _VALID.authorize_body() | {"redirectUri": "/signin/callback"}, "redirectUri"),
        ("authorize", _VALID.authorize_body() | {"redirectUri": "javascript:x"}, "redirectUri"),
        (
            "authorize",
            _VALID.authorize_body() | {"redirectUri": "https://a.test/" + "x" * 2000},
            "redirectUri",
        ),
        ("authorize", _VALID.authorize_body() | {"codeChallenge": "short"}, "codeChallenge"),
        ("authorize", _VALID.authorize_body() | {"codeChallenge": "=" * 43}, "codeChallenge"),
        ("authorize", _VALID.authorize_body() | {"state": "too-short"}, "state"),
        ("authorize", _VALID.authorize_body() | {"state": "a" * 129}, "state"),
        ("authorize", _VALID.authorize_body() | {"nonce": "spaces are not ok here"}, "nonce"),
        ("authorize", _VALID.authorize_body() | {"nonce": 12345678901234567}, "nonce"),
        ("token", {}, "code"),
        ("token", _CODE_BODY | {"code": ""}, "code"),
        ("token", _CODE_BODY | {"codeVerifier": "short"}, "codeVerifier"),
        ("token", _CODE_BODY | {"redirectUri": None}, "redirectUri"),
        ("token", _CODE_BODY | {"nonce": "x"}, "nonce"),
        ("token", _CODE_BODY | {"refreshToken": "r"}, "code"),
        ("token", {"refreshToken": ["r"]}, "refreshToken"),
        ("token", {"refreshToken": "r" * 9000}, "refreshToken"),
        ("signout", {}, "refreshToken"),
        ("signout", {"refreshToken": 1}, "refreshToken"),
    ],
)
async def test_a_malformed_body_is_refused_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    answer = await client.post(f"/auth/oidc/{path}", json=body)
    refused(answer, 400, "INVALID_ARGUMENT")
    assert answer.json()["errorData"]["field"] == field


@pytest.mark.parametrize("path", ["authorize", "token", "signout"])
async def test_a_body_that_is_not_a_json_object_is_refused(
    client: httpx.AsyncClient, path: str
) -> None:
    answer = await client.post(f"/auth/oidc/{path}", content=b"[1, 2")
    assert "not JSON" in refused(answer, 400, "INVALID_ARGUMENT")


async def test_without_a_client_id_the_sign_in_is_not_offered(
    tmp_path: Path, provider: OidcProvider
) -> None:
    async with app_client(tmp_path, oidc_issuer=provider.issuer) as client:
        for path in ("authorize", "token", "signout"):
            answer = await client.post(f"/auth/oidc/{path}", json={})
            assert "not configured" in refused(answer, 404, "NOT_FOUND")
        config = (await client.get("/api/config")).json()
    assert config["signIn"]["oidc"] == {
        "issuer": provider.issuer,
        "name": "single sign-on",
        "browser": False,
    }


async def test_without_an_issuer_the_sign_in_is_not_offered(tmp_path: Path) -> None:
    async with app_client(tmp_path, oidc_client_id="advisor-chat-web") as client:
        answer = await client.post("/auth/oidc/authorize", json=Attempt().authorize_body())
        refused(answer, 404, "NOT_FOUND")
        assert (await client.get("/api/config")).json()["signIn"]["oidc"] is None


async def test_an_issuer_that_is_down_is_a_provider_error_until_it_is_back(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    provider.stop()
    down = await client.post("/auth/oidc/authorize", json=Attempt().authorize_body())
    assert "cannot reach the issuer" in refused(down, 502, "PROVIDER_ERROR")
    provider.start()
    tokens = await signed_in(client)
    stored = await call(client, "mutation", "users:store", tokens["accessToken"])
    assert stored["status"] == "success", stored


async def test_an_issuer_down_at_the_exchange_is_a_provider_error(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    attempt = Attempt()
    code = await code_for(client, attempt)
    provider.stop()
    answer = await client.post("/auth/oidc/token", json=attempt.token_body(code))
    refused(answer, 502, "PROVIDER_ERROR")
    provider.start()
    answer = await client.post("/auth/oidc/token", json=attempt.token_body(code))
    assert answer.status_code == 200, answer.text  # the code was never spent


async def test_a_discovery_document_naming_another_issuer_is_a_provider_error(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    provider.discovery_issuer = "https://elsewhere.example.test"
    answer = await client.post("/auth/oidc/authorize", json=Attempt().authorize_body())
    assert "elsewhere.example.test" in refused(answer, 502, "PROVIDER_ERROR")
    provider.discovery_issuer = None  # fixed at the issuer: the refusal was not kept
    answer = await client.post("/auth/oidc/authorize", json=Attempt().authorize_body())
    assert answer.status_code == 200, answer.text


async def test_sign_out_revokes_the_refresh_token_at_the_issuer(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    tokens = await signed_in(client)
    out = await client.post("/auth/oidc/signout", json={"refreshToken": tokens["refreshToken"]})
    assert (out.status_code, out.json()) == (200, {"status": "success"})
    assert provider.revoked == [tokens["refreshToken"]]
    again = await client.post("/auth/oidc/token", json={"refreshToken": tokens["refreshToken"]})
    refused(again, 401, "UNAUTHENTICATED")


async def test_sign_out_succeeds_while_the_issuer_is_down(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    tokens = await signed_in(client)
    provider.stop()
    out = await client.post("/auth/oidc/signout", json={"refreshToken": tokens["refreshToken"]})
    assert (out.status_code, out.json()) == (200, {"status": "success"})


async def test_config_names_the_sign_in_and_never_the_secret(
    tmp_path: Path, provider: OidcProvider
) -> None:
    settings = configured(
        provider, oidc_name="Acme SSO", oidc_client_secret=SecretStr("the-client-secret")
    )
    async with app_client(tmp_path, **settings) as client:
        answer = await client.get("/api/config")
    assert answer.json()["signIn"]["oidc"] == {
        "issuer": provider.issuer,
        "name": "Acme SSO",
        "browser": True,
    }
    assert "the-client-secret" not in answer.text


async def test_a_refresh_answer_without_an_id_token_asks_to_sign_in_again(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    tokens = await signed_in(client)
    provider.id_token_on_refresh = False
    answer = await client.post("/auth/oidc/token", json={"refreshToken": tokens["refreshToken"]})
    assert "sign in again" in refused(answer, 401, "UNAUTHENTICATED")


async def test_without_refresh_tokens_the_answer_has_none(
    client: httpx.AsyncClient, provider: OidcProvider
) -> None:
    provider.issue_refresh_tokens = False
    tokens = await signed_in(client)
    assert tokens["refreshToken"] is None


async def test_the_apps_id_tokens_pass_beside_a_configured_audience_and_parties(
    tmp_path: Path, provider: OidcProvider
) -> None:
    """Issuer tokens must then name the audience and an authorized party; the sign-in's id
    tokens name the client id in both, and it is accepted there too."""
    settings = configured(
        provider,
        oidc_audience="https://api.example.test",
        oidc_authorized_parties="https://app.example.test",
    )
    async with app_client(tmp_path, **settings) as client:
        tokens = await signed_in(client)
        stored = await call(client, "mutation", "users:store", tokens["accessToken"])
        assert stored["status"] == "success", stored
        other = provider.id_token(aud="https://other.example.test", azp="other-client")
        refusal = await call(client, "mutation", "users:store", other)
        assert refusal["errorData"]["code"] == "UNAUTHENTICATED"


async def test_failed_exchanges_are_throttled_per_address(
    tmp_path: Path, provider: OidcProvider
) -> None:
    settings = configured(provider, auth_limits={"oidcTokenAddress": {"count": 2}})
    async with app_client(tmp_path, **settings) as client:
        wrong = {"refreshToken": "not-a-refresh-token"}
        for _ in range(2):
            refused(await client.post("/auth/oidc/token", json=wrong), 401, "UNAUTHENTICATED")
        answer = await client.post("/auth/oidc/token", json=wrong)
        refused(answer, 429, "RATE_LIMITED")
        assert answer.json()["errorData"]["limit"] == "oidcTokenAddress"
        assert int(answer.headers["retry-after"]) >= 1
