"""Local account endpoints: /auth/signup, /auth/signin, /auth/refresh, /auth/signout,
/auth/password. Bodies and answers are JSON; failures use the same error envelope as the
function API, with an HTTP status that says what kind of failure it was. All but sign-out
are throttled per client address and per account (auth/throttle.py): 429 with Retry-After.

The client address is api/http.py's `client_address`: a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from advisor_chat.api.http import client_address, identity_of, json_body, throttle_of
from advisor_chat.api.responses import error_response, json_response
from advisor_chat.auth.accounts import Accounts, Tokens, normal_email
from advisor_chat.auth.devices import DeviceTokens
from advisor_chat.auth.throttle import Check
from advisor_chat.errors import Code, FunctionError

router = APIRouter(prefix="/auth")


def _tokens(tokens: Tokens, device_token: str | None = None) -> Response:
    answer = {
        "accessToken": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresIn": tokens.expires_in,
        "userId": tokens.user_id,
    }
    if device_token is not None:
        answer["deviceToken"] = device_token
    return json_response(answer)


def _text(body: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if type(value) is not str:
        raise FunctionError(Code.INVALID_ARGUMENT, f"{field} must be a string", field=field)
    return value


def _required(body: dict[str, Any], field: str) -> str:
    value = _text(body, field)
    assert value is not None
    return value


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


def _devices(request: Request) -> DeviceTokens:
    devices: DeviceTokens = request.app.state.devices
    return devices


def _account_key(email: str) -> str:
    """The account an email names, for counting: normalised if it is an email address,
    else as typed (lower-cased), so a malformed one is counted too."""
    try:
        return normal_email(email)
    except FunctionError:
        return email.strip().lower()


@router.post("/signup")
async def sign_up(request: Request) -> Response:
    """Every attempt counts, per address and per email: a sign-up hashes a password."""
    try:
        body = await json_body(request)
        email = _required(body, "email")
        await throttle_of(request).take(
            Check("signUpAddress", client_address(request)),
            Check("signUpEmail", _account_key(email)),
        )
        tokens = await _accounts(request).create(
            email, _required(body, "password"), _text(body, "name", required=False)
        )
    except FunctionError as error:
        return error_response(error)
    return _tokens(tokens, _devices(request).issue(normal_email(email)))


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    """Counted before the password check, per address and per account, or per device
    for a client presenting the device token an earlier sign-in gave it."""
    try:
        body = await json_body(request)
        email = _required(body, "email")
        account = _account_key(email)
        device = _devices(request).device_of(body.get("deviceToken"), account)
        checks = (
            Check("signInAddress", client_address(request)),
            Check("signInAccount", account) if device is None else Check("signInDevice", device),
        )
        async with throttle_of(request).failures(*checks):
            tokens = await _accounts(request).sign_in(email, _required(body, "password"))
    except FunctionError as error:
        return error_response(error)
    return _tokens(tokens, _devices(request).issue(account))


@router.post("/refresh")
async def refresh(request: Request) -> Response:
    """Failed refreshes counted per address; every refresh per account, before it rotates."""
    try:
        body = await json_body(request)
        token = _required(body, "refreshToken")
        async with throttle_of(request).failures(Check("refreshAddress", client_address(request))):
            owner = await _accounts(request).owner_of(token)
            if owner is not None:
                await throttle_of(request).take(Check("refreshAccount", owner))
            tokens = await _accounts(request).refresh(token)
    except FunctionError as error:
        return error_response(error)
    return _tokens(tokens)


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    try:
        body = await json_body(request)
        await _accounts(request).sign_out(_required(body, "refreshToken"))
    except FunctionError as error:
        return error_response(error)
    return json_response({"status": "success"})


@router.post("/password")
async def change_password(request: Request) -> Response:
    try:
        identity = await identity_of(request)
        if identity is None:
            raise FunctionError(Code.UNAUTHENTICATED, "sign in to change your password")
        body = await json_body(request)
        checks = (
            Check("passwordAddress", client_address(request)),
            Check("passwordAccount", identity.subject),
        )
        async with throttle_of(request).failures(*checks):
            await _accounts(request).change_password(
                identity, _required(body, "oldPassword"), _required(body, "newPassword")
            )
    except FunctionError as error:
        return error_response(error)
    return json_response({"status": "success"})
