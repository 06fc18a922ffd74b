"""The spool file's connections: opening it, transactions, and telling a damaged file.

Every user of the spool file opens it here: the writer, the readers, the CLI's queries and
spool recovery. ``connect`` refuses a FIFO, folder or device in the file's place
(``odd_file``) and sets WAL and the busy timeout; ``transaction`` is BEGIN IMMEDIATE ...
COMMIT; ``is_corruption`` says whether an error means a damaged file (the pipeline then
rebuilds the spool, see ``salvage``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

BUSY_TIMEOUT_MS = 10_000
DAMAGED_TEXT = "database disk image is malformed (SQLite read text that is not UTF-8)"


def odd_file(path: Path) -> str:
    """What is wrong when the spool or its -wal/-shm is not a regular file ("" when none is).

    SQLite opening a FIFO would wait in open() for ever, so nothing may open one as the spool.
    """
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = os.stat(name).st_mode
        except OSError:
            continue
        if not stat.S_ISREG(mode):
            return f"{name} is {'a folder' if stat.S_ISDIR(mode) else 'a FIFO, socket or device'}, not a regular file"
    return ""


def file_uri(path: Path, mode: str) -> str:
    """The SQLite URI of ``path`` opened with ``mode`` ("ro", "rw"; "" for SQLite's default).

    Percent-encoded: a ``?``, ``#`` or ``%`` in the path (GLUSTER_EVENTS_ROOT) pasted as is
    would end the path there or be decoded, and SQLite would open (and create) another file.
    """
    uri = path.absolute().as_uri()
    return f"{uri}?mode={mode}" if mode else uri


def connect(path: Path, readonly: bool = False, create: bool = True) -> sqlite3.Connection:
    """Open the spool with the settings every user of it needs (WAL, busy timeout).

    ``create=False``: fail (sqlite3.OperationalError) rather than make a file that is not there.
    Raises sqlite3.OperationalError first for a FIFO, folder or device in its place (``odd_file``).
    """
    problem = odd_file(path)
    if problem:
        raise sqlite3.OperationalError(f"{problem}: move it away and restart glustereventsd (it then "
                                       "makes a fresh spool)")
    if readonly:
        connection = sqlite3.connect(file_uri(path, "ro"), uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                     check_same_thread=False, isolation_level=None)
    else:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(path) if create else file_uri(path, "rw"), uri=not create,
                                     timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return connection


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT; on any error (COMMIT's own included) roll back and re-raise.

    A UnicodeDecodeError (Python could not decode what SQLite said about a damaged schema or
    row) is raised as the corruption it is, a sqlite3.DatabaseError.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
        connection.execute("COMMIT")
    except BaseException as err:
        if connection.in_transaction:
            with contextlib.suppress(sqlite3.Error, UnicodeDecodeError):
                connection.execute("ROLLBACK")
        if isinstance(err, UnicodeDecodeError):
            raise sqlite3.DatabaseError(DAMAGED_TEXT) from None
        raise


def is_corruption(err: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" and "file is not a database".

    Also for Python's "Could not decode to UTF-8 column": the spool writes only UTF-8 text,
    so such a value lies on a damaged page. And for a bare DatabaseError with no text: Python
    before 3.11 (no ``sqlite_errorname``) raises that when SQLite's own message, which quotes
    the damaged schema, is not UTF-8 itself (3.11 raises UnicodeDecodeError there).
    """
    name = str(getattr(err, "sqlite_errorname", "") or "")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    if type(err) is sqlite3.DatabaseError and not err.args:
        return True
    text = str(err).lower()
    return isinstance(err, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text
                                                       or "could not decode to utf-8" in text)
