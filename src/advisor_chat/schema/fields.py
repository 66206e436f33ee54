"""Field validators in Convex's style (`v.string()`, `v.optional(...)`, `v.object({...})`).

A validator checks a JSON value and raises `DocumentInvalid` naming the dotted field path
and the rule that failed. The same objects drive column types for indexed fields and, later,
argument validation and OpenAPI schemas, so a limit is written once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

from advisor_chat.errors import DocumentInvalid
from advisor_chat.schema.ids import TABLE_NUMBERS, is_valid_id, table_number_of

MAX_DEPTH = 16  # as Convex: deeper nesting is almost always a bug or an attack
ColumnKind = Literal["string", "number", "boolean"]


def type_name(value: object) -> str:
    """The JSON type name of a value, as error messages show it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


MAX_SAFE_INTEGER = 2**53  # JSON numbers are float64: beyond this, integers lose digits


def _check_text(value: str, table: str, path: str) -> None:
    """Text JSON can carry: valid Unicode, so no lone surrogates (UTF-8 cannot encode them)."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            _fail(table, path, "string must be valid Unicode (no lone surrogates)")


def _check_int(value: int, table: str, path: str) -> None:
    if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        _fail(table, path, "integer beyond 2**53 is not exact as a float64")


def _fail(table: str, path: str, rule: str) -> NoReturn:
    raise DocumentInvalid(table, path or "(document)", rule)


def _expected(table: str, path: str, expected: str, value: object) -> NoReturn:
    _fail(table, path, f"expected {expected}, got {type_name(value)}")


class Validator:
    """Base of all validators. `check` raises; it never coerces."""

    #: SQL column kind when the field is indexed; None for non-scalar validators.
    column_kind: ColumnKind | None = None

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        """The same rule as JSON Schema, for the OpenAPI document."""
        raise NotImplementedError


@dataclass(frozen=True)
class String(Validator):
    """A string, optionally bounded in characters (message bodies, names): the limit is
    declared here once and enforced wherever the validator is used."""

    max_length: int | None = None
    column_kind: ColumnKind | None = "string"

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if type(value) is not str:
            _expected(table, path, "string", value)
        _check_text(value, table, path)
        if self.max_length is not None and len(value) > self.max_length:
            _fail(table, path, f"longer than {self.max_length} characters")

    def describe(self) -> str:
        return "string"

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        return schema


@dataclass(frozen=True)
class Number(Validator):
    """A float64. JSON integers are accepted; NaN and infinities are not (no JSON form).
    Optional bounds serve arguments such as page sizes."""

    minimum: float | None = None
    maximum: float | None = None
    column_kind: ColumnKind | None = "number"

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                _fail(table, path, "number must be finite")
        elif kind is int:
            _check_int(value, table, path)
        else:
            _expected(table, path, "number", value)
        if self.minimum is not None and value < self.minimum:
            _fail(table, path, f"must be at least {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            _fail(table, path, f"must be at most {self.maximum:g}")

    def describe(self) -> str:
        return "number"

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(frozen=True)
class Boolean(Validator):
    column_kind: ColumnKind | None = "boolean"

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if type(value) is not bool:
            _expected(table, path, "boolean", value)

    def describe(self) -> str:
        return "boolean"

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Id(Validator):
    """A document id of `table`. Our own ids carry their table, so an id of another table
    is caught here; imported ids are opaque and checked by lookup in the function layer."""

    table: str = ""
    column_kind: ColumnKind | None = "string"

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if type(value) is not str:
            _expected(table, path, f"an id of table {self.table}", value)
        if not is_valid_id(value):
            _fail(table, path, f"not a valid id of table {self.table}")
        number = table_number_of(value)
        if number is not None and number != TABLE_NUMBERS[self.table]:
            _fail(table, path, f"an id of another table, expected table {self.table}")

    def describe(self) -> str:
        return f"id({self.table})"

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": "^[A-Za-z0-9_-]{1,128}$",
            "description": f"id of a document in {self.table}",
        }


@dataclass(frozen=True)
class LiteralOf(Validator):
    """One of a fixed set of strings (Convex `v.union(v.literal(...), ...)`)."""

    values: tuple[str, ...] = ()
    column_kind: ColumnKind | None = "string"

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if type(value) is not str or value not in self.values:
            allowed = ", ".join(repr(v) for v in self.values)
            shown = _short(value) if type(value) is str else type_name(value)
            _fail(table, path, f"expected one of {allowed}, got {shown}")

    def describe(self) -> str:
        return " | ".join(repr(v) for v in self.values)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@dataclass(frozen=True)
class Optional(Validator):
    """May be absent. Absent is not null: Convex rejects null for optional fields too."""

    inner: Validator = field(default_factory=lambda: AnyValue())

    @property
    def column_kind(self) -> ColumnKind | None:  # type: ignore[override]
        return self.inner.column_kind

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        self.inner.check(value, table, path, depth)

    def describe(self) -> str:
        return f"optional {self.inner.describe()}"

    def json_schema(self) -> dict[str, Any]:
        return self.inner.json_schema()


@dataclass(frozen=True)
class Nullable(Validator):
    """The value or null (Convex `v.union(inner, v.null())`), e.g. a pagination cursor."""

    inner: Validator = field(default_factory=lambda: AnyValue())

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if value is not None:
            self.inner.check(value, table, path, depth)

    def describe(self) -> str:
        return f"{self.inner.describe()} or null"

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [self.inner.json_schema(), {"type": "null"}]}


@dataclass(frozen=True)
class Array(Validator):
    items: Validator = field(default_factory=lambda: AnyValue())
    max_items: int | None = None

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if type(value) is not list:
            _expected(table, path, "array", value)
        if depth >= MAX_DEPTH:
            _fail(table, path, f"nested deeper than {MAX_DEPTH} levels")
        if self.max_items is not None and len(value) > self.max_items:
            _fail(table, path, f"more than {self.max_items} items")
        check = self.items.check
        for i, item in enumerate(value):
            check(item, table, f"{path}[{i}]", depth + 1)

    def describe(self) -> str:
        return f"array of {self.items.describe()}"

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.items.json_schema()}
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema


@dataclass(frozen=True)
class Object(Validator):
    """An object with declared fields. `open=True` keeps unknown keys, each value checked by
    `extras` (any JSON unless bounded): the persona file formats carry keys beyond the
    seed's, and imports must not drop them."""

    fields: Mapping[str, Validator] = field(default_factory=dict)
    open: bool = False
    extras: Validator = field(default_factory=lambda: _ANY)

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        if type(value) is not dict:
            _expected(table, path, "object", value)
        if depth >= MAX_DEPTH:
            _fail(table, path, f"nested deeper than {MAX_DEPTH} levels")
        prefix = f"{path}." if path else ""
        fields = self.fields
        for name, validator in fields.items():
            if name in value:
                validator.check(value[name], table, prefix + name, depth + 1)
            elif not isinstance(validator, Optional):
                _fail(table, prefix + name, "required field missing")
        if len(value) > len(fields) or any(k not in fields for k in value):
            for key, item in value.items():
                if key in fields:
                    continue
                if not self.open:
                    _fail(table, prefix + str(key), "unknown field")
                if isinstance(self.extras, AnyValue):  # its bounds hold for the keys too
                    self.extras.check_key(key, table, prefix + str(key))
                self.extras.check(item, table, prefix + str(key), depth + 1)
            most = self.extras.max_items if isinstance(self.extras, AnyValue) else None
            if most is not None and sum(1 for k in value if k not in fields) > most:
                _fail(table, path, f"more than {most} unknown fields")

    def describe(self) -> str:
        return "object"

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: rule.json_schema() for name, rule in self.fields.items()},
            "required": [n for n, rule in self.fields.items() if not isinstance(rule, Optional)],
            "additionalProperties": self.open,
        }


@dataclass(frozen=True)
class AnyValue(Validator):
    """Any JSON value: finite numbers, string keys, bounded depth. Optionally bounded too:
    strings and keys to `max_length` characters, arrays and objects to `max_items` entries
    (free-form parts of a persona file, whose every string a user wrote)."""

    max_length: int | None = None
    max_items: int | None = None

    def check(self, value: Any, table: str, path: str, depth: int = 0) -> None:
        kind = type(value)
        if kind is bool or value is None:
            return
        if kind is str:
            _check_text(value, table, path)
            if self.max_length is not None and len(value) > self.max_length:
                _fail(table, path, f"longer than {self.max_length} characters")
        elif kind is int:
            _check_int(value, table, path)
        elif kind is float:
            if not math.isfinite(value):
                _fail(table, path, "number must be finite")
        elif kind is list or kind is dict:
            if depth >= MAX_DEPTH:  # the limit counted as Array and Object count it
                _fail(table, path, f"nested deeper than {MAX_DEPTH} levels")
            if self.max_items is not None and len(value) > self.max_items:
                _fail(table, path, f"more than {self.max_items} items")
            if kind is list:
                for i, item in enumerate(value):
                    self.check(item, table, f"{path}[{i}]", depth + 1)
            else:
                for key, item in value.items():
                    self.check_key(key, table, path)
                    self.check(item, table, f"{path}.{key}", depth + 1)
        else:
            _fail(table, path, f"not a JSON value: {type_name(value)}")

    def check_key(self, key: Any, table: str, path: str) -> None:
        if type(key) is not str:
            _fail(table, path, "object keys must be strings")
        _check_text(key, table, path)
        if self.max_length is not None and len(key) > self.max_length:
            _fail(table, path, f"a key longer than {self.max_length} characters")

    def describe(self) -> str:
        return "any"

    def json_schema(self) -> dict[str, Any]:
        return {}  # the bounds have no JSON Schema form that applies at every depth


_ANY: AnyValue = AnyValue()


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class v:  # noqa: N801 - mirrors Convex's `v` namespace so declarations read like the seed
    """Constructors that read like the seed's TypeScript declarations."""

    @staticmethod
    def string(max_length: int | None = None) -> Validator:
        return String(max_length=max_length)

    @staticmethod
    def number(minimum: float | None = None, maximum: float | None = None) -> Validator:
        return Number(minimum=minimum, maximum=maximum)

    @staticmethod
    def boolean() -> Validator:
        return Boolean()

    @staticmethod
    def id(table: str) -> Validator:
        return Id(table=table)

    @staticmethod
    def literals(*values: str) -> Validator:
        return LiteralOf(values=values)

    @staticmethod
    def optional(inner: Validator) -> Validator:
        return Optional(inner=inner)

    @staticmethod
    def array(items: Validator, max_items: int | None = None) -> Validator:
        return Array(items=items, max_items=max_items)

    @staticmethod
    def nullable(inner: Validator) -> Validator:
        return Nullable(inner=inner)

    @staticmethod
    def object(
        fields: Mapping[str, Validator], *, open: bool = False, extras: Validator | None = None
    ) -> Validator:
        """`extras`: what each unknown key's value must be; giving it makes the object open."""
        if extras is not None:
            return Object(fields=dict(fields), open=True, extras=extras)
        return Object(fields=dict(fields), open=open)

    @staticmethod
    def any(max_length: int | None = None, max_items: int | None = None) -> Validator:
        if max_length is None and max_items is None:
            return _ANY
        return AnyValue(max_length=max_length, max_items=max_items)
