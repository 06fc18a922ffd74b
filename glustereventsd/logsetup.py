"""Logging of the daemon's own messages (events.log is ``eventlog``'s).

WatchedFileHandler reopens the file when logrotate has moved it away, so the daemon keeps
writing to the new file after a rotation without a signal.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "[%(asctime)s] %(levelname)s [%(name)s] %(message)s"


def _handler(target: str | Path) -> logging.Handler:
    if str(target) == "-":
        return logging.StreamHandler(sys.stderr)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.WatchedFileHandler(path, encoding="utf-8")


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
