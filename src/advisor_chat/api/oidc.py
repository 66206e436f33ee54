"""The web app's sign-in with the configured OIDC issuer (auth/oidc_signin.py):
/auth/oidc/authorize answers the issuer's sign-in URL, /auth/oidc/token exchanges the code
(or a refresh token) for an id token, /auth/oidc/signout revokes a refresh token. The same
JSON bodies and error envelope as /auth/*; a token exchange the issuer refuses is counted
per client address (`oidcTokenAddress`), as failed sign-ins are.

Offered when both the issuer and the web app's client id are configured; else each answers
NOT_FOUND, as the endpoints of a sign-in this server does not offer."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from advisor_chat.api.http import client_address, json_body, throttle_of
from advisor_chat.api.responses import error_response, json_response
from advisor_chat.auth.oidc_signin import OidcSignIn, SignedIn
from advisor_chat.auth.throttle import Check
from advisor_chat.errors import Code, FunctionError

router = APIRouter(prefix="/auth/oidc")

MAX_URL = 2_000
MAX_TOKEN = 8_192  # codes and refresh tokens are opaque; a JWT-shaped one is a few KB
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256, unpadded
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 4.1
NONCE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def _signin(request: Request) -> OidcSignIn:
    signin: OidcSignIn | None = request.app.state.oidc_signin
    if signin is None:
        raise FunctionError(Code.NOT_FOUND, "sign-in with an OIDC issuer is not configured")
    return signin


def _field(body: dict[str, Any], field: str, rule: re.Pattern[str] | None = None) -> str:
    value = body.get(field)
    if type(value) is not str or not value:
        raise FunctionError(Code.INVALID_ARGUMENT, f"{field} must be a string", field=field)
    if rule is not None and not rule.fullmatch(value):
        raise FunctionError(
            Code.INVALID_ARGUMENT, f"{field} must match {rule.pattern}", field=field
        )
    if len(value) > MAX_TOKEN:
        raise FunctionError(Code.INVALID_ARGUMENT, f"{field} is too long", field=field)
    return value


def _redirect_uri(body: dict[str, Any]) -> str:
    value = _field(body, "redirectUri")
    parts = urlsplit(value)
    if len(value) > MAX_URL or parts.scheme not in ("http", "https") or not parts.netloc:
        raise FunctionError(
            Code.INVALID_ARGUMENT,
            f"redirectUri must be an absolute http(s) URL of at most {MAX_URL} characters",
            field="redirectUri",
        )
    return value


def _tokens(signed: SignedIn) -> Response:
    return json_response(
        {
            "accessToken": signed.id_token,
            "refreshToken": signed.refresh_token,
            "expiresIn": signed.expires_in,
        }
    )


@router.post("/authorize")
async def authorize(request: Request) -> Response:
    try:
        signin = _signin(request)
        body = await json_body(request)
        url = await signin.authorize_url(
            _redirect_uri(body),
            _field(body, "codeChallenge", CHALLENGE),
            _field(body, "state", NONCE),
            _field(body, "nonce", NONCE),
        )
    except FunctionError as error:
        return error_response(error)
    return json_response({"url": url})


@router.post("/token")
async def token(request: Request) -> Response:
    """`{code, codeVerifier, redirectUri, nonce}` or `{refreshToken}`."""
    try:
        signin = _signin(request)
        body = await json_body(request)
        if "code" in body and "refreshToken" in body:
            raise FunctionError(
                Code.INVALID_ARGUMENT, "send a code or a refresh token, not both", field="code"
            )
        check = Check("oidcTokenAddress", client_address(request))
        if "refreshToken" in body:
            refresh_token = _field(body, "refreshToken")
            async with throttle_of(request).failures(check):
                signed = await signin.refresh(refresh_token)
        else:
            code = _field(body, "code")
            verifier = _field(body, "codeVerifier", VERIFIER)
            redirect_uri = _redirect_uri(body)
            nonce = _field(body, "nonce", NONCE)
            async with throttle_of(request).failures(check):
                signed = await signin.exchange_code(code, verifier, redirect_uri, nonce)
    except FunctionError as error:
        return error_response(error)
    return _tokens(signed)


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    try:
        signin = _signin(request)
        body = await json_body(request)
        await signin.revoke(_field(body, "refreshToken"))
    except FunctionError as error:
        return error_response(error)
    return json_response({"status": "success"})
