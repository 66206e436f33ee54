"""The server secret that signs our own tokens.

Set `ADVISOR_CHAT_SECRET_KEY` when several server processes must accept each other's
tokens; otherwise one is generated on first start and kept in the data directory (0600),
so tokens survive restarts.
"""

from __future__ import annotations

import os
import secrets

from advisor_chat.settings import Settings

SECRET_FILE = "secret.key"


def load_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        return path.read_bytes().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    return secret
