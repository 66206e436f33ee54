"""Local account endpoints: /auth/signup, /auth/signin, /auth/refresh, /auth/signout,
/auth/password. Bodies and answers are JSON; failures use the same error envelope as the
function API, with an HTTP status that says what kind of failure it was."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from advisor_chat.api.http import identity_of, json_body
from advisor_chat.auth.accounts import Accounts, Tokens
from advisor_chat.errors import Code, FunctionError

router = APIRouter(prefix="/auth")

_STATUS = {
    Code.INVALID_ARGUMENT: 400,
    Code.UNAUTHENTICATED: 401,
    Code.NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.RATE_LIMITED: 429,
}


def _answer(value: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type="application/json")


def _failed(error: FunctionError) -> Response:
    body = {
        "status": "error",
        "errorMessage": error.message,
        "errorData": {"code": error.code.value, **error.data},
    }
    return _answer(body, _STATUS.get(error.code, 500))


def _tokens(tokens: Tokens) -> Response:
    return _answer(
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
        return _failed(error)
    return _tokens(tokens)


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    try:
        body = await json_body(request)
        tokens = await _accounts(request).sign_in(
            _required(body, "email"), _required(body, "password")
        )
    except FunctionError as error:
        return _failed(error)
    return _tokens(tokens)


@router.post("/refresh")
async def refresh(request: Request) -> Response:
    try:
        body = await json_body(request)
        tokens = await _accounts(request).refresh(_required(body, "refreshToken"))
    except FunctionError as error:
        return _failed(error)
    return _tokens(tokens)


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    try:
        body = await json_body(request)
        await _accounts(request).sign_out(_required(body, "refreshToken"))
    except FunctionError as error:
        return _failed(error)
    return _answer({"status": "success"})


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
        return _failed(error)
    return _answer({"status": "success"})
