"""Watches the events folder with inotify so config and webhook changes apply without a signal.

The CLI replaces files by rename, so the watch is on the folder (IN_MOVED_TO), plus
IN_CLOSE_WRITE for an administrator editing a file in place. The handler only records
intent: it puts a reload request on the daemon's control queue.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Iterable
from pathlib import Path

import pyinotify

log = logging.getLogger("glustereventsd.watch")

WatchError = pyinotify.WatchManagerError


class _Handler(pyinotify.ProcessEvent):  # type: ignore[misc]
    def my_init(self, names: frozenset[str], on_change: Callable[[str], None]) -> None:
        self.names = names
        self.on_change = on_change

    def process_default(self, event: pyinotify.Event) -> None:
        if event.name in self.names:
            self.on_change(event.name)


class FileWatcher:
    """Calls ``on_change(name)`` from a background thread when a watched file is replaced."""

    def __init__(self, folder: Path, names: Iterable[str], on_change: Callable[[str], None]) -> None:
        self.folder = folder
        self._manager = pyinotify.WatchManager()
        mask = pyinotify.IN_MOVED_TO | pyinotify.IN_CLOSE_WRITE | pyinotify.IN_DELETE
        handler = _Handler(names=frozenset(names), on_change=on_change)
        self._notifier = pyinotify.ThreadedNotifier(self._manager, handler)
        self._notifier.daemon = True
        self._mask = mask

    def start(self) -> None:
        """Start watching; raises WatchError or OSError when the folder cannot be watched."""
        self._manager.add_watch(str(self.folder), self._mask, quiet=False)
        self._notifier.start()

    def stop(self) -> None:
        """Stop the watcher thread."""
        try:
            self._notifier.stop()
        except (OSError, RuntimeError) as err:  # already stopped, or never started
            log.debug("watcher stop: %s", err)


def put_reload(control: queue.Queue[str]) -> Callable[[str], None]:
    """A change callback that asks the daemon for a reload, dropping it if one is already queued."""

    def on_change(name: str) -> None:
        try:
            control.put_nowait("reload")
        except queue.Full:
            pass

    return on_change
