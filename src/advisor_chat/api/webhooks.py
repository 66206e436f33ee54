"""POST /webhooks/clerk: Clerk's user events, signature-checked before anything is read."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from advisor_chat.api.responses import error_response, json_response
from advisor_chat.auth.webhooks import ClerkWebhooks
from advisor_chat.errors import FunctionError

router = APIRouter()


@router.post("/webhooks/clerk")
async def clerk(request: Request) -> Response:
    webhooks: ClerkWebhooks | None = request.app.state.clerk_webhooks
    if webhooks is None:
        return Response(status_code=404)
    body = await request.body()  # bounded as it was read (max_webhook_body_bytes)
    try:
        headers = {k.lower(): v for k, v in request.headers.items()}
        outcome = await webhooks.deliver(headers, body)
    except FunctionError as error:
        return error_response(error)
    return json_response({"status": outcome})
