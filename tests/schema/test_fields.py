"""Validators: each rule fails with the field path and the rule named, and nothing coerces."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.errors import DocumentInvalid
from advisor_chat.schema.fields import MAX_DEPTH, Validator, v
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.schema.tables import PERSONA

IDS = IdGenerator()


def _fails(validator: Validator, value: Any) -> DocumentInvalid:
    with pytest.raises(DocumentInvalid) as caught:
        validator.check(value, "t", "f")
    return caught.value


@pytest.mark.parametrize(
    ("validator", "value", "rule"),
    [
        (v.string(), 5, "expected string, got number"),
        (v.string(), None, "expected string, got null"),
        (v.number(), "5", "expected number, got string"),
        (v.number(), True, "expected number, got boolean"),
        (v.number(), math.nan, "number must be finite"),
        (v.number(), -math.inf, "number must be finite"),
        (v.boolean(), 1, "expected boolean, got number"),
        (v.literals("a", "b"), "c", "expected one of 'a', 'b', got 'c'"),
        (v.array(v.string()), "x", "expected array, got string"),
        (v.object({}), [], "expected object, got array"),
        (v.id("users"), 7, "expected an id of table users, got number"),
        (v.id("users"), "has space", "not a valid id of table users"),
        (v.id("users"), IDS.new_id("messages"), "an id of another table, expected table users"),
    ],
)
def test_each_rule_names_itself(validator: Validator, value: Any, rule: str) -> None:
    error = _fails(validator, value)
    assert (error.table, error.field, error.rule) == ("t", "f", rule)
    assert str(error) == f"t.f: {rule}"


def test_valid_values_pass() -> None:
    v.string().check("", "t", "f")
    v.number().check(3, "t", "f")
    v.number().check(-0.5, "t", "f")
    v.boolean().check(False, "t", "f")
    v.id("users").check(IDS.new_id("users"), "t", "f")
    v.id("users").check("k57a9bq1ndd1jb7d4x2t6cg4jx6xj8ry", "t", "f")  # an imported Convex id


def test_nested_paths_are_named() -> None:
    persona = {"name": "A", "title": "T", "education": {"graduationYear": "2004"}}
    error = _fails(PERSONA, persona)
    assert error.field == "f.education.graduationYear"
    items = v.object({"tags": v.array(v.string())})
    assert _fails(items, {"tags": ["a", 2]}).field == "f.tags[1]"


def test_required_unknown_and_optional_fields() -> None:
    shape = v.object({"a": v.string(), "b": v.optional(v.number())})
    shape.check({"a": "x"}, "t", "")
    assert _fails(shape, {"b": 1}).field == "f.a"
    assert _fails(shape, {"b": 1}).rule == "required field missing"
    unknown = _fails(shape, {"a": "x", "c": 1})
    assert (unknown.field, unknown.rule) == ("f.c", "unknown field")
    assert _fails(shape, {"a": "x", "b": None}).rule == "expected number, got null"


def test_open_objects_keep_unknown_keys_but_check_them() -> None:
    shape = v.object({"a": v.optional(v.string())}, open=True)
    shape.check({"extra": {"deep": [1, "two", None]}}, "t", "")
    assert _fails(shape, {"extra": math.inf}).rule == "number must be finite"


def test_depth_is_bounded() -> None:
    value: Any = 1
    for _ in range(MAX_DEPTH + 2):
        value = [value]
    assert "nested deeper" in _fails(v.any(), value).rule
    assert "nested deeper" in _fails(v.array(v.any()), value).rule


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(JSON)
def test_any_accepts_every_finite_json_value(value: Any) -> None:
    v.any().check(value, "t", "f")


@given(JSON)
def test_any_rejects_nan_wherever_it_hides(value: Any) -> None:
    assert "finite" in _fails(v.any(), [value, {"x": math.nan}]).rule
