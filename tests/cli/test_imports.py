"""`advisor-chat import …` and `export …` as a user runs them: processes, exit codes and
what they print."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli.test_main import _env
from tests.importers.prisma_db import bulk, write_sqlite

CLI = [sys.executable, "-m", "advisor_chat.cli"]


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _count(data_dir: Path, table: str) -> int:
    conn = sqlite3.connect(data_dir / "advisor-chat.sqlite3")
    try:
        return int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0])
    finally:
        conn.close()


def test_init_loads_the_marketplace_once(tmp_path: Path) -> None:
    first = _run(["init"], tmp_path / "d")
    assert first.returncode == 0, first.stderr
    assert "Marketplace: 12 advisors, 3 team templates (15 added or updated)" in first.stdout
    again = _run(["init"], tmp_path / "d")
    assert "(0 added or updated)" in again.stdout
    assert _count(tmp_path / "d", "advisors") == 12


def test_import_advisors_reports_each_file_and_exits_1_when_one_was_skipped(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    good = {"advisorId": "ok-1", "persona": {"name": "Ok One", "title": "Coach"}}
    (folder / "ok.json").write_text(json.dumps(good), encoding="utf-8")
    (folder / "bad.json").write_text(json.dumps({"persona": {"name": "X"}}), encoding="utf-8")
    assert _run(["init"], tmp_path / "d").returncode == 0
    shipped = _count(tmp_path / "d", "advisors")
    dry = _run(["import", "advisors", str(folder), "--dry-run"], tmp_path / "d")
    assert dry.returncode == 1
    assert "dry run: nothing was written" in dry.stdout
    assert _count(tmp_path / "d", "advisors") == shipped
    done = _run(["import", "advisors", str(folder)], tmp_path / "d")
    assert done.returncode == 1
    assert "imported" in done.stdout
    assert "ok.json" in done.stdout
    assert "skipped" in done.stdout
    assert "persona.title" in done.stdout
    assert _count(tmp_path / "d", "advisors") == shipped + 1


def test_an_unreadable_file_exits_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"advisorId": "x",', encoding="utf-8")
    result = _run(["import", "advisors", str(bad)], tmp_path / "d")
    assert result.returncode == 2
    assert "broken.json: line 1" in result.stdout
    assert _count(tmp_path / "d", "advisors") == 0


def test_prisma_import_then_convex_export_and_import_elsewhere(tmp_path: Path) -> None:
    source = tmp_path / "dev.db"
    write_sqlite(source, bulk(users=2, conversations_per_user=1, messages_per_conversation=10))
    done = _run(["import", "prisma", f"file:{source}"], tmp_path / "a")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Prisma import" in done.stdout
    assert "messages" in done.stdout
    snapshot = tmp_path / "snap.zip"
    exported = _run(["export", "convex", str(snapshot)], tmp_path / "a")
    assert exported.returncode == 0, exported.stdout
    assert "exported" in exported.stdout
    imported = _run(["import", "convex", str(snapshot)], tmp_path / "b")
    assert imported.returncode == 0, imported.stdout
    assert _count(tmp_path / "b", "messages") == 20
    assert _count(tmp_path / "b", "users") == 2
    refused = _run(["import", "convex", str(source)], tmp_path / "b")
    assert refused.returncode == 2
    assert "not a ZIP file" in refused.stdout


def test_a_dry_run_against_a_database_init_has_not_made_changes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "[draft] a.json").write_text(
        json.dumps({"advisorId": "a", "persona": {"name": "A"}}), encoding="utf-8"
    )
    dry = _run(["import", "advisors", str(folder), "--dry-run"], tmp_path / "new")
    assert dry.returncode == 2
    assert "needs `advisor-chat init` first" in dry.stdout
    assert _run(["init"], tmp_path / "new").returncode == 0
    before = _count(tmp_path / "new", "advisors")
    dry = _run(["import", "advisors", str(folder), "--dry-run"], tmp_path / "new")
    assert dry.returncode == 1  # the file is skipped: no title
    assert "[draft] a.json: advisors" not in dry.stdout  # markup would have eaten "[draft]"
    assert "[draft] a.json" in dry.stdout
    assert "persona.title" in dry.stdout
    assert _count(tmp_path / "new", "advisors") == before
