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


def test_install_never_overwrites_the_distributions_eventsconfig() -> None:
    """Issue 11: copying ours over a Gluster 10 node's file moved its port from 55555 to 24009."""
    writes = [line for line in README.splitlines() if "/etc/glusterfs" in line and line.lstrip().startswith(
        ("install ", "cp ", "[ "))]
    assert writes, "the README's install section should say how the shipped defaults get there"
    for line in writes:
        if line.lstrip().startswith("install -d"):
            continue
        assert line.lstrip().startswith("[ -e /etc/glusterfs/eventsconfig.json ] ||"), line
    gluster_node = README[README.index("### Debian, on a Gluster node"):README.index("### Debian, on a machine without")]
    assert "etc/eventsconfig.json" not in gluster_node  # the package keeps glusterfs-server's file
    assert "keeps the distribution's `/etc/glusterfs/eventsconfig.json`" in gluster_node
    venv = README[README.index("### RPM systems"):README.index("### All of them: the unit")]
    assert "systemctl disable --now glustereventsd" in venv  # Gluster's own daemon holds the events port
