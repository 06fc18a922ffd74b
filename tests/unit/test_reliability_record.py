"""docs/RELIABILITY.md names real tests, and every fault test is in it: the record cannot drift."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RECORD = (REPO / "docs/RELIABILITY.md").read_text(encoding="utf-8")
FAULT_MODULES = ("tests/integration/test_bad_input.py", "tests/integration/test_failures.py",
                 "tests/integration/test_reliability.py", "tests/integration/test_reload.py",
                 "tests/integration/test_hostile.py", "tests/integration/test_networks.py",
                 "tests/integration/test_hostile_files.py", "tests/integration/test_corrupt_spool.py",
                 "tests/integration/test_odd_files.py")
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def functions_in(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_named_test_exists() -> None:
    named = REFERENCE.findall(RECORD)
    assert len(named) >= 40
    for path, name in named:
        assert (REPO / path).exists(), path
        assert name in functions_in(path), f"{path}::{name} is named in docs/RELIABILITY.md but does not exist"


def test_every_fault_test_is_in_the_record() -> None:
    named = set(REFERENCE.findall(RECORD))
    for path in FAULT_MODULES:
        for name in functions_in(path):
            assert (path, name) in named, f"{path}::{name} is not recorded in docs/RELIABILITY.md"
