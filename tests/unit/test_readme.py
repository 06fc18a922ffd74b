"""The README documents every config key as the option table defines it, and starts with the two commands."""

from __future__ import annotations

from pathlib import Path

from tools import config_table

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_config_table_matches_the_option_table() -> None:
    assert config_table.main(["--check"]) == 0, "run: python -m tools.config_table"


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:2500]
    assert "python -m glustereventsd.demo" in head
    assert "bash .ci/run" in head
