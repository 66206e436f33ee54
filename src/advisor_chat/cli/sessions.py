"""Sign-ins kept between runs of `advisor-chat chat`: one refresh token per server, in
`session.json` under the user's config directory, so the next run asks for no password.

The file holds refresh tokens, which are credentials: it is written 0600 in a 0700
directory, replaced atomically (a crash mid-write never leaves half a file), and a file
that cannot be read counts as no sign-in rather than an error. A refresh spends the old
token, so every rotation is written back at once (see `remote.Remote`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import typer

APP_NAME = "advisor-chat"
FILE_NAME = "session.json"


@dataclass(frozen=True)
class StoredSignIn:
    """What resuming needs: the refresh token, and whose it is (to show and to match
    `--email`)."""

    refresh_token: str
    email: str
    user_id: str


def server_key(server: str) -> str:
    """One key per server however its URL is typed (`…:8000` and `…:8000/` are one)."""
    return server.strip().rstrip("/")


class SessionFile:
    """The stored sign-ins, keyed by server URL."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def default(cls) -> SessionFile:
        """`~/.config/advisor-chat/session.json` on Linux (XDG_CONFIG_HOME honoured), the
        platform's usual place elsewhere."""
        return cls(Path(typer.get_app_dir(APP_NAME)) / FILE_NAME)

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, server: str) -> StoredSignIn | None:
        entry = self._read().get(server_key(server))
        if not isinstance(entry, dict):
            return None
        try:
            return StoredSignIn(
                str(entry["refresh_token"]), str(entry["email"]), str(entry["user_id"])
            )
        except KeyError:
            return None

    def put(self, server: str, sign_in: StoredSignIn) -> None:
        data = self._read()
        data[server_key(server)] = asdict(sign_in)
        self._write(data)

    def forget(self, server: str) -> bool:
        """Drop the server's sign-in; answers whether there was one."""
        data = self._read()
        if data.pop(server_key(server), None) is None:
            return False
        self._write(data)
        return True

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".session-", dir=self.path.parent)  # made 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
