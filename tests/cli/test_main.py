"""`advisor-chat init` and `serve`, run as a user would: as processes."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CLI = [sys.executable, "-m", "advisor_chat.cli"]


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_CHAT_")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["ADVISOR_CHAT_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        CLI + args, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_init_creates_then_reports_up_to_date(tmp_path: Path) -> None:
    env = _env(tmp_path / "state")
    first = _run(["init"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "change(s) applied" in first.stdout
    db = sqlite3.connect(tmp_path / "state" / "advisor-chat.sqlite3")
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert {"users", "messages", "advisors__by_tags", "_meta"} <= tables
    second = _run(["init"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    assert "up to date" in second.stdout


def test_init_reads_the_data_dir_from_a_dotenv_file(tmp_path: Path) -> None:
    env = _env(tmp_path / "unused")
    del env["ADVISOR_CHAT_DATA_DIR"]
    (tmp_path / ".env").write_text(f"ADVISOR_CHAT_DATA_DIR={tmp_path / 'from-dotenv'}\n")
    result = _run(["init"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-dotenv" / "advisor-chat.sqlite3").exists()


def test_init_reports_an_unreachable_database_clearly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = _env(tmp_path, DATABASE_URL=f"postgresql://nobody@127.0.0.1:{port}/none")
    result = _run(["init"], env, tmp_path)
    assert result.returncode == 1
    assert "init failed" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port)],
        env=_env(tmp_path / "state"),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, "serve exited"
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.05)  # polling a process we started; the deadline bounds it
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_answers_health_ready_and_index(served: str) -> None:
    health = httpx.get(f"{served}/health").json()
    assert health["status"] == "ok"
    ready = httpx.get(f"{served}/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "sqlite"}
    page = httpx.get(f"{served}/")
    assert page.status_code == 200
    assert "AI Advisor Chat" in page.text
