"""_system: internal work the server schedules for itself, never callable by a client."""

from __future__ import annotations

from advisor_chat.functions.context import MutationCtx
from advisor_chat.functions.registry import Args, mutation
from advisor_chat.schema import limits
from advisor_chat.schema.fields import v
from advisor_chat.store.cascade import CASCADE_FUNCTION


@mutation(
    CASCADE_FUNCTION,
    {
        "table": v.string(max_length=limits.LABEL),
        "field": v.string(max_length=limits.LABEL),
        "parent": v.string(max_length=limits.ID),
    },
    internal=True,
    retried=True,  # given up, its rows would stay behind for good
)
async def cascade(ctx: MutationCtx, args: Args) -> int:
    """One batch of what a large delete takes with it (see store/cascade.py); the store
    schedules the next batch while rows remain."""
    return await ctx.db.cascade_batch(args["table"], args["field"], args["parent"])


FUNCTIONS = (cascade,)
