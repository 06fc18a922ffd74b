"""Bash completion: generated from the parser, and it completes in a real bash."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tools import completion


def test_committed_script_matches_the_parser() -> None:
    assert completion.main(["--check"]) == 0, "run: python -m tools.completion"


def complete(*words: str) -> list[str]:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    line = " ".join(f"'{w}'" for w in words)
    script = (f"source '{completion.SCRIPT}'; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
              "_gluster_eventsapi; printf '%s\\n' \"${COMPREPLY[@]}\"")
    result = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.split("\n") if w]


def test_completes_subcommands() -> None:
    assert {"webhook-add", "webhook-del", "webhook-mod", "webhook-test"} <= set(complete("gluster-eventsapi", "webhook-"))
    assert "node-status" not in complete("gluster-eventsapi", "")  # hidden per-node commands stay hidden


def test_completes_flags_and_config_names() -> None:
    assert {"--bearer_token", "-t", "--secret", "-s"} <= set(complete("gluster-eventsapi", "webhook-add", "-"))
    assert complete("gluster-eventsapi", "config-set", "log") == ["log-level"]
    assert "all" in complete("gluster-eventsapi", "config-reset", "")
    assert complete("gluster-eventsapi", "config-get", "--name", "por") == ["port"]
