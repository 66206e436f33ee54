"""Convex's HTTP API: POST /api/query, /api/mutation, /api/action (and /api/function, any
kind) with
{"path": "module:function", "args": {...} | [{...}], "format": "json"}, and
POST /api/run/{module}/{function}. Answers {"status": "success", "value": ...}, or
{"status": "error", "errorMessage": ..., "errorData": {"code": ...}} with status 560, the
code the official client reads as "the function failed" (see convex-js http_client.ts).

No business rules here: decode, call the runner, encode.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from advisor_chat.api.metrics import SUCCESS, Metrics
from advisor_chat.api.responses import error_response, json_response
from advisor_chat.auth.throttle import Throttle
from advisor_chat.auth.verifier import TokenVerifier
from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.context import Identity
from advisor_chat.functions.openapi import openapi_document
from advisor_chat.functions.registry import Kind
from advisor_chat.functions.runner import Runner

STATUS_FUNCTION_FAILED = 560  # Convex's STATUS_CODE_UDF_FAILED

router = APIRouter()


def _error(error: FunctionError) -> Response:
    return error_response(error, STATUS_FUNCTION_FAILED)


async def identity_of(request: Request) -> Identity | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise FunctionError(Code.UNAUTHENTICATED, "Authorization must be 'Bearer <token>'")
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(token.strip())


async def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object; its size was bounded as it was read (api/bounds.py)."""
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FunctionError(Code.INVALID_ARGUMENT, f"request body is not JSON: {exc}") from exc
    if type(body) is not dict:
        raise FunctionError(Code.INVALID_ARGUMENT, "request body must be a JSON object")
    return body


def client_address(request: Request) -> str:
    """Who is counted by the sign-in throttle: the peer, which uvicorn has already replaced
    with the X-Forwarded-For address when the peer is a trusted proxy (FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client is not None else "unknown"


def throttle_of(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.throttle
    return throttle


def _args(value: Any) -> Any:
    """Convex clients send `[args]`; the documented HTTP API sends `args`."""
    if value is None:
        return {}
    if type(value) is list:
        if len(value) != 1:
            raise FunctionError(Code.INVALID_ARGUMENT, "args must be an object or [object]")
        return value[0]
    return value


async def _call(request: Request, path: Any, args: Any, kind: Kind | None) -> Response:
    runner: Runner = request.app.state.runner
    started = time.perf_counter()
    outcome = SUCCESS
    try:
        if type(path) is not str or not path:
            raise FunctionError(Code.INVALID_ARGUMENT, "path must be 'module:function'")
        result = await runner.call(path, _args(args), await identity_of(request), kind)
    except FunctionError as error:
        outcome = error.code.value
        return _error(error)
    finally:
        # Only declared paths name a series: a client cannot grow the metrics.
        known = type(path) is str and runner.registry.find(path) is not None
        metrics: Metrics = request.app.state.metrics
        metrics.observe_call(path if known else "unknown", outcome, time.perf_counter() - started)
    return json_response({"status": "success", "value": result.value})


async def _by_kind(request: Request, kind: Kind | None) -> Response:
    try:
        body = await json_body(request)
        if body.get("format", "json") not in ("json", "convex_encoded_json"):
            raise FunctionError(Code.INVALID_ARGUMENT, "format must be 'json'")
    except FunctionError as error:
        return _error(error)
    return await _call(request, body.get("path"), body.get("args"), kind)


@router.post("/api/query")
async def run_query(request: Request) -> Response:
    return await _by_kind(request, "query")


@router.post("/api/mutation")
async def run_mutation(request: Request) -> Response:
    return await _by_kind(request, "mutation")


@router.post("/api/action")
async def run_action(request: Request) -> Response:
    return await _by_kind(request, "action")


@router.post("/api/function")
async def run_function(request: Request) -> Response:
    """Any kind, by path (the npm client's `ConvexHttpClient.function`)."""
    return await _by_kind(request, None)


@router.get("/api/openapi.json")
async def openapi(request: Request) -> Response:
    """Every function's arguments, generated from the declarations."""
    runner: Runner = request.app.state.runner
    return json_response(openapi_document(runner.registry))


@router.post("/api/run/{module}/{function}")
async def run_any(request: Request, module: str, function: str) -> Response:
    try:
        body = await json_body(request)
    except FunctionError as error:
        return _error(error)
    return await _call(request, f"{module}:{function}", body.get("args"), None)
