"""The OpenAPI document, generated from the function declarations: one operation per
function at POST /api/run/{module}/{function}, its request body the declared arguments.
Nothing here is written by hand, so the document cannot drift from what the server checks."""

from __future__ import annotations

from typing import Any

from advisor_chat import __version__
from advisor_chat.errors import Code
from advisor_chat.functions.registry import Registry

_ERROR = {
    "type": "object",
    "required": ["status", "errorMessage", "errorData"],
    "properties": {
        "status": {"const": "error"},
        "errorMessage": {"type": "string"},
        "errorData": {
            "type": "object",
            "required": ["code"],
            "properties": {"code": {"type": "string", "enum": [c.value for c in Code]}},
        },
    },
}
_SUCCESS = {
    "type": "object",
    "required": ["status", "value"],
    "properties": {"status": {"const": "success"}, "value": {}},
}


def openapi_document(registry: Registry) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for function in sorted(registry.public(), key=lambda f: f.path):
        route = "/api/run/" + function.path.replace(":", "/")
        paths[route] = {
            "post": {
                "operationId": function.path.replace(":", "_"),
                "summary": f"{function.kind} {function.path}",
                "description": (function.handler.__doc__ or "").strip(),
                "tags": [function.module],
                "security": [{"bearer": []}, {}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["args"],
                                "properties": {"args": function.args.json_schema()},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "the function's value",
                        "content": {"application/json": {"schema": _SUCCESS}},
                    },
                    "560": {
                        "description": "the function failed; errorData.code says why",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "AI Advisor Chat functions", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        },
    }
