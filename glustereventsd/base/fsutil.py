"""File primitives shared by the daemon and the CLI: atomic writes, locks, the pid file.

A file is never written in place: the new content goes to a temporary file in the same
folder, is fsynced, and replaces the old one by rename, under an exclusive lock, so readers
(the daemon, other CLI runs, inotify) only ever see a whole old file or a whole new one.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path


class NotRegularFile(OSError):
    """A folder, FIFO, socket or device where a regular file belongs (``strerror`` says which)."""


def _not_regular(path: Path | str, mode: int) -> NotRegularFile:
    what = "a folder" if stat.S_ISDIR(mode) else "a FIFO, socket or device"
    return NotRegularFile(errno.EINVAL, f"{what}, not a regular file", str(path))


def open_regular(path: Path | str, flags: int, mode: int = 0o644) -> int:
    """``os.open(path, flags)`` for a regular file only; NotRegularFile (an OSError) for anything else.

    Opened non-blocking first: a FIFO put in a file's place would otherwise hold the caller
    in ``open`` until a writer or reader comes (for ever), and a device such as /dev/zero
    would give bytes without end. The descriptor returned is blocking, close-on-exec.
    """
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, mode)
    except OSError as err:  # a folder (EISDIR) or a FIFO nobody reads (ENXIO): say what it is
        try:
            info = os.stat(path)
        except OSError:
            raise err from None
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(path, info.st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def lock_path_for(path: Path) -> Path:
    """The sidecar lock file that serialises writers of ``path``."""
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path``'s sidecar lock file for the ``with`` body."""
    lock_file = lock_path_for(path)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600, durable: bool = True) -> None:
    """Replace ``path`` with ``data``: temp file in the same folder, fsync, rename, fsync dir.

    ``durable=False`` skips both fsyncs, for files that describe only this boot (under /run).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if not durable:
        return
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def dump_json(data: object) -> bytes:
    """The on-disk form of our JSON files: sorted, indented, newline-terminated."""
    return (json.dumps(data, indent=4, sort_keys=True) + "\n").encode("utf-8")


def move_aside(path: Path, companions: Sequence[str] = (), tag: str = "corrupt") -> Path:
    """Rename ``path`` to ``<name>.<tag>-<UTC time>`` (kept as evidence); return the new path.

    Each existing companion ``<path><suffix>`` (an SQLite ``-wal`` or ``-shm``) moves with it,
    to ``<new path><suffix>``, so SQLite still finds them. All move or none: on a failure the
    renames already done are undone and the OSError is raised.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.{tag}-{stamp}")
    number = 1
    while any(os.path.lexists(f"{target}{suffix}") for suffix in ("", *companions)):
        number += 1
        target = path.with_name(f"{path.name}.{tag}-{stamp}-{number}")
    done: list[tuple[str, str]] = []
    try:
        for suffix in ("", *companions):
            source = f"{path}{suffix}"
            if suffix and not os.path.lexists(source):
                continue
            os.rename(source, f"{target}{suffix}")
            done.append((source, f"{target}{suffix}"))
    except OSError:
        for source, moved in reversed(done):
            with contextlib.suppress(OSError):
                os.rename(moved, source)
        raise
    return target


class PidFileBusy(RuntimeError):
    """Another daemon holds the pid file."""


class PidFile:
    """The daemon's pid file, held with an exclusive flock for the daemon's whole life."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid; raise PidFileBusy if another daemon has it.

        A stale file left by a daemon that died is simply reused: its lock died with it.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise PidFileBusy(
                f"{self.path} is locked by a running glustereventsd (pid {holder or 'unknown'})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd

    def release(self) -> None:
        """Remove the file and drop the lock; safe to call twice."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> PidFile:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def probe_pid_file(path: Path) -> int | None:
    """Return the pid of the daemon holding ``path``'s lock, or None when none does."""
    try:
        fd = open_regular(path, os.O_RDONLY)
    except OSError:  # missing, unreadable, or a FIFO in its place: no daemon holds it
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode("ascii", "replace").strip()
            return int(text) if text.isascii() and text.isdigit() else 0
        return None  # we got the lock: nobody holds it
    finally:
        os.close(fd)
