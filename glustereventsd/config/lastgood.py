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

from glustereventsd.base import filereader
from glustereventsd.errors import ConfigFileError
from glustereventsd.base.fsutil import atomic_write_bytes


class LastGood:
    """Copies of ``sources`` in ``folder``, refreshed by ``remember()``."""

    def __init__(self, folder: Path, sources: Sequence[Path]) -> None:
        self.folder = folder
        self.sources = tuple(sources)

    def copy_of(self, source: Path) -> Path:
        """Where the copy of ``source`` is kept."""
        return self.folder / source.name

    def remember(self) -> None:
        """Make the copies equal to the sources (a missing source removes its copy).

        Each source is read again through ``filereader`` and copied only if it still parses:
        a file replaced by a hostile one since it loaded never becomes the last good copy.
        Raises OSError when a copy cannot be written.
        """
        for source in self.sources:
            copy = self.copy_of(source)
            kind = filereader.kind_of(source)
            try:
                data = filereader.read_bytes(source, kind.max_bytes, kind.advice, missing_ok=True)
                if data is not None:
                    filereader.parse_json_object(data, source, kind.advice)
            except ConfigFileError:
                continue  # changed since it loaded: keep the copy we have
            if data is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(copy)
                continue
            try:
                if filereader.read_bytes(copy, kind.max_bytes, kind.advice, missing_ok=True) == data:
                    continue
            except ConfigFileError:
                pass  # a damaged copy: replace it
            atomic_write_bytes(copy, data, 0o600)

    def available(self) -> bool:
        """True when copies have been made at least once."""
        return self.folder.is_dir() and any(self.copy_of(source).exists() for source in self.sources)
