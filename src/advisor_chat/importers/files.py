"""Reading advisor and team files from disk: JSON objects, one per file, found in the
paths given (files, or folders searched recursively for `*.json`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from advisor_chat.errors import SourceInvalid

Kind = Literal["advisor", "team"]
MAX_FILE_BYTES = 4 * 1024 * 1024
_ARTICLE: dict[Kind, str] = {"advisor": "an", "team": "a"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    data: dict[str, Any]


def kind_of(data: dict[str, Any]) -> Kind | None:
    """Which of the two formats a file is in, by the keys only that format has."""
    if "teamId" in data or "advisorRoles" in data or "teamSchemaVersion" in data:
        return "team"
    if "persona" in data or "advisorId" in data or "advisorSchemaVersion" in data:
        return "advisor"
    return None


def find_json(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the `*.json` under the folders named, each once, in order."""
    found: dict[Path, None] = {}
    for path in paths:
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*.json") if p.is_file())
            if not matches:
                raise SourceInvalid(str(path), "folder holds no .json files")
            found.update(dict.fromkeys(matches))
        elif path.is_file():
            found[path] = None
        else:
            raise SourceInvalid(str(path), "no such file or folder")
    return list(found)


def load(path: Path, expected: Kind) -> SourceFile:
    """Parse one file, refusing anything that is not a JSON object of the expected kind."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceInvalid(str(path), exc.strerror or "cannot be read") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise SourceInvalid(str(path), f"larger than {MAX_FILE_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SourceInvalid(str(path), f"not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise SourceInvalid(
            str(path), f"line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}"
        ) from exc
    if type(data) is not dict:
        raise SourceInvalid(str(path), f"expected a JSON object, found {type(data).__name__}")
    kind = kind_of(data)
    if kind != expected:
        found = f"{_ARTICLE[kind]} {kind} file" if kind else "neither an advisor nor a team file"
        raise SourceInvalid(str(path), f"is {found}, not {_ARTICLE[expected]} {expected} file")
    return SourceFile(path, data)


def load_all(paths: Iterable[Path], expected: Kind) -> list[SourceFile]:
    """Every file, or an error naming each one that cannot be read: all or nothing, so a
    bad file never leaves an import half done."""
    files: list[SourceFile] = []
    problems: list[SourceInvalid] = []
    for path in find_json(paths):
        try:
            files.append(load(path, expected))
        except SourceInvalid as exc:
            problems.append(exc)
    if problems:
        if len(problems) == 1:
            raise problems[0]
        raise SourceInvalid(
            f"{len(problems)} files", "cannot be imported:\n" + "\n".join(map(str, problems))
        )
    return files
