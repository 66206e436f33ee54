"""The JSON answers every endpoint gives: one error envelope (Convex's `errorMessage` +
`errorData.code`) everywhere, with the HTTP status each kind of endpoint uses."""

from __future__ import annotations

import math
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
    Code.STORAGE_LIMITED: 403,
    Code.FORBIDDEN: 403,
    Code.PROVIDER_ERROR: 502,  # an upstream (the OIDC issuer) failed, not the request
    Code.TIMEOUT: 504,
    Code.REQUEST_TIMEOUT: 408,
    Code.PAYLOAD_TOO_LARGE: 413,
    Code.HEADERS_TOO_LARGE: 431,
    Code.TOO_MANY_CONNECTIONS: 429,  # one address's cap; the server's own answers 503
}


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def error_body(error: FunctionError) -> dict[str, Any]:
    return {
        "status": "error",
        "errorMessage": error.message,
        "errorData": {"code": error.code.value, **error.data},
    }


def error_status(error: FunctionError) -> int:
    """The code's HTTP status (500 for anything unexpected)."""
    return HTTP_STATUS.get(error.code, 500)


def error_response(error: FunctionError, status: int | None = None) -> Response:
    """`status` None: the code's HTTP status. An error saying when to retry (`retryAfter`,
    seconds) also says it in a Retry-After header, in whole seconds rounded up."""
    response = json_response(error_body(error), error_status(error) if status is None else status)
    retry_after = error.data.get("retryAfter")
    if isinstance(retry_after, int | float):
        response.headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return response
