"""The README's install commands, as the tests run them: the ``sh`` blocks of one section.

The system tier runs these blocks, word for word, in the containers: the README cannot say
one thing while the tests do another.
"""

from __future__ import annotations

import re

from tests.system.nspawn import REPO

FENCE = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def section(heading: str) -> str:
    """The text of the README section titled ``heading`` (any level), up to the next heading
    of the same or a higher level."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.MULTILINE)
    if found is None:
        raise AssertionError(f"README.md has no section {heading!r}")
    level = len(found.group(1))
    following = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(text, found.end())
    return text[found.end():following.start() if following else len(text)]


def blocks(heading: str) -> list[str]:
    """The ``sh`` code blocks of the README section ``heading``, in order."""
    found = [match.group(1) for match in FENCE.finditer(section(heading))]
    if not found:
        raise AssertionError(f"README.md section {heading!r} has no sh block")
    return found


BUILD = "Debian: build the package"
WITH_GLUSTER = "Debian, on a Gluster node: replace Gluster's own daemon"
WITHOUT_GLUSTER = "Debian, on a machine without Gluster"
VENV = "RPM systems (Rocky, Alma, RHEL 8 and 9) and others: a virtual environment"
