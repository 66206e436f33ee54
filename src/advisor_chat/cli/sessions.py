"""Sign-ins kept between runs of `advisor-chat chat`: one refresh token per server, in
`session.json` under the user's config directory, so the next run asks for no password.

Beside it, `devices.json` keeps the device token each server gave each email at sign-in.
It outlives sign-out on purpose: presenting it at the next sign-in tells the server this
device signed in before, so a flood of wrong guesses at the account from elsewhere cannot
lock its owner out here (see auth/throttle.py). Alone it grants nothing.

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
DEVICES_FILE_NAME = "devices.json"


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

    @property
    def devices_path(self) -> Path:
        return self.path.with_name(DEVICES_FILE_NAME)

    def _read(self) -> dict[str, dict[str, str]]:
        return _read_json(self.path)

    def device(self, server: str, email: str) -> str | None:
        """The device token `server` gave `email` here, if any."""
        token = _read_json(self.devices_path).get(server_key(server), {}).get(email)
        return token if isinstance(token, str) else None

    def keep_device(self, server: str, email: str, token: str) -> None:
        data = _read_json(self.devices_path)
        entry = data.get(server_key(server))
        data[server_key(server)] = (entry if isinstance(entry, dict) else {}) | {email: token}
        _write_json(self.devices_path, data)

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
        _write_json(self.path, data)


def _read_json(path: Path) -> dict[str, dict[str, str]]:
    """A file that cannot be read counts as empty."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_json(path: Path, data: dict[str, dict[str, str]]) -> None:
    """Replace `path` atomically, 0600 in a 0700 directory."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.stem}-", dir=path.parent)  # made 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
