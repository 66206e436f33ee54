"""A query that fails keeps its read set and is re-run when the data appears, as Convex
does: a user signed in with an issuer's token before their users row exists gets
UNAUTHENTICATED from `users:current`-like queries that need the row; the `users:store`
that creates it is a commit their failed run's read set holds, and the re-run succeeds.
On SQLite and PostgreSQL."""

from __future__ import annotations

from advisor_chat.errors import Code
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.context import Identity
from advisor_chat.functions.runner import Runner
from advisor_chat.live.subscriptions import affects
from advisor_chat.store import Commit, Store

NEWCOMER = Identity("user_newcomer", "https://issuer.test", email="new@example.test")


async def test_a_failed_query_is_rerun_when_its_data_appears(store: Store) -> None:
    runner = Runner(store, build_registry())
    heard: list[Commit] = []
    store.commits.listen(heard.append)
    calls: list[tuple[str, dict[str, object]]] = [("marketplace:getUserSelectedAdvisors", {})]
    (failed,) = (await runner.run_queries(calls, NEWCOMER)).runs
    assert failed.error is not None
    assert failed.error.code is Code.UNAUTHENTICATED
    # Unrelated data does not wake it...
    other = Identity("user_other", "https://issuer.test")
    await runner.call("users:store", {}, other)
    assert not any(affects(failed.reads, commit) for commit in heard)
    # ...its own row does, and the re-run answers.
    await runner.call("users:store", {}, NEWCOMER)
    assert affects(failed.reads, heard[-1])
    (answered,) = (await runner.run_queries(calls, NEWCOMER)).runs
    assert answered.error is None
    assert answered.value == []
