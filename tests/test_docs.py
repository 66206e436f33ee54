"""The README's tables stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from advisor_chat.functions.catalog import build_registry
from advisor_chat.schema.tables import TABLES
from advisor_chat.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def _env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if alias is not None and hasattr(alias, "choices"):
            names.add(str(alias.choices[0]))
        else:
            names.add(f"ADVISOR_CHAT_{name.upper()}")
    return names


def test_configuration_table_lists_every_setting() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == _env_names()


def test_schema_section_names_every_table() -> None:
    section = README.split("## Schema", 1)[1].split("\n## ", 1)[0]
    for table in TABLES:
        assert f"`{table}`" in section, table


def test_readme_has_exactly_two_setup_commands() -> None:
    section = README.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/serve", "scripts/test"]
    root = Path(__file__).parent.parent
    for command in commands:
        assert (root / command).stat().st_mode & 0o111, f"{command} is not executable"
    assert "scripts/test" in (root / ".ci" / "run").read_text()


def test_every_retired_path_is_in_the_readme_with_its_reason() -> None:
    section = README.split("## The original app's API", 1)[1].split("\n## ", 1)[0]
    table = section.split("| path | why it is not served |", 1)[1]
    for gone in build_registry().retired():
        assert f"`{gone.path}`" in table, gone.path
