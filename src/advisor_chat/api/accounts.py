"""Local account endpoints: /auth/signup, /auth/signin, /auth/refresh, /auth/signout,
/auth/password. Bodies and answers are JSON; failures use the same error envelope as the
function API, with an HTTP status that says what kind of failure it was."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from advisor_chat.api.http import identity_of, json_body
from advisor_chat.api.responses import error_response, json_response
from advisor_chat.auth.accounts import Accounts, Tokens
from advisor_chat.errors import Code, FunctionError

router = APIRouter(prefix="/auth")


def _tokens(tokens: Tokens) -> Response:
    return json_response(
        {
            "accessToken": tokens.access_token,
            "refreshToken": tokens.refresh_token,
            "expiresIn": tokens.expires_in,
            "userId": tokens.user_id,
        }
    )


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


@router.post("/signup")
async def sign_up(request: Request) -> Response:
    try:
        body = await json_body(request)
        tokens = await _accounts(request).create(
            _required(body, "email"),
            _required(body, "password"),
            _text(body, "name", required=False),
        )
    except FunctionError as error:
        return error_response(error)
    return _tokens(tokens)


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    try:
        body = await json_body(request)
        tokens = await _accounts(request).sign_in(
            _required(body, "email"), _required(body, "password")
        )
    except FunctionError as error:
        return error_response(error)
    return _tokens(tokens)


@router.post("/refresh")
async def refresh(request: Request) -> Response:
    try:
        body = await json_body(request)
        tokens = await _accounts(request).refresh(_required(body, "refreshToken"))
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
        await _accounts(request).change_password(
            identity, _required(body, "oldPassword"), _required(body, "newPassword")
        )
    except FunctionError as error:
        return error_response(error)
    return json_response({"status": "success"})
