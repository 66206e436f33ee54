"""Function declarations: each is declared once (path, kind, argument validator, handler)
and every transport (HTTP, sync protocol) and the OpenAPI document read that declaration.

    @mutation("messages:sendMessage", {"conversationId": v.id("conversations"), ...})
    async def send_message(ctx: MutationCtx, args: Args) -> str: ...

A module lists what it declares in `FUNCTIONS`; `Registry` is built from those lists by
the app, so there is no module-level mutable state. Seed 002's names are aliases of the
same declarations, not copies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from advisor_chat.errors import Code, FunctionError
from advisor_chat.schema.fields import Object, Validator

Kind = Literal["query", "mutation", "action"]
Args = dict[str, Any]
Handler = Callable[[Any, Args], Awaitable[Any]]


@dataclass(frozen=True)
class Function:
    path: str  # "module:name"
    kind: Kind
    args: Object
    handler: Handler

    @property
    def module(self) -> str:
        return self.path.partition(":")[0]

    @property
    def name(self) -> str:
        return self.path.partition(":")[2]

    def alias(self, path: str) -> Function:
        """The same function under another name (seed 002's, or an old client's)."""
        return replace(self, path=path)


def _declare(kind: Kind, path: str, args: Mapping[str, Validator]) -> Callable[[Handler], Function]:
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"function path must be 'module:name', not {path!r}")

    def wrap(handler: Handler) -> Function:
        return Function(path, kind, Object(fields=dict(args)), handler)

    return wrap


def query(path: str, args: Mapping[str, Validator]) -> Callable[[Handler], Function]:
    return _declare("query", path, args)


def mutation(path: str, args: Mapping[str, Validator]) -> Callable[[Handler], Function]:
    return _declare("mutation", path, args)


def action(path: str, args: Mapping[str, Validator]) -> Callable[[Handler], Function]:
    return _declare("action", path, args)


class Registry:
    """Every callable function, by path. Immutable once built."""

    def __init__(self, functions: Iterable[Function]) -> None:
        by_path: dict[str, Function] = {}
        for function in functions:
            if function.path in by_path:
                raise ValueError(f"function {function.path} declared twice")
            by_path[function.path] = function
        self._by_path = by_path

    def get(self, path: str, kind: Kind | None = None) -> Function:
        """The function at `path` (Convex also accepts `module.js:name` and `module/name`)."""
        normal = (
            path.replace(".js:", ":").replace("/", ":")
            if ":" not in path or ".js:" in path
            else path
        )
        function = self._by_path.get(normal)
        if function is None or (kind is not None and function.kind != kind):
            what = f"public {kind}" if kind else "public function"
            raise FunctionError(Code.NOT_FOUND, f"Could not find {what} for '{path}'", path=path)
        return function

    def __iter__(self) -> Iterator[Function]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)
