"""Logging of the daemon: its own log, and events.log with one line per published event.

Both use WatchedFileHandler, which reopens the file when logrotate has moved it away, so the
daemon keeps writing to the new file after a rotation without a signal.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "[%(asctime)s] %(levelname)s [%(name)s] %(message)s"
EVENTS_LOGGER = "glustereventsd.events"


def _handler(target: str | Path) -> logging.Handler:
    if str(target) == "-":
        return logging.StreamHandler(sys.stderr)
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.WatchedFileHandler(path, encoding="utf-8")


def setup_logging(daemon_log: str | Path, event_log: str | Path, level: str) -> logging.Logger:
    """Configure the daemon log at ``level`` and return the events.log logger."""
    root = logging.getLogger("glustereventsd")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    daemon_handler = _handler(daemon_log)
    daemon_handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(daemon_handler)
    root.setLevel(level)
    root.propagate = False

    events = logging.getLogger(EVENTS_LOGGER)
    for handler in list(events.handlers):
        events.removeHandler(handler)
        handler.close()
    event_handler = _handler(event_log)
    event_handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s"))
    events.addHandler(event_handler)
    events.setLevel(logging.INFO)
    events.propagate = False
    return events


def set_level(level: str) -> None:
    """Change the daemon log level (on reload)."""
    logging.getLogger("glustereventsd").setLevel(level)
