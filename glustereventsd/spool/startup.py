"""Opening the daemon's spool at start: check it, open it, prove it takes writes, else recover.

``open_spool`` is the daemon's way in. It checks the file (``diagnose``: a folder in its
place, a header that is not SQLite's, ``PRAGMA quick_check``), opens it and proves it can be
written (``probe_write``: an immutable or read-only file opens, then fails on the first
write). A spool that fails any of these goes to ``salvage.recover``, which moves it aside and
recovers what it holds into a fresh one.

When the damaged file cannot be moved (immutable, read-only folder) it is left untouched,
with its events, and the daemon runs with events in memory only until it is fixed: taking
its events into another spool would send them again after every restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import stat
import struct
import time
from dataclasses import dataclass
from pathlib import Path

from glustereventsd.base.stats import Stats
from glustereventsd.spool.db import DAMAGED_TEXT, file_uri, is_corruption, odd_file, transaction
from glustereventsd.spool.salvage import (DB_ERRORS, SQLITE_MAGIC, Problem, RecoveryReport, finish_interrupted,
                                          recover)
from glustereventsd.spool.writer import SpoolWriter

log = logging.getLogger("glustereventsd.spool")

FS_IOC_GETFLAGS = 0x80086601
FS_IMMUTABLE_FL = 0x10
FS_APPEND_FL = 0x20
MEMORY = ":memory:"


def _is_transient(err: BaseException) -> bool:
    name = str(getattr(err, "sqlite_errorname", "") or "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(err)


def is_full(err: BaseException) -> bool:
    """True for a full disk (the daemon then delivers from memory, as while running)."""
    name = str(getattr(err, "sqlite_errorname", "") or "")
    return name.startswith("SQLITE_FULL") or "disk is full" in str(err) or getattr(err, "errno", 0) == 28


def classify(err: BaseException) -> Problem:
    """The Problem an error opening or writing the spool means."""
    if is_corruption(err) or isinstance(err, UnicodeDecodeError):
        return Problem("corrupt", DAMAGED_TEXT if isinstance(err, UnicodeDecodeError) else str(err))
    if isinstance(err, OSError):
        return Problem("unwritable", err.strerror or str(err))
    return Problem("unwritable", str(err))


def _immutable(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        buffer = bytearray(8)
        fcntl.ioctl(fd, FS_IOC_GETFLAGS, buffer)
        return bool(struct.unpack_from("=i", buffer)[0] & (FS_IMMUTABLE_FL | FS_APPEND_FL))
    except OSError:  # a file system without attributes
        return False
    finally:
        os.close(fd)


def diagnose(path: Path) -> Problem | None:
    """Why the spool at ``path`` cannot be used, or None (also when there is none yet). Read-only."""
    if not os.path.lexists(path):
        return None
    try:
        info = os.stat(path)
    except OSError as err:
        return Problem("unreadable", err.strerror or str(err))
    if stat.S_ISDIR(info.st_mode):
        return Problem("not_a_file", "a folder is in its place")
    if not stat.S_ISREG(info.st_mode):
        return Problem("not_a_file", "it is not a regular file")
    odd = odd_file(path)  # a FIFO as its -wal or -shm: SQLite's open would wait for ever
    if odd:
        return Problem("not_a_file", odd)
    if info.st_size == 0:
        return None  # SQLite makes an empty file a new database
    if _immutable(path):
        return Problem("unwritable", "the file is immutable or append-only (chattr +i / +a)")
    try:
        with open(path, "rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                return Problem("corrupt", "its header is not an SQLite header (file is not a database)")
    except OSError as err:
        return Problem("unreadable", err.strerror or str(err))
    try:
        db = sqlite3.connect(file_uri(path, "ro"), uri=True, timeout=10, isolation_level=None)
    except sqlite3.Error as err:
        return Problem("unreadable", str(err))
    db.text_factory = lambda data: data.decode("utf-8", "replace")  # quick_check may quote damaged names
    try:
        found = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    except UnicodeDecodeError:  # SQLite's own message quotes garbage from the schema
        return Problem("corrupt", DAMAGED_TEXT)
    except sqlite3.Error as err:
        if is_corruption(err):
            return Problem("corrupt", str(err))
        if _is_transient(err) or "unable to open" in str(err):
            return None  # cannot tell from here (locked, or no access to -shm): opening will
        return Problem("unreadable", str(err))
    finally:
        db.close()
    if found != ["ok"]:
        return Problem("corrupt", "quick_check: " + "; ".join(str(item) for item in found)[:300])
    return None


def probe_write(writer: SpoolWriter) -> None:
    """Write one row and commit: raise sqlite3.Error when the spool cannot take writes."""
    with transaction(writer.db):
        writer.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('write_probe', ?)", (int(time.time()),))


@dataclass
class OpenedSpool:
    """The spool writer the daemon runs with, and what was done to get it."""

    writer: SpoolWriter
    report: RecoveryReport | None = None
    memory_only: bool = False  # the real spool could not be used: events wait in memory only


def open_spool(path: Path, durable: bool, stats: Stats | None = None) -> OpenedSpool:
    """Open the daemon's spool at start, recovering or replacing it when it is unusable.

    Raises sqlite3.Error only for a spool that is locked by another process for longer than
    the busy timeout (a transient state: the service manager's restart will find it free).
    """
    try:
        finish_interrupted(path)
    except OSError as err:
        log.error("Cannot finish an interrupted spool recovery next to %s: %s", path, err.strerror or err)
    problem = diagnose(path)
    if problem is None:
        try:
            writer = SpoolWriter(path, durable=durable)
        except (*DB_ERRORS, OSError) as err:
            if _is_transient(err):
                raise
            problem = classify(err)
        else:
            try:
                probe_write(writer)
                return OpenedSpool(writer)
            except sqlite3.Error as err:  # the transaction turns a UnicodeDecodeError into one
                if is_full(err):
                    log.error("The spool %s cannot be written: the disk is full (%s); events are delivered from "
                              "memory until space is freed", path, err)
                    return OpenedSpool(writer)
                writer.close()
                if _is_transient(err):
                    raise
                problem = classify(err)
    report = recover(path, problem, stats=stats)
    if report.replaced:
        fresh: SpoolWriter | None = None
        try:
            fresh = SpoolWriter(path, durable=durable)
            probe_write(fresh)
            return OpenedSpool(fresh, report)
        except (sqlite3.Error, OSError) as err:
            report.notes.append(f"the fresh spool fails too ({err})")
            log.error("The fresh spool %s cannot be used either: %s", path, err)
            if fresh is not None:  # its connection and checkpoint thread
                with contextlib.suppress(sqlite3.Error):
                    fresh.close()
    return _memory_only(report)


def _memory_only(report: RecoveryReport) -> OpenedSpool:
    """A spool of counters only, in memory: events wait in memory (as with ``spool memory``)."""
    writer = SpoolWriter(Path(MEMORY), durable=False)
    log.error("Running with events held in memory only: events that arrive now are lost if glustereventsd stops "
              "before delivering them (webhook-status shows them as waiting in memory only); fix %s and restart",
              report.path)
    return OpenedSpool(writer, report, memory_only=True)
