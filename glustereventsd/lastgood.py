"""The last configuration files that loaded, kept so a corrupt file cannot stop event delivery.

After every successful load the daemon copies webhooks.json and config.json here. If a file
is corrupt when the daemon starts (a half-written edit, a disk error), it starts with these
copies instead of refusing to run, and logs loudly which file to fix. On reload a bad file
simply leaves the running configuration in place.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

from glustereventsd.fsutil import atomic_write_bytes


class LastGood:
    """Copies of ``sources`` in ``folder``, refreshed by ``remember()``."""

    def __init__(self, folder: Path, sources: Sequence[Path]) -> None:
        self.folder = folder
        self.sources = tuple(sources)

    def copy_of(self, source: Path) -> Path:
        """Where the copy of ``source`` is kept."""
        return self.folder / source.name

    def remember(self) -> None:
        """Make the copies equal to the sources (a missing source removes its copy)."""
        for source in self.sources:
            copy = self.copy_of(source)
            try:
                data = source.read_bytes()
            except FileNotFoundError:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(copy)
                continue
            try:
                if copy.read_bytes() == data:
                    continue
            except FileNotFoundError:
                pass
            atomic_write_bytes(copy, data, 0o600)

    def available(self) -> bool:
        """True when copies have been made at least once."""
        return self.folder.is_dir() and any(self.copy_of(source).exists() for source in self.sources)
