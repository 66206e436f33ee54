"""What a delete takes with it (the schema's `OnDelete` rules), in bounded work.

A delete removes its document at once, and its children in the same transaction while
they fit in `INLINE_ROWS` (counted over the whole transaction, grandchildren included; a
row counts one plus one per rule that follows it, as each is one more look-up).
A rule whose rows do not fit is deferred: the transaction writes a `scheduledFunctions`
row calling `CASCADE_FUNCTION`, and that call (an internal mutation of the function layer,
run by the scheduled worker) works through the rows `BATCH_ROWS` at a time, each batch one
transaction that schedules the next while rows remain. So deleting a conversation of
100,000 messages, or a user with 1,000 conversations, answers at once, no transaction or
event-loop slice runs long, and a restart resumes where the batches stopped (the next
batch's row is written with the one before).

Children left for the batches are already unreachable: every function reaches messages,
memories, summaries and typing rows through their conversation, and a conversation
through its user, so a missing parent hides them from every query at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from advisor_chat.clock import now_ms
from advisor_chat.schema.tables import TABLES

CASCADE_FUNCTION = "_system:cascade"  # declared in functions/system.py
INLINE_ROWS = 256  # children a transaction removes or updates itself, beyond: batches
BATCH_ROWS = 100  # children one deferred batch takes: a few ms of the SQLite write lock


@dataclass(frozen=True)
class Child:
    """Rows of `table` whose `field` points at a deleted `parent` document, found by
    `index`."""

    parent: str
    table: str
    field: str
    index: str
    action: Literal["cascade", "unset", "pull"]

    @property
    def cost(self) -> int:
        """What taking one row costs a transaction's room: the row, and a look-up per rule
        that follows it in turn (a conversation's messages, memories, ...)."""
        return 1 + (len(children_of(self.table)) if self.action == "cascade" else 0)

    @property
    def batch(self) -> int:
        """Rows one deferred batch takes."""
        return max(1, BATCH_ROWS // self.cost)


@cache
def children_of(parent: str) -> tuple[Child, ...]:
    found = []
    for table in TABLES.values():
        for rule in table.on_delete:
            if rule.parent != parent:
                continue
            index = next(i for i in table.indexes if i.fields and i.fields[0] == rule.field)
            found.append(Child(parent, table.name, rule.field, index.name, rule.action))
    return tuple(found)


@cache
def child_rule(table: str, field: str) -> Child | None:
    """The rule by which `table.field` follows its parent, or None."""
    for parent in TABLES:
        for child in children_of(parent):
            if (child.table, child.field) == (table, field):
                return child
    return None


def deferred_call(child: Child, parent_id: str) -> dict[str, Any]:
    """The `scheduledFunctions` row that removes (or updates) `child` rows of `parent_id`
    in batches."""
    return {
        "name": CASCADE_FUNCTION,
        "args": {"table": child.table, "field": child.field, "parent": parent_id},
        "scheduledTime": now_ms(),
        "state": "pending",
        "lane": "short",
    }
