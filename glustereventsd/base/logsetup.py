"""Logging of the daemon's own messages (events.log is ``eventlog``'s).

WatchedFileHandler reopens the file when logrotate has moved it away, so the daemon keeps
writing to the new file after a rotation without a signal.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from glustereventsd.base.fsutil import open_regular

FORMAT = "[%(asctime)s] %(levelname)s [%(name)s] %(message)s"


class LogFile(logging.handlers.WatchedFileHandler):
    """A WatchedFileHandler that writes only to a regular file.

    A FIFO put in the log's place would hold the daemon in ``open`` at its next line, for
    ever; anything not a regular file (or not writable) is said once on stderr, and the
    lines go to stderr (the journal, under systemd) until a regular file can be opened.
    """

    _refused = ""  # the last reason given on stderr, so it is said once

    def _open(self):  # type: ignore[no-untyped-def]
        try:
            fd = open_regular(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            reason = f"{self.baseFilename}: {err.strerror or err}"
            if reason != self._refused:
                self._refused = reason
                sys.stderr.write(f"glustereventsd: cannot write the daemon log ({reason}); "
                                 "logging to stderr meanwhile\n")
            return os.fdopen(os.dup(sys.stderr.fileno()), "a", encoding=self.encoding, errors=self.errors)
        self._refused = ""
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def _handler(target: str | Path) -> logging.Handler:
    if str(target) == "-":
        return logging.StreamHandler(sys.stderr)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return LogFile(path, encoding="utf-8")


def setup_logging(daemon_log: str | Path, level: str) -> None:
    """Configure the daemon log at ``level``."""
    root = logging.getLogger("glustereventsd")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    daemon_handler = _handler(daemon_log)
    daemon_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(daemon_handler)
    root.setLevel(level)
    root.propagate = False


def set_level(level: str) -> None:
    """Change the daemon log level (on reload)."""
    logging.getLogger("glustereventsd").setLevel(level)
