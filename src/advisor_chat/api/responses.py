"""The JSON answers every endpoint gives: one error envelope (Convex's `errorMessage` +
`errorData.code`) everywhere, with the HTTP status each kind of endpoint uses."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response

from advisor_chat.errors import Code, FunctionError

# For the non-Convex endpoints (/auth, /webhooks): the status says what kind of failure.
HTTP_STATUS = {
    Code.INVALID_ARGUMENT: 400,
    Code.UNAUTHENTICATED: 401,
    Code.NOT_FOUND: 404,
    Code.CONFLICT: 409,
    Code.RATE_LIMITED: 429,
    Code.TIMEOUT: 504,
}


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_response(error: FunctionError, status: int | None = None) -> Response:
    """`status` None: the code's HTTP status (500 for anything unexpected)."""
    body = {
        "status": "error",
        "errorMessage": error.message,
        "errorData": {"code": error.code.value, **error.data},
    }
    return json_response(body, HTTP_STATUS.get(error.code, 500) if status is None else status)
