"""The two errors for bad configuration: a value that cannot be used, a file that cannot be read.

They live apart from ``config`` so that the file reader (``filereader``), which ``config``
itself uses, can raise them too. ``config`` re-exports both under their usual names.
"""

from __future__ import annotations

from pathlib import Path


class ConfigError(ValueError):
    """A config value or file that cannot be used; the message names what and where."""


class ConfigFileError(ConfigError):
    """A config, webhooks, peers or certificate file that cannot be read or parsed.

    ``str()`` is ``"<path>: <reason>"``; the reason says what is wrong and what to do.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
