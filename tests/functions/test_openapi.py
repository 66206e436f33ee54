"""The OpenAPI document describes every function, and its schemas agree with the server's
own argument checks on valid and invalid arguments alike."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from advisor_chat.errors import FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.openapi import openapi_document
from advisor_chat.functions.runner import check_args
from advisor_chat.schema.fields import AnyValue
from tests.functions.test_security import EXAMPLES
from tests.functions.world import World
from tests.validators import present

DOCUMENT = openapi_document(build_registry())
SHAPE = World(
    "k57a9bq1ndd1jb7d4x2t6cg4jx6xj8ry",
    "k57b",
    "conv_1",
    "msg_1",
    "mem_1",
    "sum_1",
    "msg_2",
    "user_1",
)


def _schema(path: str) -> dict[str, Any]:
    route = "/api/run/" + path.replace(":", "/")
    schema: dict[str, Any] = DOCUMENT["paths"][route]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]
    return schema


def test_every_function_has_an_operation() -> None:
    operations = {op["post"]["operationId"] for op in DOCUMENT["paths"].values()}
    assert operations == {f.path.replace(":", "_") for f in build_registry().public()}
    jsonschema.Draft202012Validator.check_schema(_schema("messages:sendMessage"))


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_schemas_accept_what_the_server_accepts(path: str) -> None:
    args = EXAMPLES[path](SHAPE)
    jsonschema.validate({"args": args}, _schema(path))
    check_args(build_registry().get(path), args)


@pytest.mark.parametrize("path", sorted(EXAMPLES))
def test_schemas_refuse_what_the_server_refuses(path: str) -> None:
    function = build_registry().get(path)
    good = EXAMPLES[path](SHAPE)
    typed = [k for k in good if not isinstance(present(function.args.fields[k]), AnyValue)]
    for bad in [{**good, "unexpected": 1}, *({**good, k: 12345} for k in typed)]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"args": bad}, _schema(path))
        with pytest.raises(FunctionError):
            check_args(function, bad)
