"""Choosing whom to talk with, in numbered menus: a conversation from the newest ones, a new
conversation's advisors from the user's board, and a first board from the marketplace
(a whole team, or advisors one by one) for a user who has none yet."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from datetime import datetime
from typing import Any, TypeVar

from advisor_chat.cli.remote import Remote, RemoteError
from advisor_chat.cli.roster import Advisor, Roster
from advisor_chat.cli.transcript import Transcript

LISTED = 15  # conversations offered by /list; older ones open with --conversation ID
MARKETPLACE = 100  # advisors listed when building a first board

T = TypeVar("T")
Run = Callable[[Coroutine[Any, Any, T]], T]


def conversation_label(conversation: dict[str, Any], roster: Roster) -> str:
    """Its title, or whom it is with when it has none yet."""
    title = str(conversation.get("title") or "").strip()
    if title:
        return title
    names = [a.name.split()[0] for i in conversation.get("advisorIds", []) if (a := roster.get(i))]
    return f"with {', '.join(names)}" if names else "(untitled)"


def _when(ms: Any) -> str:
    try:
        return datetime.fromtimestamp(float(ms) / 1000).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def _numbers(answer: str, count: int) -> list[int] | None:
    """`1 3` or `1,3` as 0-based indexes; None if any is not one of the `count` offered."""
    picked: list[int] = []
    for word in answer.replace(",", " ").split():
        if not word.isdigit() or not 1 <= int(word) <= count:
            return None
        picked.append(int(word) - 1)
    return list(dict.fromkeys(picked))


class BoardPicker:
    """The menus. `ask` reads a line (EOFError/KeyboardInterrupt leave), `run` runs a call
    on the session's event loop."""

    def __init__(
        self,
        remote: Remote,
        roster: Roster,
        out: Transcript,
        ask: Callable[[str], str],
        run: Run[Any],
    ) -> None:
        self.remote = remote
        self.roster = roster
        self.out = out
        self.ask = ask
        self.run = run

    async def know(self, advisor_ids: Iterable[str | None]) -> None:
        """Learn the names of advisors not yet known (one left the board, say)."""
        for advisor_id in self.roster.missing(advisor_ids):
            try:
                doc = await self.remote.query("advisors:getAdvisorById", {"advisorId": advisor_id})
            except RemoteError as exc:
                if exc.code != "NOT_FOUND":
                    raise
                continue  # deleted or unpublished: its answers show as "an advisor"
            self.roster.add([doc])

    def of(self, conversation: dict[str, Any]) -> list[Advisor]:
        return [a for i in conversation.get("advisorIds", []) if (a := self.roster.get(i))]

    def show(self, conversation: dict[str, Any]) -> None:
        active = conversation.get("activeAdvisorId")
        board = self.of(conversation)
        if not board:
            self.out.info("No advisors on this conversation: /new starts one with some.")
        for advisor in board:
            mark = "  (answers when nobody is mentioned)" if advisor.id == active else ""
            self.out.info(f"  {advisor.label}: {' or '.join(advisor.mentions)}{mark}")

    def _user_board(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = self.run(
            self.remote.query("marketplace:getUserSelectedAdvisors", {})
        )
        self.roster.add(docs)
        return docs

    def pick_conversation(self) -> str:
        """The newest conversations, numbered; a new one when there are none."""
        page = self.run(
            self.remote.query(
                "conversations:getUserConversations",
                {"paginationOpts": {"numItems": LISTED, "cursor": None}},
            )
        )["page"]
        if not page:
            self.out.info("No conversations yet: starting one.")
            return self.new_conversation()
        self._user_board()
        self.run(self.know(i for c in page for i in c.get("advisorIds", [])))
        self.out.info("Your conversations, most recent first:")
        for number, conversation in enumerate(page, 1):
            label = conversation_label(conversation, self.roster)
            self.out.info(f"  {number:>2}. {label}  ({_when(conversation.get('updatedAt'))})")
        while True:
            answer = self.ask(f"Open which? [1-{len(page)}, n = new, Enter = 1] ").strip()
            if answer.lower() in ("n", "new"):
                return self.new_conversation()
            picked = _numbers(answer or "1", len(page))
            if picked and len(picked) == 1:
                return str(page[picked[0]]["_id"])
            self.out.problem("type one of the numbers shown, or n")

    def new_conversation(self) -> str:
        """Choose advisors from the user's board (building one first if it is empty)."""
        board = self._user_board() or self._first_board()
        if not board:
            raise RemoteError("there are no advisors to talk with on this server yet")
        self.out.info("Your board:")
        for number, doc in enumerate(board, 1):
            advisor = self.roster.get(doc["_id"])
            self.out.info(f"  {number:>2}. {advisor.label if advisor else doc['_id']}")
        while True:
            answer = self.ask("Who joins this conversation? [numbers, Enter = all] ").strip()
            picked = _numbers(answer, len(board)) if answer else list(range(len(board)))
            if picked:
                break
            self.out.problem("type numbers from the list, e.g. 1 3")
        ids = [board[i]["_id"] for i in picked]
        conversation_id: str = self.run(
            self.remote.mutation("conversations:createConversation", {"advisorIds": ids})
        )
        return conversation_id

    def _first_board(self) -> list[dict[str, Any]]:
        """Offer the team templates (t1, t2…) and the marketplace's advisors (a1, a2…)."""
        teams: list[dict[str, Any]] = self.run(self.remote.query("teams:getTeamTemplates", {}))
        advisors: list[dict[str, Any]] = self.run(
            self.remote.query(
                "marketplace:getMarketplaceAdvisors",
                {"paginationOpts": {"numItems": MARKETPLACE, "cursor": None}},
            )
        )["page"]
        if not teams and not advisors:
            return []
        self.roster.add(advisors)
        self.out.info("Your board is empty. Pick a team, or advisors one by one:")
        for number, team in enumerate(teams, 1):
            size = len(team.get("advisorIds", []))
            self.out.info(f"  t{number}. {team.get('name')}: {team.get('tagline', '')} ({size})")
        for number, doc in enumerate(advisors, 1):
            advisor = self.roster.get(doc["_id"])
            self.out.info(f"  a{number}. {advisor.label if advisor else doc['_id']}")
        while True:
            words = self.ask("Your pick? [e.g. t1, or a2 a5] ").replace(",", " ").split()
            team_picks = _numbers(" ".join(w[1:] for w in words if w[:1] in "tT"), len(teams))
            advisor_picks = _numbers(" ".join(w[1:] for w in words if w[:1] in "aA"), len(advisors))
            valid = all(w[:1] in "tTaA" for w in words)
            if words and valid and team_picks is not None and advisor_picks is not None:
                break
            self.out.problem("type t and a team's number, or a and advisors' numbers")
        for i in team_picks:
            self.run(self.remote.mutation("marketplace:selectTeam", {"teamId": teams[i]["id"]}))
        for i in advisor_picks:
            self.run(
                self.remote.mutation("marketplace:selectAdvisor", {"advisorId": advisors[i]["_id"]})
            )
        return self._user_board()
