"""The error tree. One type reaches callers of functions; the store raises its own.

AdvisorChatError
├── FunctionError          carries a stable `Code`; becomes Convex `errorData`
├── SourceInvalid          an import source that cannot be read at all (names file, line, table)
└── StoreError             raised by the store; `functions` maps each to a code
    ├── DocumentInvalid    a write failed validation (names table, field, rule)
    ├── UniqueViolation    a write broke a uniqueness rule (names table, index, fields)
    ├── DocumentMissing    patch/replace/delete of an id that is not there
    ├── CursorInvalid      a pagination cursor that is not one of ours, or of another index
    ├── QueryInvalid       an unknown table or index, or a range not in index order
    └── SchemaMismatch     the database was written by a newer release
"""

from __future__ import annotations

import enum
from typing import Any


class Code(enum.StrEnum):
    """Stable error codes, the same over HTTP and WebSocket."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"  # signed in, but the function needs a role the caller lacks
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    STORAGE_LIMITED = "STORAGE_LIMITED"  # the plan holds no more of these, or no larger value
    PROVIDER_ERROR = "PROVIDER_ERROR"
    TIMEOUT = "TIMEOUT"  # work stopped at its time limit (a scheduled call, say)
    INTERNAL = "INTERNAL"
    # Refused at the edge, before any work (api/bounds.py, api/connections.py).
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"  # 413: a body (or WebSocket message) over its limit
    HEADERS_TOO_LARGE = "HEADERS_TOO_LARGE"  # 431: too many or too large request headers
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"  # 408: the client was too slow to send its request
    TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"  # 429 per address, 503 in all


class AdvisorChatError(Exception):
    """Base of every error this package raises on purpose."""


class FunctionError(AdvisorChatError):
    def __init__(self, code: Code, message: str, **data: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


class SourceInvalid(AdvisorChatError):
    """An import source that cannot be imported at all: malformed JSON, a file of the wrong
    kind, a ZIP that is not a Convex export, a database without the Prisma tables. The
    message names the file (and line) or table; nothing has been written."""

    code = Code.INVALID_ARGUMENT

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem


class StoreError(AdvisorChatError):
    """Base of the store's errors; `code` is what a function call answers with."""

    code: Code = Code.INTERNAL


class DocumentInvalid(StoreError):
    code = Code.INVALID_ARGUMENT

    def __init__(self, table: str, field: str, rule: str) -> None:
        super().__init__(f"{table}.{field}: {rule}")
        self.table = table
        self.field = field
        self.rule = rule


class UniqueViolation(StoreError):
    code = Code.CONFLICT

    def __init__(self, table: str, index: str, fields: tuple[str, ...]) -> None:
        names = ", ".join(fields)
        super().__init__(f"{table}.{index}: unique rule broken, ({names}) already taken")
        self.table = table
        self.index = index
        self.fields = fields


class DocumentMissing(StoreError):
    code = Code.NOT_FOUND

    def __init__(self, table: str, doc_id: str) -> None:
        super().__init__(f"{table}: no document with _id {doc_id!r}")
        self.table = table
        self.doc_id = doc_id


class CursorInvalid(StoreError):
    code = Code.INVALID_ARGUMENT


class QueryInvalid(StoreError):
    code = Code.INVALID_ARGUMENT


class SchemaMismatch(StoreError):
    pass
