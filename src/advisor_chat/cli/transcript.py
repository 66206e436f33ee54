"""How a conversation looks in the terminal: each message attributed (an answer with its
advisor's name and title, in that advisor's colour), answers streamed as their text
arrives, and how an answer ended said in words.

Plain lines scroll past, never a full-screen view, so the chat works in any terminal, and
piped (rich drops the colours when stdout is not a terminal), which the tests rely on.
Text from the server is printed as `Text`, never as markup: an answer holding
"[bold]" shows those characters.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

from advisor_chat.cli.roster import UNKNOWN, Roster

YOU = "You"


class Transcript:
    """Prints messages whole (history) or an answer piece by piece (a round as it runs).
    A provider's notice (the embedded model's "small offline model" note) is shown once
    per session, not under every answer."""

    def __init__(self, console: Console, roster: Roster) -> None:
        self.console = console
        self.roster = roster
        self._notices: set[str] = set()
        self._open_line = False  # the streamed answer's last line has no newline yet

    def _line(self, text: Text | str = "") -> None:
        self.console.print(text, highlight=False, soft_wrap=True)

    def info(self, text: str) -> None:
        self._line(Text(text, style="dim"))

    def problem(self, text: str) -> None:
        self._line(Text(text, style="red"))

    def message(self, message: dict[str, Any]) -> None:
        """A whole message, as history shows it."""
        sender = message.get("sender")
        content = str(message.get("content") or "")
        if sender == "user":
            self._line(Text.assemble((f"{YOU}: ", "bold"), content))
            self._line()
        elif sender == "system":
            self._line(Text(content, style="yellow"))
            self._line()
        else:
            self.start_answer(message)
            self.stream(content, message.get("advisorId"))
            self.end_answer(message)

    def start_answer(self, message: dict[str, Any]) -> None:
        advisor = self.roster.get(message.get("advisorId"))
        header = Text(advisor.label if advisor else UNKNOWN.capitalize(), style="bold")
        if advisor:
            header.stylize(advisor.colour)
        header.append(":")
        self._line(header)
        self.notice(message.get("notice"))

    def notice(self, notice: Any) -> None:
        """A provider's note, the first time it is seen this session."""
        if isinstance(notice, str) and notice and notice not in self._notices:
            self._notices.add(notice)
            self._line(Text(f"note: {notice}", style="dim italic"))

    def stream(self, text: str, advisor_id: str | None = None) -> None:
        if not text:
            return
        advisor = self.roster.get(advisor_id)
        self.console.print(
            Text(text, style=advisor.colour if advisor else ""),
            end="",
            highlight=False,
            soft_wrap=True,
        )
        self._open_line = not text.endswith("\n")

    def close_line(self) -> None:
        """End a streamed line left open (a round cut short by an error, say)."""
        if self._open_line:
            self._line()
            self._open_line = False

    def end_answer(self, ended: dict[str, Any]) -> None:
        """Close the answer: a newline, then how it ended if not complete (`ended` is the
        message or a `getStreamingText` answer: both carry status, error and notice)."""
        self.close_line()
        status = ended.get("status") or "complete"
        if status == "stopped":
            self._line(Text("[stopped]", style="dim"))
        elif status == "error":
            reason = ended.get("error") or "the answer failed"
            self._line(Text(f"[error] {reason}", style="red"))
        elif status == "streaming":
            self._line(Text("[still answering…]", style="dim"))
        self.notice(ended.get("notice"))
        self._line()
