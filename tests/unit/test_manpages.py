"""The man pages match the parsers (they are generated from them) and render without warnings."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tools import manpages


def test_committed_pages_match_the_parsers() -> None:
    assert manpages.main(["--check"]) == 0, "run: python -m tools.manpages"


@pytest.mark.parametrize("name", ["glustereventsd", "gluster-eventsapi"])
def test_pages_render_cleanly_and_list_every_visible_command(name: str) -> None:
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    page = manpages.MAN_DIR / f"{name}.8"
    checked = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", str(page)], capture_output=True, text=True,
                             timeout=60)
    assert checked.returncode == 0 and checked.stderr == ""
    shown = subprocess.run(["groff", "-man", "-Tutf8", "-P", "-cbou", str(page)], capture_output=True, text=True,
                           timeout=60).stdout
    parser = next(p for p in manpages.pages() if p.name == name).build_parser()
    for command, _, _ in manpages._subcommands(parser):  # noqa: SLF001
        assert command in shown
    for action in manpages._actions(parser):  # noqa: SLF001
        for option in action.option_strings:
            assert option in shown.replace("\u2010", "-")
