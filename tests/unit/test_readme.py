"""The README documents every config key with its real default, so it cannot drift from the code."""

from __future__ import annotations

from pathlib import Path

from glustereventsd.config import OPTIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_config_key_is_documented_with_its_default() -> None:
    for option in OPTIONS.values():
        default = option.default
        shown = str(default).lower() if isinstance(default, bool) else ("(empty)" if default in ("", []) else str(default))
        assert f"| `{option.name}` | {shown} |" in README, option.name


def test_readme_starts_with_the_two_commands() -> None:
    head = README[:2500]
    assert "python -m glustereventsd.demo" in head
    assert "bash .ci/run" in head
