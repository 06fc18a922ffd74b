"""Watches the events folder so that config and webhook changes apply without a signal.

Two ways to watch, one interface:

- ``inotify`` (Linux, through pyinotify): a watch on the folder, IN_MOVED_TO for the CLI's
  rename-into-place, IN_CLOSE_WRITE for an administrator editing a file in place, IN_DELETE;
  and the folder's own removal or rename, after which the watch is set up again.
- ``poll`` (anywhere: FreeBSD has no inotify and pyinotify is Linux-only): every
  ``poll_secs`` the watched files are stat()ed; a change of inode, size, mtime or ctime, or
  a file appearing or going, is a change.

``auto`` takes inotify where pyinotify imports and the kernel gives an inotify instance,
else poll. A watch that cannot be set up (the folder is missing or not readable) is retried
every ``retry_secs`` and on ``retry()``; a warning says what is not watched, and once the
watch is back a change is reported, so that edits made meanwhile are picked up.

The owner thread (the daemon's main loop) calls ``tick()`` often; change callbacks come from
that thread (poll) or from pyinotify's thread (inotify), and must only record intent.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Optional, Protocol, Tuple

log = logging.getLogger("glustereventsd.watch")

BACKENDS = ("auto", "inotify", "poll")
POLL_SECS = 1.0  # how often the poll backend stats the watched files
RETRY_SECS = 5.0  # how often a watch that could not be set up is tried again


class WatchSetupError(RuntimeError):
    """The folder cannot be watched now; the message says why."""


def load_pyinotify() -> ModuleType | None:
    """pyinotify, or None where it cannot be imported (not Linux, not installed)."""
    try:
        import pyinotify
    except Exception as err:  # noqa: BLE001 - ImportError, or its own error off Linux
        log.debug("pyinotify cannot be imported: %s", err)
        return None
    module: ModuleType = pyinotify
    return module


class _Backend(Protocol):
    name: str

    def arm(self) -> None:
        """Start watching; raise WatchSetupError when the folder cannot be watched."""

    def lost(self) -> bool:
        """True once a watch that was set up has stopped working (folder removed)."""

    def changed(self) -> list[str]:
        """Names changed since the last call (the poll backend; others report by callback)."""

    def close(self) -> None:
        """Release the watch and any thread."""


class _InotifyBackend:
    name = "inotify"

    def __init__(self, module: Any, folder: Path, names: frozenset[str],
                 on_change: Callable[[str], None]) -> None:
        self._module = module
        self._folder = folder
        self._lost = threading.Event()
        self._manager = module.WatchManager()  # OSError when the kernel gives no instance
        self._mask = (module.IN_MOVED_TO | module.IN_CLOSE_WRITE | module.IN_DELETE
                      | module.IN_DELETE_SELF | module.IN_MOVE_SELF)
        gone = module.IN_IGNORED | module.IN_DELETE_SELF | module.IN_MOVE_SELF
        lost = self._lost

        class Handler(module.ProcessEvent):  # type: ignore[misc]
            def process_default(self, event: Any) -> None:
                if event.mask & gone:
                    lost.set()
                    on_change("")  # the files went with the folder: reload what is left
                elif event.name in names:
                    on_change(event.name)

        self._notifier = module.ThreadedNotifier(self._manager, Handler())
        self._notifier.daemon = True
        self._notifier.name = "gev-watch"
        self._started = False
        self._wds: list[int] = []

    def arm(self) -> None:
        for wd in self._wds:  # a folder moved away is still watched where it went: drop that
            self._manager.rm_watch(wd, quiet=True)
        self._wds = []
        self._lost.clear()
        try:
            added = self._manager.add_watch(str(self._folder), self._mask, quiet=False)
        except self._module.WatchManagerError as err:
            raise WatchSetupError(_why(self._folder, err)) from None
        self._wds = [wd for wd in added.values() if wd >= 0]
        if not self._started:
            self._notifier.start()
            self._started = True

    def lost(self) -> bool:
        return self._lost.is_set()

    def changed(self) -> list[str]:
        return []

    def close(self) -> None:
        if not self._started:
            return
        try:
            self._notifier.stop()
        except (OSError, RuntimeError) as err:  # already stopped
            log.debug("watcher stop: %s", err)


def _why(folder: Path, err: Exception) -> str:
    if not folder.is_dir():
        return "the folder does not exist"
    if not os.access(folder, os.R_OK | os.X_OK):
        return "the folder is not readable"
    return str(err)


Signature = Optional[Tuple[int, int, int, int, int]]


class _PollBackend:
    name = "poll"

    def __init__(self, folder: Path, names: frozenset[str]) -> None:
        self._paths = {name: folder / name for name in sorted(names)}
        self._seen: dict[str, Signature] = {}

    @staticmethod
    def _signature(path: Path) -> Signature:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def arm(self) -> None:
        self._seen = {name: self._signature(path) for name, path in self._paths.items()}

    def lost(self) -> bool:
        return False

    def changed(self) -> list[str]:
        names = []
        for name, path in self._paths.items():
            now = self._signature(path)
            if now != self._seen.get(name):
                self._seen[name] = now
                names.append(name)
        return names

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class WatchStatus:
    """What the watcher does now, for the status file and the log."""

    backend: str
    folder: str
    watching: bool
    problem: str


class FileWatcher:
    """Calls ``on_change(name)`` when a watched file in ``folder`` is replaced, edited or removed."""

    def __init__(self, folder: Path, names: Iterable[str], on_change: Callable[[str], None],
                 backend: str = "auto", poll_secs: float = POLL_SECS,
                 retry_secs: float = RETRY_SECS) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"watch backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.folder = folder
        self._names = frozenset(names)
        self._on_change = on_change
        self._wanted = backend
        self._poll_secs = poll_secs
        self._retry_secs = retry_secs
        self._backend: _Backend | None = None
        self._watching = False
        self._problem = ""
        self._next_poll = 0.0
        self._next_retry = 0.0

    def _make_backend(self) -> _Backend:
        if self._wanted == "poll":
            log.info("Watching %s by polling every %gs (as asked)", self.folder, self._poll_secs)
        else:
            module = load_pyinotify()
            reason = "pyinotify cannot be imported here"
            if module is not None:
                try:
                    return _InotifyBackend(module, self.folder, self._names, self._on_change)
                except (OSError, module.PyinotifyError) as err:  # the kernel's limit, or no inotify at all
                    reason = f"inotify is not available ({err})"
            level = logging.WARNING if self._wanted == "inotify" else logging.INFO
            log.log(level, "Watching %s by polling every %gs: %s", self.folder, self._poll_secs, reason)
        return _PollBackend(self.folder, self._names)

    def start(self, now: float) -> None:
        """Set the watch up; when it cannot be, warn and retry later (never raises)."""
        self._backend = self._make_backend()
        self._arm(now, first=True)

    def _arm(self, now: float, first: bool) -> None:
        assert self._backend is not None
        try:
            self._backend.arm()
        except WatchSetupError as err:
            if self._watching or first or str(err) != self._problem:
                log.warning("Not watching %s for changes (%s): edits of %s there are not seen until it "
                            "can be watched; retrying every %gs and on every reload (run 'systemctl reload "
                            "glustereventsd' to apply an edit now)", self.folder, err,
                            " and ".join(sorted(self._names)), self._retry_secs)
            self._watching, self._problem = False, str(err)
            self._next_retry = now + self._retry_secs
            return
        if not first:
            log.info("Now watching %s for changes (%s)", self.folder, self._backend.name)
            self._on_change("")  # what changed while it was not watched
        self._watching, self._problem = True, ""
        self._next_poll = now + self._poll_secs

    def tick(self, now: float) -> None:
        """Poll the files when due, and retry a watch that is down when due (owner thread)."""
        backend = self._backend
        if backend is None:
            return
        if self._watching and backend.lost():
            log.warning("The watch on %s stopped (the folder was removed or moved); setting it up again",
                        self.folder)
            self._watching, self._problem = False, "the folder was removed or moved"
            self._next_retry = now
        if not self._watching:
            if now >= self._next_retry:
                self._arm(now, first=False)
            return
        if now >= self._next_poll:
            self._next_poll = now + self._poll_secs
            for name in backend.changed():
                self._on_change(name)

    def retry(self, now: float) -> None:
        """Try to set a watch that is down up again now (the daemon calls this on reload)."""
        if self._backend is not None and not self._watching:
            self._arm(now, first=False)

    def status(self) -> WatchStatus:
        """The backend in use, and whether the folder is watched."""
        return WatchStatus(self._backend.name if self._backend else "", str(self.folder),
                           self._watching, self._problem)

    def stop(self) -> None:
        """Stop watching."""
        if self._backend is not None:
            self._backend.close()


def put_reload(control: queue.Queue[str]) -> Callable[[str], None]:
    """A change callback that asks the daemon for a reload (dropped when the control queue is full:
    the reloads queued already read the files as they are)."""

    def on_change(name: str) -> None:
        try:
            control.put_nowait("reload")
        except queue.Full:
            pass

    return on_change
