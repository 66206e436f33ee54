"""Validators: each rule fails naming the dotted field path and the rule; nothing coerces."""

from __future__ import annotations

import copy
import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advisor_chat.errors import DocumentInvalid
from advisor_chat.schema.fields import MAX_DEPTH, Validator, v
from advisor_chat.schema.ids import IdGenerator
from advisor_chat.schema.tables import PERSONA, TABLES

IDS = IdGenerator()
NON_FINITE = [math.nan, math.inf, -math.inf]


def fails(validator: Validator, value: Any, path: str = "f") -> DocumentInvalid:
    with pytest.raises(DocumentInvalid) as caught:
        validator.check(value, "t", path)
    return caught.value


@pytest.mark.parametrize(
    ("validator", "value", "rule"),
    [
        (v.string(), 5, "expected string, got number"),
        (v.string(), None, "expected string, got null"),
        (v.string(), b"x", "expected string, got bytes"),
        (v.string(), ["x"], "expected string, got array"),
        (v.number(), "5", "expected number, got string"),
        (v.number(), True, "expected number, got boolean"),
        (v.number(), False, "expected number, got boolean"),
        (v.number(), None, "expected number, got null"),
        (v.number(), Decimal("1.5"), "expected number, got Decimal"),
        (v.number(), math.nan, "number must be finite"),
        (v.number(), math.inf, "number must be finite"),
        (v.number(), -math.inf, "number must be finite"),
        (v.boolean(), 1, "expected boolean, got number"),
        (v.boolean(), 0, "expected boolean, got number"),
        (v.boolean(), "true", "expected boolean, got string"),
        (v.literals("a", "b"), "c", "expected one of 'a', 'b', got 'c'"),
        (v.literals("a", "b"), "A", "expected one of 'a', 'b', got 'A'"),
        (v.array(v.string()), "x", "expected array, got string"),
        (v.array(v.string()), ("x",), "expected array, got tuple"),
        (v.object({}), [], "expected object, got array"),
        (v.object({}), "x", "expected object, got string"),
        (v.id("users"), 7, "expected an id of table users, got number"),
        (v.id("users"), "has space", "not a valid id of table users"),
        (v.id("users"), "", "not a valid id of table users"),
        (v.id("users"), "x" * 129, "not a valid id of table users"),
        (v.id("users"), IDS.new_id("messages"), "an id of another table, expected table users"),
        (v.any(), math.nan, "number must be finite"),
        (v.any(), {1: "x"}, "object keys must be strings"),
        (v.any(), {"x"}, "not a JSON value: set"),
        (v.any(), object(), "not a JSON value: object"),
    ],
)
def test_each_rule_names_table_field_and_rule(validator: Validator, value: Any, rule: str) -> None:
    error = fails(validator, value)
    assert (error.table, error.field, error.rule) == ("t", "f", rule)
    assert str(error) == f"t.f: {rule}"


@pytest.mark.parametrize(
    ("validator", "value"),
    [
        (v.string(), ""),
        (v.string(), "Zoë 🚀"),
        (v.number(), 3),
        (v.number(), -0.5),
        (v.number(), -0.0),
        (v.number(), 1e308),
        (v.boolean(), False),
        (v.literals("a", "b"), "b"),
        (v.array(v.number()), []),
        (v.object({}), {}),
        (v.id("users"), IDS.new_id("users")),
        (v.any(), None),
        (v.optional(v.any()), None),  # null is a value of v.any(), absent is not null
    ],
)
def test_valid_values_pass(validator: Validator, value: Any) -> None:
    validator.check(value, "t", "f")


@pytest.mark.parametrize("value", [None, True, 3, "x", [], {}])
def test_literal_rules_speak_json_not_python(value: Any) -> None:
    """The rule reaches API clients as the error message: a wrong value is named as JSON
    names it (`null`, `true`), never by its Python repr (`None`, `True`)."""
    rule = fails(v.literals("a", "b"), value).rule
    assert rule.startswith("expected one of 'a', 'b', got ")
    assert not any(word in rule for word in ("None", "True", "False"))


def test_bool_is_never_a_number_anywhere() -> None:
    assert fails(v.array(v.number()), [1, 2.5, True]).field == "f[2]"
    shape = v.object({"n": v.optional(v.number())})
    assert fails(shape, {"n": False}).rule == "expected number, got boolean"
    v.any().check([True, 1], "t", "f")  # as JSON, a boolean is fine where anything goes


@pytest.mark.parametrize("bad", NON_FINITE)
def test_non_finite_numbers_are_refused_at_every_level(bad: float) -> None:
    assert fails(v.number(), bad).rule == "number must be finite"
    assert fails(v.array(v.number()), [1, bad]).field == "f[1]"
    assert fails(v.any(), {"a": [0, {"b": bad}]}).field == "f.a[1].b"
    open_shape = v.object({}, open=True)
    assert fails(open_shape, {"extra": bad}).field == "f.extra"


def test_required_unknown_and_optional_fields() -> None:
    shape = v.object({"a": v.string(), "b": v.optional(v.number())})
    shape.check({"a": "x"}, "t", "")
    shape.check({"a": "x", "b": 1}, "t", "")
    top = fails(shape, {"b": 1}, path="")
    assert (top.field, top.rule) == ("a", "required field missing")
    nested = fails(shape, {"b": 1})
    assert (nested.field, nested.rule) == ("f.a", "required field missing")
    unknown = fails(shape, {"a": "x", "c": 1}, path="")
    assert (unknown.field, unknown.rule) == ("c", "unknown field")
    assert fails(shape, {"a": "x", "b": None}).rule == "expected number, got null"
    assert fails(shape, "x", path="").field == "(document)"


@pytest.mark.parametrize(
    ("patch", "field", "rule"),
    [
        (
            {"persona": {"name": "A", "title": "T", "education": {"graduationYear": "2004"}}},
            "persona.education.graduationYear",
            "expected number, got string",
        ),
        (
            {"persona": {"name": "A", "title": "T", "additionalEducation": [{}, {"x": 1}]}},
            "persona.additionalEducation[1].x",
            "unknown field",
        ),
        ({"persona": {"name": "A"}}, "persona.title", "required field missing"),
        (
            {"metadata": {"teamAffiliations": [{"isPrimary": "yes"}]}},
            "metadata.teamAffiliations[0].isPrimary",
            "expected boolean, got string",
        ),
        (
            {"roleDefinition": {"scope": {"outOfScope": "legal"}}},
            "roleDefinition.scope.outOfScope",
            "expected array, got string",
        ),
        ({"tags": ["a", None]}, "tags[1]", "expected string, got null"),
    ],
)
def test_nested_problems_name_the_full_path(patch: dict[str, Any], field: str, rule: str) -> None:
    advisor = {
        "schemaVersion": "1",
        "status": "active",
        "persona": {"name": "A", "title": "T"},
        "tags": [],
        "createdAt": 1,
        "updatedAt": 1,
    }
    error = fails(TABLES["advisors"].document, advisor | patch, path="")
    assert (error.table, error.field, error.rule) == ("t", field, rule)


def test_open_objects_keep_extra_keys_but_check_them_and_their_declared_fields() -> None:
    shape = TABLES["advisors"].document.fields["roleDefinition"]
    value = {"mission": "m", "extra": {"deep": [1, "two", None]}, "scope": {"more": True}}
    kept = copy.deepcopy(value)
    shape.check(value, "t", "f")
    assert value == kept  # checking never drops or coerces
    assert fails(shape, {"extra": {"deep": [math.inf]}}).field == "f.extra.deep[0]"
    assert fails(shape, {"mission": 1}).field == "f.mission"
    assert fails(PERSONA, {"name": "A", "title": "T", "extra": 1}).rule == "unknown field"


# --- depth -----------------------------------------------------------------------------------


def _lists(depth: int, leaf: Any) -> Any:
    """`depth` nested lists around `leaf` (or around nothing, if leaf is None)."""
    value: Any = [] if leaf is None else [leaf]
    for _ in range(depth - 1):
        value = [value]
    return value


def _typed_lists(depth: int) -> Validator:
    validator = v.array(v.string())
    for _ in range(depth - 1):
        validator = v.array(validator)
    return validator


def _dicts(depth: int) -> Any:
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def _typed_dicts(depth: int) -> Validator:
    validator = v.object({"a": v.optional(v.any())})
    for _ in range(depth - 1):
        validator = v.object({"a": v.optional(validator)})
    return validator


def _in_document(field: Validator, value: Any) -> DocumentInvalid | None:
    """Check `{"f": value}` as a document: `f`'s value is one level below the document."""
    try:
        v.object({"f": field}).check({"f": value}, "t", "")
    except DocumentInvalid as error:
        return error
    return None


@pytest.mark.parametrize("typed", [False, True], ids=["any", "typed"])
def test_values_more_than_max_depth_levels_down_are_refused(typed: bool) -> None:
    """A document's fields are level 1; a value at level MAX_DEPTH is the deepest allowed."""

    def field(depth: int) -> Validator:
        return _typed_lists(depth) if typed else v.any()

    assert _in_document(field(MAX_DEPTH - 1), _lists(MAX_DEPTH - 1, "leaf")) is None
    error = _in_document(field(MAX_DEPTH), _lists(MAX_DEPTH, "leaf"))
    assert error is not None
    assert error.rule == f"nested deeper than {MAX_DEPTH} levels"
    assert error.field.startswith("f[0][0]")
    assert _in_document(field(500), _lists(500, "leaf")) is not None  # no RecursionError


@pytest.mark.parametrize("depth", range(MAX_DEPTH - 2, MAX_DEPTH + 3))
def test_the_depth_limit_is_the_same_for_typed_and_any_values(depth: int) -> None:
    """One limit, counted one way: a value `v.any()` accepts at some depth is accepted by
    the typed validator of the same shape, and the other way round."""
    for what, shape, typed in (
        ("lists around a string", _lists(depth, "leaf"), _typed_lists(depth)),
        ("lists around nothing", _lists(depth, None), _typed_lists(depth)),
        ("objects around nothing", _dicts(depth), _typed_dicts(depth)),
    ):
        as_any = _in_document(v.any(), shape) is None
        as_typed = _in_document(typed, shape) is None
        assert as_any == as_typed, f"{depth} {what}: any accepts {as_any}, typed {as_typed}"


# --- any JSON --------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)  # JSON numbers are float64
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(JSON)
def test_any_accepts_every_finite_json_value_and_leaves_it_as_it_was(value: Any) -> None:
    kept = copy.deepcopy(value)
    v.any().check(value, "t", "f")
    assert value == kept


@given(JSON, st.sampled_from(NON_FINITE), st.data())
def test_any_refuses_a_non_finite_number_wherever_it_hides(
    value: Any, bad: float, data: st.DataObject
) -> None:
    """Put NaN or an infinity at a random place; the error names exactly that place."""
    root: Any = [value]
    holder, key, path = root, 0, "f[0]"
    while True:
        child = holder[key]
        if isinstance(child, list) and child:
            index = data.draw(st.integers(0, len(child) - 1))
            if data.draw(st.booleans()):
                holder, key, path = child, index, f"{path}[{index}]"
                continue
        elif isinstance(child, dict) and child:
            name = data.draw(st.sampled_from(sorted(child)))
            if data.draw(st.booleans()):
                holder, key, path = child, name, f"{path}.{name}"
                continue
        break
    holder[key] = bad
    error = fails(v.any(), root)
    assert (error.field, error.rule) == (path, "number must be finite")
