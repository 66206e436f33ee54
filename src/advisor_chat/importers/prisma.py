"""`advisor-chat import prisma DATABASE_URL`: everything in the original app's database.

Tables go in dependency order (users, advisors, conversations, messages, summaries,
memories), each in pages, each page one transaction. Every row is keyed by its Prisma id
(`legacyId`; memories by their unique key), so a re-run updates in place and an import
that died half-way is finished by running it again, with the same result as one clean
run. What changed here since wins over an older source (see `_upsert_legacy`). A row
that cannot be imported (bad value, parent missing) is reported and skipped whole.
`--dry-run` is the same import in one transaction, rolled back (on SQLite it holds the
write lock meanwhile: dry-run against an idle server or a copy).

Mapping (seed 002): the Prisma user id is the Clerk id, as the original app used it;
DateTime becomes Unix ms; JSON columns are parsed; ids in relations (userId,
conversationId, advisorId, mentions, summary message range) are re-pointed to ours; the
original plans free/base/premium become free/pro/enterprise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from advisor_chat.auth.identities import by_subject, is_local, tombstone_of
from advisor_chat.errors import DocumentInvalid
from advisor_chat.importers.formats import FormatProblem, advisor_from_file
from advisor_chat.importers.prisma_source import POSITION, BadText, PrismaSource, open_source
from advisor_chat.importers.report import NoProgress, Outcome, Progress, Report
from advisor_chat.importers.values import parse_json_text, to_ms
from advisor_chat.importers.writing import Policy, transaction, upsert
from advisor_chat.store import Store, Transaction

PAGE = 500
PLANS = {
    "free": "free",
    "base": "pro",
    "premium": "enterprise",
    "pro": "pro",
    "enterprise": "enterprise",
}
SENDERS = ("user", "advisor", "system")

Row = dict[str, Any]


class RowProblem(ValueError):
    """Why one row cannot be imported; the row is skipped whole."""


@dataclass
class IdMap:
    """Prisma id → our id for one table. Ids learnt inside a transaction stay pending
    until it commits, so a retried or rolled-back page never leaves stale ids behind."""

    table: str
    known: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)

    async def find(self, tx: Transaction, legacy: object) -> str | None:
        if type(legacy) is not str:
            return None
        found = self.pending.get(legacy) or self.known.get(legacy)
        if found is None:
            doc = await tx.query(self.table, "by_legacy_id").eq("legacyId", legacy).first()
            if doc is None:
                return None
            found = self.pending[legacy] = doc["_id"]
        return found

    def add(self, legacy: str, doc_id: str) -> None:
        self.pending[legacy] = doc_id

    def commit(self) -> None:
        self.known.update(self.pending)
        self.pending.clear()


def _ms(row: Row, column: str) -> float:
    value = to_ms(row[column])
    if value is None:
        raise RowProblem(f"{column}: {row[column]!r} is not a date")
    return value


def _text(row: Row, column: str, *, required: bool = False) -> str | None:
    value = row[column]
    if isinstance(value, bytes):  # BadText, or a BLOB where SQLite let one in
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise RowProblem(f"{column}: not UTF-8 text") from None
    if value is None and required:
        raise RowProblem(f"{column}: missing")
    if value is not None and type(value) is not str:
        raise RowProblem(f"{column}: expected text, found {type(value).__name__}")
    return value


def _id(row: Row) -> str:
    legacy = _text(row, "id", required=True)
    assert legacy is not None
    return legacy


def _json(row: Row, column: str) -> Any:
    value = row[column]
    if isinstance(value, BadText):
        raise RowProblem(f"{column}: not UTF-8 text")
    try:
        return parse_json_text(value)
    except ValueError as exc:
        raise RowProblem(f"{column}: malformed JSON ({exc})") from exc


def _list(row: Row, column: str) -> list[Any]:
    """A String[] column: a list on PostgreSQL, JSON text where SQLite stood in."""
    value = _json(row, column) if not isinstance(row[column], list) else row[column]
    if value is None:
        return []
    if type(value) is not list:
        raise RowProblem(f"{column}: expected a list")
    return value


class PrismaImport:
    """One run of the import from `source` into `store`."""

    def __init__(
        self, store: Store, source: PrismaSource, *, dry_run: bool, progress: Progress
    ) -> None:
        self.store = store
        self.source = source
        self.dry_run = dry_run
        self.progress = progress
        self.report = Report(dry_run=dry_run)
        self.users = IdMap("users")
        self.advisors = IdMap("advisors")
        self.conversations = IdMap("conversations")
        self.messages = IdMap("messages")
        self.id_maps = (self.users, self.advisors, self.conversations, self.messages)
        self.boards: dict[str, list[str]] = {}
        self.notes: Counter[str] = Counter()
        self._page_notes: Counter[str] = Counter()  # this page's, kept once it commits
        self._tx: Transaction | None = None

    async def run(self) -> Report:
        await self.source.check()
        self.boards = await self.source.boards()
        if self.dry_run:
            await transaction(self.store, self._all, dry_run=True)
        else:
            await self._all(None)
        self.report.notes.extend(f"{n} row(s): {note}" for note, n in sorted(self.notes.items()))
        return self.report

    async def _all(self, tx: Transaction | None) -> None:
        self._tx = tx
        steps: list[tuple[str, str, Callable[[Transaction, Row], Awaitable[Outcome]]]] = [
            ("User", "users", self._user),
            ("Advisor", "advisors", self._advisor),
            ("Conversation", "conversations", self._conversation),
            ("Message", "messages", self._message),
            ("ThreadSummary", "threadSummaries", self._summary),
            ("AdvisorMemory", "advisorMemories", self._memory),
        ]
        for prisma_table, table, convert in steps:
            await self._table(prisma_table, table, convert)

    async def _table(
        self,
        prisma_table: str,
        table: str,
        convert: Callable[[Transaction, Row], Awaitable[Outcome]],
    ) -> None:
        label = f"{prisma_table} → {table}"
        self.progress.start(label, await self.source.count(prisma_table))
        after: Any = None
        while rows := await self.source.page(prisma_table, after, PAGE):
            after = rows[-1][POSITION]

            async def write(tx: Transaction, rows: list[Row] = rows) -> Report:
                for ids in self.id_maps:
                    ids.pending.clear()
                self._page_notes.clear()  # a retried page counts afresh
                done = Report()
                for row in rows:
                    source = f"{prisma_table} {row['id']}"
                    try:
                        outcome = await convert(tx, row)
                    except (RowProblem, FormatProblem, DocumentInvalid) as exc:
                        done.record(table, Outcome.SKIPPED, source, str(exc), named=True)
                        continue
                    except (TypeError, ValueError, OverflowError) as exc:
                        # A value of a shape no rule above foresaw: this row only.
                        reason = f"unreadable value ({type(exc).__name__}: {exc})"
                        done.record(table, Outcome.SKIPPED, source, reason, named=True)
                        continue
                    done.record(table, outcome, source, named=False)
                return done

            if self._tx is not None:
                page_report = await write(self._tx)
            else:
                page_report = await transaction(self.store, write, dry_run=False)
            for ids in self.id_maps:
                ids.commit()
            self.notes.update(self._page_notes)
            self.report.merge(page_report)
            self.progress.advance(label, len(rows))

    # --- one row each ----------------------------------------------------------------

    async def _user(self, tx: Transaction, row: Row) -> Outcome:
        legacy = _id(row)
        plan = _text(row, "plan") or "free"
        if plan not in PLANS:
            self._page_notes[f"users: plan {plan!r} is not known, imported as free"] += 1
        fields: dict[str, Any] = {
            "clerkId": legacy,
            "legacyId": legacy,
            "plan": PLANS.get(plan, "free"),
            "createdAt": _ms(row, "createdAt"),
            "updatedAt": _ms(row, "updatedAt"),
        }
        for column in ("email", "name", "image"):
            value = _text(row, column)
            if value is not None:
                fields[column] = value
        # Keyed by Clerk id (the Prisma id): someone who signed in before the import
        # already has a row under it, which the import adopts rather than duplicates,
        # keeping the issuer their sign-in recorded. The rows it makes record none: they
        # are the configured OIDC issuer's (auth/identities.py), Clerk's as they were.
        held = await by_subject(tx, legacy)
        if held is not None and is_local(held):
            raise RowProblem(f"id: {legacy!r} is a local account's here")
        if held is None and await tombstone_of(tx, legacy) is not None:
            raise RowProblem("the user was deleted here since")
        if held is not None and "tokenIssuer" in held:
            fields["tokenIssuer"] = held["tokenIssuer"]
        outcome, doc_id = await upsert(
            tx,
            "users",
            "by_clerk_id",
            {"clerkId": legacy},
            fields,
            creation_time=fields["createdAt"],
            policy="newer",
        )
        self.users.add(legacy, doc_id)
        return outcome

    async def _advisor(self, tx: Transaction, row: Row) -> Outcome:
        file = {
            "advisorId": _text(row, "id", required=True),
            "advisorSchemaVersion": _text(row, "schemaVersion"),
            "status": _text(row, "status") or "active",
            "persona": _json(row, "persona"),
            "tags": _list(row, "tags"),
        }
        for column in ("components", "metadata", "localization"):
            value = _json(row, column)
            if value is not None:
                file[column] = value
        model_hint = _text(row, "modelHint")
        if model_hint is not None:
            file["modelHint"] = model_hint
        parsed = advisor_from_file(file, str(row["id"]))
        created = _ms(row, "createdAt")
        fields = parsed.fields | {
            "isPublic": True,
            "createdAt": created,
            "updatedAt": _ms(row, "updatedAt"),
        }
        outcome, doc_id = await _upsert_legacy(tx, "advisors", parsed.legacy_id, fields, created)
        self.advisors.add(parsed.legacy_id, doc_id)
        return outcome

    async def _conversation(self, tx: Transaction, row: Row) -> Outcome:
        legacy = _id(row)
        user_id = await self.users.find(tx, row["userId"])
        if user_id is None:
            raise RowProblem(f"userId: user {row['userId']!r} was not imported")
        board: list[str] = []
        active = None
        if row["activeAdvisorId"] is not None:
            active = await self.advisors.find(tx, row["activeAdvisorId"])
            if active is None:
                self._page_notes["conversations: active advisor not found, left unset"] += 1
            else:
                board.append(active)
        for advisor in self.boards.get(legacy, []):
            found = await self.advisors.find(tx, advisor)
            if found is not None and found not in board:
                board.append(found)
        created = _ms(row, "createdAt")
        fields: dict[str, Any] = {
            "userId": user_id,
            "legacyId": legacy,
            "createdAt": created,
            "updatedAt": _ms(row, "updatedAt"),
        }
        title = _text(row, "title")
        if title is not None:
            fields["title"] = title
        if active is not None:
            fields["activeAdvisorId"] = active
        if board:
            fields["advisorIds"] = board
        outcome, doc_id = await _upsert_legacy(tx, "conversations", legacy, fields, created)
        self.conversations.add(legacy, doc_id)
        return outcome

    async def _message(self, tx: Transaction, row: Row) -> Outcome:
        legacy = _id(row)
        conversation = await self.conversations.find(tx, row["conversationId"])
        if conversation is None:
            raise RowProblem(f"conversationId: {row['conversationId']!r} was not imported")
        sender = _text(row, "sender", required=True)
        if sender not in SENDERS:
            raise RowProblem(f"sender: {sender!r} is not one of {', '.join(SENDERS)}")
        content = _text(row, "content", required=True)
        created = _ms(row, "createdAt")
        mentions: list[str] = []
        for mention in _list(row, "mentions"):
            found = await self.advisors.find(tx, mention)
            if found is None:
                self._page_notes[
                    "messages: a mentioned advisor was not found, mention left out"
                ] += 1
            elif found not in mentions:
                mentions.append(found)
        fields: dict[str, Any] = {
            "conversationId": conversation,
            "sender": sender,
            "content": content,
            "mentions": mentions,
            "createdAt": created,
            "legacyId": legacy,
        }
        if row["advisorId"] is not None:
            advisor = await self.advisors.find(tx, row["advisorId"])
            if advisor is None:
                self._page_notes["messages: advisor not found, advisorId left out"] += 1
            else:
                fields["advisorId"] = advisor
        content_json = _json(row, "contentJson")
        if content_json is not None:
            fields["contentJson"] = content_json
        if row["tokensUsed"] is not None:
            fields["tokensUsed"] = row["tokensUsed"]
        outcome, _ = await _upsert_legacy(tx, "messages", legacy, fields, created)
        return outcome

    async def _summary(self, tx: Transaction, row: Row) -> Outcome:
        legacy = _id(row)
        conversation = await self.conversations.find(tx, row["conversationId"])
        if conversation is None:
            raise RowProblem(f"conversationId: {row['conversationId']!r} was not imported")
        created = _ms(row, "createdAt")
        fields: dict[str, Any] = {
            "conversationId": conversation,
            "content": _text(row, "content", required=True),
            "createdAt": created,
            "legacyId": legacy,
        }
        for column in ("startMessageId", "endMessageId"):
            if row[column] is None:
                continue
            found = await self.messages.find(tx, row[column])
            if found is None:
                self._page_notes[f"threadSummaries: {column} not found, left out"] += 1
            else:
                fields[column] = found
        outcome, _ = await _upsert_legacy(tx, "threadSummaries", legacy, fields, created)
        return outcome

    async def _memory(self, tx: Transaction, row: Row) -> Outcome:
        conversation = await self.conversations.find(tx, row["conversationId"])
        if conversation is None:
            raise RowProblem(f"conversationId: {row['conversationId']!r} was not imported")
        advisor = await self.advisors.find(tx, row["advisorId"])
        if advisor is None:
            raise RowProblem(f"advisorId: advisor {row['advisorId']!r} was not imported")
        key = _text(row, "key", required=True)
        created = _ms(row, "createdAt")
        fields = {
            "conversationId": conversation,
            "advisorId": advisor,
            "key": key,
            "value": _json(row, "value"),
            "createdAt": created,
            "updatedAt": _ms(row, "updatedAt"),
        }
        outcome, _ = await upsert(
            tx,
            "advisorMemories",
            "by_conversation_advisor_key",
            {"conversationId": conversation, "advisorId": advisor, "key": key},
            fields,
            creation_time=created,
            policy="newer",
        )
        return outcome


async def _upsert_legacy(
    tx: Transaction, table: str, legacy: str, fields: dict[str, Any], created: float
) -> tuple[Outcome, str]:
    """Upsert by Prisma id, the original creation time kept as `_creationTime`; every
    timestamp comes from the row (none defaulted). What was changed here since the last
    run wins: documents with `updatedAt` are replaced only by a source as new; messages
    and summaries, which the original never edited, only ever inserted."""
    policy: Policy = "newer" if "updatedAt" in fields else "insert"
    return await upsert(
        tx,
        table,
        "by_legacy_id",
        {"legacyId": legacy},
        fields,
        timestamps=(),
        creation_time=created,
        policy=policy,
    )


async def import_prisma(
    store: Store, url: str, *, dry_run: bool = False, progress: Progress | None = None
) -> Report:
    source = open_source(url)
    await source.open()
    try:
        return await PrismaImport(
            store, source, dry_run=dry_run, progress=progress or NoProgress()
        ).run()
    finally:
        await source.close()
