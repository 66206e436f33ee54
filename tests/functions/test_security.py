"""Every function, enumerated from the registry, refuses callers it must refuse and changes
nothing when it does: unauthenticated, another user, malformed arguments. A function added
without an example here fails `test_every_function_has_an_example`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from advisor_chat.errors import Code, FunctionError
from advisor_chat.functions.catalog import build_registry
from advisor_chat.functions.runner import Runner
from advisor_chat.schema.fields import AnyValue, Id, Validator
from advisor_chat.store import Store, Transaction
from tests.functions.world import ALICE, BOB, World, snapshot
from tests.validators import present

Example = Callable[[World], dict[str, Any]]

# Valid arguments for each function, aimed at Alice's documents where it takes an id.
EXAMPLES: dict[str, Example] = {
    "users:current": lambda w: {},
    "users:store": lambda w: {},
    "users:getOrCreateUser": lambda w: {},
    "users:getUserByClerkId": lambda w: {"clerkId": ALICE.subject},
    "users:updateUserProfile": lambda w: {"name": "Renamed"},
    "conversations:getUserConversations": lambda w: {
        "paginationOpts": {"numItems": 10, "cursor": None}
    },
    "conversations:getConversationById": lambda w: {"conversationId": w.conversation},
    "conversations:createConversation": lambda w: {
        "title": "New",
        "advisorIds": [w.public_advisor],
    },
    "conversations:updateConversation": lambda w: {"conversationId": w.conversation, "title": "X"},
    "conversations:deleteConversation": lambda w: {"conversationId": w.conversation},
    "messages:getConversationMessages": lambda w: {"conversationId": w.conversation},
    "messages:sendMessage": lambda w: {"conversationId": w.conversation, "content": "hi"},
    "messages:appendMessage": lambda w: {"conversationId": w.conversation, "content": "hi"},
    "messages:updateMessage": lambda w: {"messageId": w.message, "content": "edited"},
    "messages:searchMessages": lambda w: {"query": "hello", "conversationId": w.conversation},
    "messages:deleteMessage": lambda w: {"messageId": w.message},
    "messages:getStreamingText": lambda w: {"messageId": w.answer},
    "messages:stop": lambda w: {"messageId": w.message},
    "messages:regenerate": lambda w: {"messageId": w.answer},
    "messages:selectVersion": lambda w: {"messageId": w.answer, "version": 0},
    "advisorMemories:list": lambda w: {"conversationId": w.conversation},
    "advisorMemories:getMemoryByKey": lambda w: {
        "conversationId": w.conversation,
        "advisorId": w.public_advisor,
        "key": "runway",
    },
    "advisorMemories:setMemory": lambda w: {
        "conversationId": w.conversation,
        "advisorId": w.public_advisor,
        "key": "goal",
        "value": "IPO",
    },
    "advisorMemories:updateMemory": lambda w: {"memoryId": w.memory, "key": "cash", "value": 3},
    "advisorMemories:deleteMemory": lambda w: {"memoryId": w.memory},
    "advisorMemories:clearAdvisorMemories": lambda w: {
        "conversationId": w.conversation,
        "advisorId": w.public_advisor,
    },
    "threadSummaries:getConversationSummaries": lambda w: {"conversationId": w.conversation},
    "threadSummaries:createSummary": lambda w: {"conversationId": w.conversation, "content": "S"},
    "threadSummaries:createThreadSummary": lambda w: {
        "conversationId": w.conversation,
        "content": "S",
    },
    "threadSummaries:deleteSummary": lambda w: {"summaryId": w.summary},
    "threadSummaries:updateSummary": lambda w: {"summaryId": w.summary, "content": "S2"},
    "realtime:setTypingStatus": lambda w: {"conversationId": w.conversation, "isTyping": True},
    "realtime:getTypingUsers": lambda w: {"conversationId": w.conversation},
    "realtime:updateUserPresence": lambda w: {
        "isOnline": True,
        "currentConversationId": w.conversation,
    },
    "realtime:getUserPresence": lambda w: {},
    "advisors:getActiveAdvisors": lambda w: {},
    "advisors:listAdvisorsForUser": lambda w: {},
    "advisors:getAdvisorById": lambda w: {"advisorId": w.private_advisor},
    "advisors:getAdvisorsByTags": lambda w: {"tags": ["finance"]},
    "advisors:createAdvisor": lambda w: {
        "persona": {"name": "Bo", "title": "CMO"},
        "tags": ["growth"],
    },
    "advisors:createAdvisorFromJSON": lambda w: {
        "advisor": {"advisorId": "bo-v1", "persona": {"name": "Bo Lind", "title": "CMO"}},
    },
    "advisors:updateAdvisor": lambda w: {"advisorId": w.private_advisor, "category": "finance"},
    "advisors:archiveAdvisor": lambda w: {"advisorId": w.private_advisor},
    "advisors:deleteAdvisor": lambda w: {"advisorId": w.private_advisor},
    "marketplace:getMarketplaceAdvisors": lambda w: {"featured": False},
    "marketplace:getUserSelectedAdvisors": lambda w: {},
    "marketplace:selectAdvisor": lambda w: {"advisorId": w.private_advisor},
    "marketplace:unselectAdvisor": lambda w: {"advisorId": w.public_advisor},
    "marketplace:selectTeam": lambda w: {"teamId": "startup-board"},
    "marketplace:getMarketplaceStats": lambda w: {},
    "marketplace:searchAdvisors": lambda w: {"query": "ada", "tags": ["finance"]},
    "teams:getTeamTemplates": lambda w: {"category": "startup"},
    "teams:getTeamTemplate": lambda w: {"teamId": "startup-board"},
    "teams:createFromTemplate": lambda w: {"teamId": "startup-board", "title": "Board"},
    # -- the original app's advisors, advisorMemories and threadSummaries (issue 18) --
    "advisors:getAllAdvisors": lambda w: {},
    "advisors:getAdvisors": lambda w: {},
    "advisors:uploadAdvisorJSON": lambda w: {
        "advisor": {"persona": {"name": "Bo Lind", "title": "CMO"}},
    },
    "advisors:backfillAdvisorPhotos": lambda w: {},
    "advisors:backfillAdvisorPersonaFieldsFromJSON": lambda w: {
        "advisors": [{"persona": {"name": "Ada Reyes", "title": "CFO", "bio": "Numbers."}}],
    },
    "advisors:enrichAdvisorsFromJSON": lambda w: {
        "advisors": [{"persona": {"name": "Ada Reyes", "title": "CFO", "bio": "Numbers."}}],
    },
    "advisorMemories:getConversationMemories": lambda w: {"conversationId": w.conversation},
    "threadSummaries:getSummaryById": lambda w: {"summaryId": w.summary},
    "threadSummaries:clearConversationSummaries": lambda w: {"conversationId": w.conversation},
    "threadSummaries:getSummaryStats": lambda w: {"conversationId": w.conversation},
    # The original app's chat action and seed 002's streamAssistantResponse (chat_actions.py).
    "chat:sendChatMessage": lambda w: {
        "conversationId": w.conversation,
        "message": "hi",
        "advisorId": w.public_advisor,
    },
    "chat:streamAssistantResponse": lambda w: {
        "conversationId": w.conversation,
        "advisorId": w.public_advisor,
        "partialChunks": ["Hel", "lo"],
    },
    "messages:streamAssistantResponse": lambda w: {
        "conversationId": w.conversation,
        "advisorId": w.public_advisor,
    },
}

# Functions that act only on the caller's own rows (no id of someone else's document):
# as Bob they succeed on Bob's data, which is the point.
OWN_ROWS_ONLY = {
    "users:current",
    "users:store",
    "users:getOrCreateUser",
    "users:getUserByClerkId",
    "users:updateUserProfile",
    "conversations:getUserConversations",
    "conversations:createConversation",
    "realtime:getUserPresence",
    # Public or the caller's own: Bob reading the marketplace or his own board is the point.
    "advisors:getActiveAdvisors",
    "advisors:listAdvisorsForUser",
    "advisors:getAdvisorsByTags",
    "advisors:createAdvisor",
    "advisors:createAdvisorFromJSON",
    "marketplace:getMarketplaceAdvisors",
    "marketplace:getUserSelectedAdvisors",
    "marketplace:unselectAdvisor",
    "marketplace:selectTeam",
    "marketplace:getMarketplaceStats",
    "marketplace:searchAdvisors",
    "teams:getTeamTemplates",
    "teams:getTeamTemplate",
    "teams:createFromTemplate",
    # -- the original app's advisors (issue 18) --
    "advisors:getAllAdvisors",
    "advisors:getAdvisors",
    "advisors:uploadAdvisorJSON",
}

# --- the original's auth:* and users:* functions (issue 18) --------------------------------
EXAMPLES |= {
    "auth:getCurrentUserInfo": lambda w: {},
    "auth:syncUserFromClerk": lambda w: {},
    "auth:ensureUserExists": lambda w: {},
    "auth:updateCurrentUserProfile": lambda w: {"name": "Renamed"},
    "auth:deleteCurrentUser": lambda w: {},
    "auth:hasUserPlan": lambda w: {"plan": "free"},
    "auth:getCurrentUserStats": lambda w: {},
    "users:getUserById": lambda w: {"userId": w.alice},
    "users:updateUserPlan": lambda w: {"userId": w.alice, "plan": "pro"},
    "users:getAllUsers": lambda w: {},
    "users:deleteUser": lambda w: {"userId": w.alice},
}
OWN_ROWS_ONLY |= {
    "auth:getCurrentUserInfo",
    "auth:syncUserFromClerk",
    "auth:ensureUserExists",
    "auth:updateCurrentUserProfile",
    "auth:deleteCurrentUser",
    "auth:hasUserPlan",
    "auth:getCurrentUserStats",
    "users:getUserById",  # another's id reads as null: tests/functions/test_original_users.py
}
# Answered to a signed-out caller, as the original did, without reading or writing anything.
SIGNED_OUT_ANSWERS: dict[str, Any] = {"auth:getCurrentUserInfo": None, "auth:hasUserPlan": False}
# For the admin role only: anyone else, whatever their plan, is FORBIDDEN.
ADMIN_ONLY = {"users:updateUserPlan", "users:getAllUsers", "users:deleteUser"}

# --- The original app's conversations, messages and realtime paths (issue 18) ---------
EXAMPLES |= {
    "conversations:getConversations": lambda w: {},
    "messages:getRecentMessages": lambda w: {"limit": 10},
    "messages:getMessageById": lambda w: {"messageId": w.answer},
    "messages:getMessageStats": lambda w: {"conversationId": w.conversation},
    "realtime:getOnlineUsers": lambda w: {},
    "realtime:getUsersInConversation": lambda w: {"conversationId": w.conversation},
    "realtime:cleanupStaleRecords": lambda w: {},
    "realtime:trackUserActivity": lambda w: {
        "activity": "message_sent",
        "conversationId": w.conversation,
    },
}
# The original's own arguments, so the malformed-argument test walks them too (any JSON is
# a valid `contentJson` or `metadata`, any number a valid `tokensUsed`: their bounds are
# tested in test_original_*.py).
EXAMPLES["messages:sendMessage"] = lambda w: {
    "conversationId": w.conversation,
    "sender": "user",
    "content": "hi",
    "mentions": [],
}
EXAMPLES["messages:searchMessages"] = lambda w: {
    "searchTerm": "hello",
    "conversationId": w.conversation,
}
OWN_ROWS_ONLY |= {
    "conversations:getConversations",
    "messages:getRecentMessages",
    "realtime:getOnlineUsers",
}
ADMIN_ONLY |= {"realtime:cleanupStaleRecords"}
# --- end of issue 18's conversations, messages and realtime block ----------------------


@pytest.mark.parametrize("path", sorted(SIGNED_OUT_ANSWERS))
async def test_signed_out_callers_get_the_originals_empty_answer(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    before = await snapshot(store)
    answer = await runner.call(path, EXAMPLES[path](world), None)
    assert answer.value == SIGNED_OUT_ANSWERS[path]
    assert await snapshot(store) == before


# -- issue 18: what a signed-out caller may read, and what only an administrator may do --

# Readable signed out, as the original's were, so the marketplace can be browsed before
# signing up: public advisors and team templates only, never anyone's own documents.
SIGNED_OUT_READS = {
    "advisors:getAllAdvisors",
    "advisors:getActiveAdvisors",
    "advisors:listAdvisorsForUser",
    "advisors:getAdvisors",
    "advisors:getAdvisorById",
    "advisors:getAdvisorsByTags",
    "marketplace:getMarketplaceAdvisors",
    "marketplace:getMarketplaceStats",
    "teams:getTeamTemplates",
    "teams:getTeamTemplate",
}

# The marketplace's upkeep: the admin role only (users.role), whatever the caller's plan.
ADMIN_ONLY |= {
    "advisors:backfillAdvisorPhotos",
    "advisors:backfillAdvisorPersonaFieldsFromJSON",
    "advisors:enrichAdvisorsFromJSON",
}


@pytest.mark.parametrize("path", sorted(SIGNED_OUT_READS))
async def test_signed_out_callers_read_public_data_only_and_nothing_changes(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    before = await snapshot(store)
    args = EXAMPLES[path](world)
    refused: FunctionError | None = None
    try:
        seen = json.dumps((await runner.call(path, args, None)).value)
    except FunctionError as error:
        refused = error
        seen = error.message
    for private in (world.private_advisor, world.conversation, ALICE.email, ALICE.subject):
        assert str(private) not in seen
    assert await snapshot(store) == before
    if refused is None:
        return
    # Aimed at Alice's private advisor: it answers exactly as one that does not exist.
    assert refused.code is Code.NOT_FOUND

    async def delete(tx: Transaction) -> None:
        await tx.delete("advisors", world.private_advisor)

    await store.mutation(delete)
    with pytest.raises(FunctionError) as missing:
        await runner.call(path, args, None)
    assert (missing.value.code, missing.value.message) == (refused.code, refused.message)


@pytest.mark.parametrize("path", sorted(ADMIN_ONLY))
@pytest.mark.parametrize("plan", ["free", "enterprise"])
async def test_admin_functions_refuse_everyone_else_and_nothing_changes(
    store: Store, runner: Runner, world: World, path: str, plan: str
) -> None:
    """A plan is not a role: an enterprise user is refused as a free one is."""

    async def set_plan(tx: Transaction) -> None:
        for user in await tx.query("users").collect():
            await tx.patch("users", user["_id"], {"plan": plan})

    await store.mutation(set_plan)
    before = await snapshot(store)
    for caller in (ALICE, BOB):
        with pytest.raises(FunctionError) as caught:
            await runner.call(path, EXAMPLES[path](world), caller)
        assert caught.value.code is Code.FORBIDDEN, caller
    assert await snapshot(store) == before


PATHS = sorted(EXAMPLES)


def test_every_function_has_an_example() -> None:
    assert {f.path for f in build_registry().public()} == set(EXAMPLES)


@pytest.mark.parametrize("path", sorted(set(PATHS) - set(SIGNED_OUT_ANSWERS) - SIGNED_OUT_READS))
async def test_unauthenticated_callers_are_refused_and_nothing_changes(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    before = await snapshot(store)
    with pytest.raises(FunctionError) as caught:
        await runner.call(path, EXAMPLES[path](world), None)
    assert caught.value.code is Code.UNAUTHENTICATED
    assert await snapshot(store) == before


@pytest.mark.parametrize("path", sorted(set(PATHS) - OWN_ROWS_ONLY - ADMIN_ONLY))
async def test_another_users_documents_read_as_missing_and_nothing_changes(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    before = await snapshot(store)
    with pytest.raises(FunctionError) as as_bob:
        await runner.call(path, EXAMPLES[path](world), BOB)
    assert as_bob.value.code is Code.NOT_FOUND
    assert await snapshot(store) == before
    # Exactly what a document that does not exist at all answers: delete what it names.
    args = EXAMPLES[path](world)
    for field, table in _id_fields(path).items():
        if field not in args:
            continue

        async def delete(tx: Transaction, table: str = table, doc_id: str = args[field]) -> None:
            await tx.delete(table, doc_id)

        await store.mutation(delete)
    with pytest.raises(FunctionError) as missing:
        await runner.call(path, args, ALICE)
    assert (missing.value.code, missing.value.message) == (as_bob.value.code, as_bob.value.message)


@pytest.mark.parametrize("path", PATHS)
async def test_malformed_arguments_are_refused_and_nothing_changes(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    good = EXAMPLES[path](world)
    bad_cases: list[Any] = [{**good, "unexpected": 1}, [good], "args"]
    fields = build_registry().get(path).args.fields
    for field, value in good.items():
        if isinstance(present(fields[field]), AnyValue):
            bad_cases.append({**good, field: {"note": "a\x00b"}})  # NUL: refused anywhere
            continue  # any other JSON value is valid there
        wrong = 12345 if isinstance(value, str) else "wrong type"
        bad_cases.append({**good, field: wrong})
        if isinstance(value, str):
            bad_cases.append({**good, field: "x" * 40_000})
            bad_cases.append({**good, field: value + "\x00"})  # PostgreSQL text cannot hold it
    bad_cases.append({**good, "deep": _deep(40)})
    before = await snapshot(store)
    for args in bad_cases:
        with pytest.raises(FunctionError) as caught:
            await runner.call(path, args, ALICE)
        assert caught.value.code is Code.INVALID_ARGUMENT, (path, str(args)[:80])
    assert await snapshot(store) == before


def _id_of(validator: Validator) -> Id | None:
    validator = present(validator)
    return validator if isinstance(validator, Id) else None


def _id_fields(path: str) -> dict[str, str]:
    """Arguments declared as document ids (from the declaration, not the name): their tables."""
    fields = build_registry().get(path).args.fields
    found = {name: _id_of(validator) for name, validator in fields.items()}
    return {name: rule.table for name, rule in found.items() if rule is not None}


ID_PATHS = [p for p in PATHS if _id_fields(p)]


@pytest.mark.parametrize("path", ID_PATHS)
async def test_ids_of_another_table_are_refused(
    store: Store, runner: Runner, world: World, path: str
) -> None:
    good = EXAMPLES[path](world)
    before = await snapshot(store)
    for field, table in _id_fields(path).items():
        other = world.message if table != "messages" else world.conversation
        with pytest.raises(FunctionError) as caught:
            await runner.call(path, {**good, field: other}, ALICE)
        assert caught.value.code is Code.INVALID_ARGUMENT
    assert await snapshot(store) == before


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value
