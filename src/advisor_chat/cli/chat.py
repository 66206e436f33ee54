"""`advisor-chat chat`: a terminal chat with your advisory board, for people who live in a
shell. A client of a running server's HTTP API (`remote.Remote`): it never opens the
database, so it works against any server, local or not.

The prompt reads with plain `input()` on the main thread (readline adds history and
Tab-completion of @names and /commands when stdin is a terminal), so Ctrl-C and Ctrl-D at
the prompt are the usual KeyboardInterrupt and EOFError, and both exit. Network work runs
on one event loop kept for the whole session (`asyncio.Runner`), so the connection pool
and the access token outlive a turn. While a round streams, Ctrl-C is the loop's
(`follow.Interrupt`): it stops the round on the server and comes back to the prompt.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar, assert_never

import click
import typer
from rich.console import Console
from rich.text import Text

from advisor_chat.cli.board import BoardPicker, conversation_label
from advisor_chat.cli.follow import (
    Delta,
    Ended,
    Event,
    GaveUp,
    Interrupt,
    Posted,
    Round,
    Started,
    Tail,
    follow,
)
from advisor_chat.cli.mentions import expected_answers
from advisor_chat.cli.remote import Remote, RemoteError, SignedOut, Unreachable
from advisor_chat.cli.roster import Roster
from advisor_chat.cli.sessions import SessionFile
from advisor_chat.cli.transcript import Transcript

DEFAULT_SERVER = "http://127.0.0.1:8000"
HISTORY = 20  # messages shown when a conversation opens
PROMPT = "you> "
COMMANDS = {
    "/help": "this list",
    "/new": "start a new conversation (choosing its advisors)",
    "/list": "switch to another conversation",
    "/board": "show this conversation's advisors",
    "/regenerate": "ask the last answer's advisor again (the old answer stays a version)",
    "/quit": "leave (so do Ctrl-D, and Ctrl-C at the prompt)",
}
HELP = (
    "Type a message and press Enter. Mention advisors to ask them: @Anika, @Anika Lindqvist, "
    "or @board / @all for everyone on the conversation's board; with no mention the "
    "conversation's active advisor answers. Ctrl-C while an answer streams stops it."
)

T = TypeVar("T")


class Problem(Exception):
    """Ends the command with a message in plain words and an exit code (2: how it was
    called, 1: what happened)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Chat:
    """One terminal session: who is signed in, the open conversation, and its prompt loop."""

    def __init__(self, runner: asyncio.Runner, remote: Remote, console: Console) -> None:
        self.runner = runner
        self.remote = remote
        self.roster = Roster()
        self.out = Transcript(console, self.roster)
        self.board = BoardPicker(self.remote, self.roster, self.out, self.ask, self.run)
        self.conversation: dict[str, Any] = {}
        self.tail = Tail(remote, "")
        self.last_answer: dict[str, Any] | None = None
        self.interactive = sys.stdin.isatty()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(work)

    def ask(self, prompt: str) -> str:
        """One line from the user (EOFError at the end of input, KeyboardInterrupt on
        Ctrl-C: callers treat both as "leave")."""
        return input(prompt)

    # --- signing in ------------------------------------------------------------------------

    def sign_in(
        self, email: str | None, sign_up: bool, name: str | None, password_stdin: bool
    ) -> None:
        """Resume the kept sign-in for this server when it is the one asked for, else ask
        for a password (hidden) and sign in or up. Then `users:store` creates the user row."""
        self.run(self.remote.check())
        stored = self.remote.sessions.get(self.remote.server)
        same = stored is not None and (email is None or email.strip().lower() == stored.email)
        resumed = False
        if stored is not None and same and not sign_up:
            try:
                self.run(self.remote.resume(stored))
                resumed = True
            except SignedOut as exc:
                self.out.info(exc.message)
        if not resumed:
            email = email or self._ask_email(sign_up)
            password = self._password(password_stdin, confirm=sign_up)
            try:
                if sign_up:
                    self.run(self.remote.sign_up(email, password, name))
                else:
                    self.run(self.remote.sign_in(email, password))
            except RemoteError as exc:
                if isinstance(exc, Unreachable):
                    raise
                raise Problem(
                    f"{'Sign-up' if sign_up else 'Sign-in'} failed: {exc.message}"
                ) from exc
        self.run(self.remote.mutation("users:store", {}))
        self.out.info(f"Signed in to {self.remote.server} as {self.remote.email}.")

    def _ask_email(self, sign_up: bool) -> str:
        if not self.interactive:
            how = "--sign-up --email" if sign_up else "--email (or --sign-up)"
            raise Problem(f"not signed in to {self.remote.server}: pass {how}", 2)
        return self.ask("Email: ").strip()

    def _password(self, from_stdin: bool, confirm: bool) -> str:
        if from_stdin:
            line = sys.stdin.readline()
            if not line.strip():
                raise Problem("--password-stdin: no password on stdin", 2)
            return line.rstrip("\r\n")
        if not self.interactive:
            raise Problem("no terminal to ask for a password on: pass --password-stdin", 2)
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
        return password

    # --- conversations ---------------------------------------------------------------------

    def open(self, conversation_id: str) -> None:
        """Show the conversation's last messages, then follow any answer still streaming."""
        try:
            conversation = self.run(
                self.remote.query(
                    "conversations:getConversationById", {"conversationId": conversation_id}
                )
            )
        except RemoteError as exc:
            if exc.code not in ("NOT_FOUND", "INVALID_ARGUMENT"):
                raise
            raise Problem(
                f"{self.remote.email} has no conversation {conversation_id} on "
                f"{self.remote.server}: run without --conversation to pick one"
            ) from exc
        self.conversation = conversation
        self.tail = Tail(self.remote, conversation_id)
        history = self.run(self.tail.read(keep=HISTORY))
        self.run(self.board.know(conversation.get("advisorIds", [])))
        self.run(self.board.know(m.get("advisorId") for m in history))
        names = ", ".join(a.name for a in self.board.of(conversation)) or "no advisors yet"
        self.out.console.print(
            Text.assemble(
                ("\n" + conversation_label(conversation, self.roster), "bold"),
                (f"  [{conversation_id}]", "dim"),
            ),
            highlight=False,
            soft_wrap=True,
        )
        self.out.info(f"Board: {names}. /help for commands.\n")
        streaming = [m for m in history if m.get("status") == "streaming"]
        for message in history:
            if message not in streaming:
                self.out.message(message)
            if message.get("sender") == "advisor":
                self.last_answer = message
        if streaming:
            self._follow(Round(stop_id=streaming[0]["_id"], watch=streaming))

    def start(self, conversation_id: str | None, new: bool) -> None:
        if conversation_id:
            self.open(conversation_id)
        elif new:
            self.open(self.board.new_conversation())
        else:
            self.open(self.board.pick_conversation())

    # --- the prompt loop -------------------------------------------------------------------

    def loop(self) -> None:
        """Until /quit, Ctrl-D or Ctrl-C at the prompt."""
        self._completion()
        while True:
            try:
                line = self.ask(PROMPT).strip()
            except (EOFError, KeyboardInterrupt):
                self.out.console.print()
                return
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if not self.command(line):
                        return
                else:
                    self.send(line)
            except (EOFError, KeyboardInterrupt):
                self.out.info("(interrupted)")
            except SignedOut:
                raise  # every later call would fail the same way: end with the message
            except Problem as exc:
                self.out.problem(exc.message)
            except RemoteError as exc:
                self.out.problem(exc.message)  # the server may be back by the next try

    def command(self, line: str) -> bool:
        """Run a slash command; False to leave."""
        word = line.split()[0].lower()
        if word in ("/quit", "/exit", "/q"):
            return False
        if word == "/help":
            self.out.info(HELP)
            for name, what in COMMANDS.items():
                self.out.info(f"  {name:<12} {what}")
        elif word == "/new":
            self.open(self.board.new_conversation())
        elif word == "/list":
            self.open(self.board.pick_conversation())
        elif word == "/board":
            self.refresh()
            self.board.show(self.conversation)
        elif word == "/regenerate":
            self.regenerate()
        else:
            self.out.problem(f"unknown command {word}: /help lists them")
        return True

    def send(self, text: str) -> None:
        """Send, then follow the round it started. A refused message (an unknown mention,
        too many a minute) is said, and nothing was stored."""
        conversation_id = self.conversation["_id"]
        try:
            message_id = self.run(
                self.remote.mutation(
                    "messages:sendMessage", {"conversationId": conversation_id, "content": text}
                )
            )
        except RemoteError as exc:
            if exc.code in ("INVALID_ARGUMENT", "RATE_LIMITED", "STORAGE_LIMITED"):
                self.out.problem(f"Not sent: {exc.message}")
                return
            raise
        self.refresh()  # a mention may have seated an advisor from the user's board
        expected = expected_answers(text, self.conversation, self.roster)
        if expected == 0:
            self.out.info("Nobody is on this conversation's board to answer: @mention an advisor")
            self.out.info("from your board, or /new starts a conversation with some.")
        self._follow(Round(stop_id=message_id, expected=expected, skip={message_id}))

    def refresh(self) -> None:
        """Re-read the conversation (its board and active advisor change as it goes)."""
        self.conversation = self.run(
            self.remote.query(
                "conversations:getConversationById", {"conversationId": self.conversation["_id"]}
            )
        )
        self.run(self.board.know(self.conversation.get("advisorIds", [])))

    def regenerate(self) -> None:
        """The last answer written again in place (the server keeps the old text as a
        version); followed like a round of one."""
        answer = self.last_answer
        if answer is None:
            self.out.problem("no answer to regenerate yet")
            return
        self.run(self.remote.mutation("messages:regenerate", {"messageId": answer["_id"]}))
        again = answer | {"status": "streaming", "content": "", "notice": None}
        self._follow(Round(stop_id=answer["_id"], expected=1, watch=[again]))

    def _follow(self, round_: Round) -> None:
        self.run(self._follow_async(round_))

    async def _follow_async(self, round_: Round) -> None:
        """Show the round's events; Ctrl-C meanwhile stops the round instead of the
        program (where the loop cannot take signals, Ctrl-C leaves to the prompt)."""
        loop = asyncio.get_running_loop()
        interrupt = Interrupt()
        try:
            loop.add_signal_handler(signal.SIGINT, interrupt.press)
            taken = True
        except (NotImplementedError, RuntimeError):  # Windows: Runner's own handling stays
            taken = False
        answered = False
        try:
            async for event in follow(self.remote, self.tail, round_, interrupt):
                answered = answered or isinstance(event, Ended)
                await self._show(event)
            if interrupt.presses and not answered:
                self.out.info("[stopped before any answer began]")
        finally:
            self.out.close_line()
            if taken:
                loop.remove_signal_handler(signal.SIGINT)

    async def _show(self, event: Event) -> None:
        match event:
            case Started(message):
                await self.board.know([message.get("advisorId")])
                self.out.start_answer(message)
            case Delta(_, advisor_id, text):
                self.out.stream(text, advisor_id)
            case Ended(message, state):
                self.out.end_answer(state)
                self.last_answer = message | state
            case Posted(message):
                self.out.message(message)
            case GaveUp(reason):
                self.out.info(reason)
            case _:
                assert_never(event)

    def _completion(self) -> None:
        """Tab-completes @names and /commands, where readline is there and stdin a terminal."""
        if not self.interactive:
            return
        try:
            import readline
        except ImportError:  # not on every platform: completion is a convenience
            return

        def complete(text: str, state: int) -> str | None:
            names = self.roster.mention_names(self.conversation.get("advisorIds") or None)
            words = [*names, *COMMANDS] if text.startswith(("@", "/")) else []
            found = [w for w in words if w.lower().startswith(text.lower())]
            return found[state] if state < len(found) else None

        readline.set_completer(complete)
        readline.set_completer_delims(" \t\n")
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")
        else:
            readline.parse_and_bind("tab: complete")


def _session(
    runner: asyncio.Runner, console: Console, server: str, start: Callable[[Chat], None]
) -> int:
    """Run `start` (sign-in, the prompt loop); a failure that ends it becomes one line on
    stderr and an exit code, never a traceback."""
    http = Remote.client()
    chat = Chat(runner, Remote(server, SessionFile.default(), http), console)
    errors = Console(stderr=True, highlight=False)
    try:
        start(chat)
        return 0
    except Problem as exc:
        errors.print(Text(exc.message, style="red"), soft_wrap=True)
        return exc.code
    except RemoteError as exc:
        errors.print(Text(exc.message, style="red"), soft_wrap=True)
        return 1
    except (EOFError, KeyboardInterrupt, click.exceptions.Abort):
        console.print()
        return 0
    except Exception as exc:  # a bug or an answer of a shape we do not know: said, not dumped
        errors.print(
            Text(f"advisor-chat chat stopped on an unexpected {type(exc).__name__}: {exc}"),
            style="red",
            soft_wrap=True,
        )
        return 1
    finally:
        runner.run(http.aclose())


def chat(
    server: Annotated[
        str,
        typer.Option(envvar="ADVISOR_CHAT_SERVER", help="The server's URL."),
    ] = DEFAULT_SERVER,
    email: Annotated[
        str | None, typer.Option(help="Sign in as this account (the password is asked for).")
    ] = None,
    sign_up: Annotated[
        bool, typer.Option("--sign-up", help="Create a local account (with --email).")
    ] = False,
    name: Annotated[str | None, typer.Option(help="Your display name, with --sign-up.")] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the password from stdin's first line."),
    ] = False,
    sign_out: Annotated[
        bool, typer.Option("--sign-out", help="Sign out of the server and forget the sign-in.")
    ] = False,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Open this conversation (its id).")
    ] = None,
    new: Annotated[bool, typer.Option("--new", help="Start a new conversation.")] = False,
) -> None:
    """Chat with your advisory board in the terminal, through a running server.

    The sign-in is kept (per server) in your config directory, so the next run asks for no
    password; --sign-out forgets it. In the chat, /help lists the commands."""
    console = Console(highlight=False)

    def start(session: Chat) -> None:
        if sign_out:
            _sign_out(session)
            return
        session.sign_in(email, sign_up, name, password_stdin)
        session.start(conversation, new)
        session.loop()

    with asyncio.Runner() as runner:
        code = _session(runner, console, server, start)
    raise typer.Exit(code)


def _sign_out(session: Chat) -> None:
    stored = session.remote.sessions.get(session.remote.server)
    if stored is None:
        session.out.info(f"Not signed in to {session.remote.server}.")
        return
    try:
        session.run(session.remote.sign_out(stored))
    except RemoteError as exc:
        session.out.info(f"Forgot the sign-in here; the server was not told: {exc.message}")
        return
    session.out.info(f"Signed out of {session.remote.server}.")
