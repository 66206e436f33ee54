"""The function layer: declared arguments checked first, one error type with stable codes,
the right transaction per kind, and scheduling only after a commit."""

from __future__ import annotations

from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import ActionCtx, Identity, MutationCtx, QueryCtx
from advisor_chat.functions.registry import Args, Registry, Retired, action, mutation, query
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.fields import v
from advisor_chat.store import Commit, Store

ALICE = Identity(subject="user_alice", issuer="https://issuer.test")


@mutation("notes:add", {"clerkId": v.string(max_length=20), "plan": v.optional(v.string())})
async def add(ctx: MutationCtx, args: Args) -> str:
    doc = {
        "clerkId": args["clerkId"],
        "plan": args.get("plan", "free"),
        "createdAt": 1,
        "updatedAt": 1,
    }
    await ctx.scheduler.run_after(0, "notes:count", {})
    return await ctx.db.insert("users", doc)


@mutation("notes:addThenFail", {"clerkId": v.string()})
async def add_then_fail(ctx: MutationCtx, args: Args) -> None:
    await add.handler(ctx, {"clerkId": args["clerkId"]})
    raise FunctionError(Code.CONFLICT, "changed my mind")


@mutation("notes:crash", {})
async def crash(ctx: MutationCtx, args: Args) -> None:
    await ctx.db.insert(
        "users", {"clerkId": "crash", "plan": "free", "createdAt": 1, "updatedAt": 1}
    )
    raise ZeroDivisionError("a bug")


@query("notes:count", {})
async def count(ctx: QueryCtx, args: Args) -> int:
    return len(await ctx.db.query("users").collect())


@query("notes:tryWrite", {})
async def try_write(ctx: QueryCtx, args: Args) -> None:
    await ctx.db.insert("users", {"clerkId": "q", "plan": "free", "createdAt": 1, "updatedAt": 1})


@action("notes:addTwice", {"prefix": v.string()})
async def add_twice(ctx: ActionCtx, args: Args) -> int:
    await ctx.run_mutation("notes:add", {"clerkId": args["prefix"] + "1"})
    await ctx.run_mutation("notes:add", {"clerkId": args["prefix"] + "2"})
    result: int = await ctx.run_query("notes:count", {})
    return result


TEST_FUNCTIONS = (add, add_then_fail, crash, count, try_write, add_twice, add.alias("notes:insert"))


@pytest.fixture
def runner(store: Store) -> Runner:
    return Runner(store, Registry(TEST_FUNCTIONS))


async def _scheduled(runner: Runner) -> list[tuple[str, object, str]]:
    async def read(tx: Any) -> list[Any]:
        return await tx.query("scheduledFunctions").collect()  # type: ignore[no-any-return]

    rows = (await runner.store.query(read)).value
    return [(r["name"], r["args"], r["state"]) for r in rows]


async def _count(runner: Runner) -> int:
    value: int = (await runner.call("notes:count", {}, ALICE)).value
    return value


async def test_a_mutation_commits_with_what_it_scheduled(runner: Runner) -> None:
    result = await runner.call("notes:add", {"clerkId": "a"}, ALICE)
    assert isinstance(result.value, str)
    assert result.ts > 0
    assert await _count(runner) == 1
    assert await _scheduled(runner) == [("notes:count", {}, "pending")]


async def test_a_broken_commit_listener_never_turns_a_commit_into_a_failure(
    runner: Runner,
) -> None:
    """The commit happened, so the caller hears success: a failure would make a client
    retry and store the write twice. Listeners after the broken one still hear of it."""
    heard: list[int] = []

    def broken(commit: Commit) -> None:
        raise RuntimeError("listener bug")

    stops = [
        runner.store.commits.listen(broken),
        runner.store.commits.listen(lambda commit: heard.append(commit.ts)),
    ]
    result = await runner.call("notes:add", {"clerkId": "once"}, ALICE)
    for stop in stops:
        stop()
    assert heard == [result.ts]
    assert await _count(runner) == 1


async def test_a_failed_mutation_writes_and_schedules_nothing(runner: Runner) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:addThenFail", {"clerkId": "a"}, ALICE)
    assert caught.value.code is Code.CONFLICT
    assert await _count(runner) == 0
    assert await _scheduled(runner) == []


@pytest.mark.parametrize(
    ("args", "field", "rule"),
    [
        ({}, "clerkId", "required field missing"),
        ({"clerkId": 5}, "clerkId", "expected string, got number"),
        ({"clerkId": "a", "extra": 1}, "extra", "unknown field"),
        ({"clerkId": "x" * 21}, "clerkId", "longer than 20 characters"),
        ({"clerkId": "a", "plan": None}, "plan", "expected string, got null"),
    ],
)
async def test_bad_arguments_are_refused_before_the_handler_runs(
    runner: Runner, args: dict[str, Any], field: str, rule: str
) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:add", args, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert caught.value.data["field"] == field
    assert caught.value.data["rule"] == rule
    assert field in caught.value.message
    assert await _count(runner) == 0
    assert await _scheduled(runner) == []


@pytest.mark.parametrize("args", [None, [], "x", {"clerkId": float("nan")}])
async def test_arguments_must_be_a_json_object(runner: Runner, args: Any) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:add", args, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT
    assert await _count(runner) == 0


async def test_deeply_nested_arguments_are_refused(runner: Runner) -> None:
    deep: Any = "x"
    for _ in range(100):
        deep = {"a": deep}
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:add", {"clerkId": "a", "plan": deep}, ALICE)
    assert caught.value.code is Code.INVALID_ARGUMENT


async def test_unknown_functions_and_wrong_kinds_are_not_found(runner: Runner) -> None:
    for path, kind in [("notes:nope", None), ("nope:add", None), ("notes:add", "query")]:
        with pytest.raises(FunctionError) as caught:
            await runner.call(path, {"clerkId": "a"}, ALICE, kind)  # type: ignore[arg-type]
        assert caught.value.code is Code.NOT_FOUND
    assert (await runner.call("notes.js:count", {}, ALICE)).value == 0


async def test_aliases_are_the_same_function(runner: Runner) -> None:
    await runner.call("notes:insert", {"clerkId": "via-alias"}, ALICE)
    assert await _count(runner) == 1


async def test_a_bug_is_internal_with_nothing_leaked_or_written(runner: Runner) -> None:
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:crash", {}, ALICE)
    assert caught.value.code is Code.INTERNAL
    assert caught.value.message == "internal error"
    assert await _count(runner) == 0


async def test_store_errors_keep_their_codes(runner: Runner) -> None:
    await runner.call("notes:add", {"clerkId": "same"}, ALICE)
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:add", {"clerkId": "same"}, ALICE)
    assert caught.value.code is Code.CONFLICT
    with pytest.raises(FunctionError) as caught:
        await runner.call("notes:tryWrite", {}, ALICE)
    assert caught.value.code is Code.INTERNAL  # a query that writes is a bug, not bad input


async def test_an_action_runs_functions_as_its_caller(runner: Runner) -> None:
    assert (await runner.call("notes:addTwice", {"prefix": "p"}, ALICE)).value == 2


def test_paths_are_declared_once() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Registry([add, add])
    with pytest.raises(ValueError, match="module:name"):
        query("nameless", {})


def test_every_product_function_has_a_module_path_and_object_arguments() -> None:
    registry = build_registry()
    assert len(registry) > 0
    for function in registry:
        assert function.module, function.path
        assert function.name, function.path
        assert function.kind in ("query", "mutation", "action")


async def test_transaction_kinds(store: Store) -> None:
    """Queries get a read-only transaction; mutations a writable one."""
    seen: dict[str, bool] = {}

    @query("t:q", {})
    async def q(ctx: QueryCtx, args: Args) -> None:
        seen["query"] = ctx.db.readonly

    @mutation("t:m", {})
    async def m(ctx: MutationCtx, args: Args) -> None:
        seen["mutation"] = ctx.db.readonly

    runner = Runner(store, Registry([q, m]))
    await runner.call("t:q", {}, None)
    await runner.call("t:m", {}, None)
    assert seen == {"query": True, "mutation": False}


async def test_a_retired_path_answers_not_found_with_its_reason(store: Store) -> None:
    """A client of the original app calling a function we deliberately do not serve
    learns why, over the same error code as any missing function."""
    registry = Registry([add], [Retired("notes:list", "it listed every user's notes")])
    runner = Runner(store, registry)
    with pytest.raises(FunctionError) as refused:
        await runner.call("notes:list", {}, ALICE)
    assert refused.value.code == Code.NOT_FOUND
    assert "it listed every user's notes" in refused.value.message
    assert refused.value.data["retired"] is True
    assert [r.path for r in registry.retired()] == ["notes:list"]
    assert "notes:list" not in {f.path for f in registry.public()}


def test_a_path_cannot_be_both_declared_and_retired() -> None:
    with pytest.raises(ValueError, match="both declared and retired"):
        Registry([add], [Retired("notes:add", "gone")])
