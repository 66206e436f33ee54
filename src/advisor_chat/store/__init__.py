"""Transactions over SQLite or PostgreSQL, index range reads, read and write sets."""

from advisor_chat.store.commits import Commit, CommitLog, Write
from advisor_chat.store.query import Page
from advisor_chat.store.reads import ReadSet
from advisor_chat.store.store import Outcome, Store
from advisor_chat.store.transaction import UNSET, Document, Transaction

__all__ = [
    "UNSET",
    "Commit",
    "CommitLog",
    "Document",
    "Outcome",
    "Page",
    "ReadSet",
    "Store",
    "Transaction",
    "Write",
]
