"""Function declarations: each is declared once (path, kind, argument validator, handler)
and every transport (HTTP, sync protocol) and the OpenAPI document read that declaration.

    @mutation("messages:sendMessage", {"conversationId": v.id("conversations"), ...})
    async def send_message(ctx: MutationCtx, args: Args) -> str: ...

A module lists what it declares in `FUNCTIONS`; `Registry` is built from those lists by
the app, so there is no module-level mutable state. Seed 002's names are aliases of the
same declarations, not copies.

A declaration also says how the function behaves when scheduled (see
`functions/scheduled.py`): its lane (`long` for work that streams for minutes, such as an
advisor's turn, so it never takes the slots of short jobs), its time limit, and
`on_unfinished`, a mutation handler run with the call's arguments in the transaction that
ends the call any way but `success` (it failed, was cancelled, ran out of time, or its
server stopped or died), so its data is left consistent whatever happened (an answer
marked stopped, never left generating). A `retried` mutation is work
that must finish (a cleanup batch): scheduled, a failure is tried again later instead of
ending it `failed`. `internal` functions are called only by other functions and the
scheduler, never by a client.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from advisor_chat.errors import Code, FunctionError
from advisor_chat.schema.fields import Object, Validator

Kind = Literal["query", "mutation", "action"]
Lane = Literal["short", "long"]
Args = dict[str, Any]
Handler = Callable[[Any, Args], Awaitable[Any]]

TIME_LIMIT_S: dict[Lane, float] = {"short": 60.0, "long": 15 * 60.0}  # defaults per lane


@dataclass(frozen=True)
class Function:
    path: str  # "module:name"
    kind: Kind
    args: Object
    handler: Handler
    internal: bool = False  # callable by functions and the scheduler only
    lane: Lane = "short"
    time_limit_s: float | None = None  # None: the lane's default
    on_unfinished: Handler | None = None  # a mutation handler (MutationCtx, args)
    retried: bool = False  # scheduled, a failure is tried again later, never ended failed

    @property
    def time_limit(self) -> float:
        """Seconds a scheduled run of this function may take before it is stopped."""
        return self.time_limit_s if self.time_limit_s is not None else TIME_LIMIT_S[self.lane]

    @property
    def module(self) -> str:
        return self.path.partition(":")[0]

    @property
    def name(self) -> str:
        return self.path.partition(":")[2]

    def alias(self, path: str) -> Function:
        """The same function under another name (seed 002's, or an old client's)."""
        return replace(self, path=path)


def _declare(
    kind: Kind,
    path: str,
    args: Mapping[str, Validator],
    **options: Any,
) -> Callable[[Handler], Function]:
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"function path must be 'module:name', not {path!r}")

    def wrap(handler: Handler) -> Function:
        return Function(path, kind, Object(fields=dict(args)), handler, **options)

    return wrap


def query(
    path: str, args: Mapping[str, Validator], *, internal: bool = False
) -> Callable[[Handler], Function]:
    return _declare("query", path, args, internal=internal)


def mutation(
    path: str, args: Mapping[str, Validator], *, internal: bool = False, retried: bool = False
) -> Callable[[Handler], Function]:
    return _declare("mutation", path, args, internal=internal, retried=retried)


def action(
    path: str,
    args: Mapping[str, Validator],
    *,
    internal: bool = False,
    lane: Lane = "short",
    time_limit_s: float | None = None,
    on_unfinished: Handler | None = None,
) -> Callable[[Handler], Function]:
    return _declare(
        "action",
        path,
        args,
        internal=internal,
        lane=lane,
        time_limit_s=time_limit_s,
        on_unfinished=on_unfinished,
    )


@dataclass(frozen=True)
class Retired:
    """A path the original app served that we deliberately do not (it let anyone read or
    write every user's data, say). A call to it answers NOT_FOUND with `reason`, so a
    client moving over learns why and what replaces it instead of a bare "not found"."""

    path: str
    reason: str


class Registry:
    """Every callable function, by path. Immutable once built."""

    def __init__(self, functions: Iterable[Function], retired: Iterable[Retired] = ()) -> None:
        by_path: dict[str, Function] = {}
        for function in functions:
            if function.path in by_path:
                raise ValueError(f"function {function.path} declared twice")
            by_path[function.path] = function
        self._by_path = by_path
        self._retired: dict[str, Retired] = {}
        for gone in retired:
            if gone.path in by_path or gone.path in self._retired:
                raise ValueError(f"function {gone.path} both declared and retired")
            self._retired[gone.path] = gone

    def get(self, path: str, kind: Kind | None = None, *, internal: bool = False) -> Function:
        """The function at `path` (Convex also accepts `module.js:name` and `module/name`).
        Internal functions are found only with `internal=True`; to a client they are
        missing, exactly as a path nobody declared."""
        normal = (
            path.replace(".js:", ":").replace("/", ":")
            if ":" not in path or ".js:" in path
            else path
        )
        function = self._by_path.get(normal)
        if function is None and normal in self._retired:
            gone = self._retired[normal]
            raise FunctionError(
                Code.NOT_FOUND,
                f"'{path}' is not served: {gone.reason}",
                path=path,
                retired=True,
            )
        if (
            function is None
            or (kind is not None and function.kind != kind)
            or (function.internal and not internal)
        ):
            what = f"public {kind}" if kind else "public function"
            raise FunctionError(Code.NOT_FOUND, f"Could not find {what} for '{path}'", path=path)
        return function

    def find(self, path: str) -> Function | None:
        """The declaration at `path`, internal ones included, or None."""
        try:
            return self.get(path, internal=True)
        except FunctionError:
            return None

    def retired(self) -> Iterator[Retired]:
        """The original app's paths we deliberately do not serve, each with its reason."""
        return iter(self._retired.values())

    def public(self) -> Iterator[Function]:
        """What clients may call: every function but the internal ones."""
        return (f for f in self._by_path.values() if not f.internal)

    def __iter__(self) -> Iterator[Function]:
        return iter(self._by_path.values())

    def __len__(self) -> int:
        return len(self._by_path)
