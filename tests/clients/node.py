"""The official Convex npm client's scripts (tests/clients/npm), run under Node against a
real server. A missing `node` or npm client skips the test, except under `CI=true`, where
it fails it (`missing_service`); `npm ci --prefix tests/clients/npm` installs the client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.services import missing_service

CLIENT_DIR = Path(__file__).parent / "npm"
PACKAGES = ("convex", "ws")  # tests/clients/npm/package.json's dependencies


def node_command(script: str) -> list[str]:
    """The command line running `script` (a file in tests/clients/npm) under Node."""
    node = shutil.which("node")
    if node is None:
        missing_service("node is not installed (the official npm client runs under it)")
    if not all((CLIENT_DIR / "node_modules" / package).is_dir() for package in PACKAGES):
        missing_service(f"the npm client is not installed: npm ci --prefix {CLIENT_DIR}")
    return [node, str(CLIENT_DIR / script)]


def run_script(
    script: str, base: str, env: Mapping[str, str], *, timeout_s: float
) -> dict[str, Any]:
    """Run `script` against the server at `base` to its end, with `env` added to ours, and
    return the JSON it printed; a failed run fails the test with what the script said."""
    done = subprocess.run(
        node_command(script),
        env=os.environ | dict(env) | {"ADVISOR_CHAT_URL": base},
        cwd=CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, Any] = json.loads(done.stdout)
    return result
