"""The durable spool: every undelivered event of every webhook, in one SQLite file (WAL).

``SpoolWriter`` is owned by one thread (the pipeline's committer) and is the only writer:
it appends accepted events for each webhook, deletes them once delivered, moves them to the
dead letters, enforces the size limits and keeps each webhook's counters. The delivery loop
reads the backlog through ``SpoolReader`` (its own read-only connection), as do the metrics.
Functions at the bottom serve the CLI (``webhook-status``, ``webhook-redeliver``) against the
same file.

With ``durable=False`` (config ``spool memory``) nothing but the counters is stored: events
then wait only in memory, as they did in the original daemon.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from glustereventsd.spool import schema


BUSY_TIMEOUT_MS = 10_000
READER_CACHE_KIB = 256
log = logging.getLogger("glustereventsd.spool")


class Record(NamedTuple):
    """One event waiting for one webhook."""

    id: int  # spool row id: increases with arrival, per file
    hook_id: int
    event_id: str  # the webhook-id header: the same on every retry
    seq: int  # per-node sequence number
    name: str
    ts: int
    received: float
    body: bytes


class NewEvent(NamedTuple):
    """An accepted event before it is spooled: the fields every webhook's record shares."""

    event_id: str
    seq: int
    name: str
    ts: int
    received: float
    body: bytes


@dataclass
class HookCounters:
    """Counters of one webhook, flushed to the ``hooks`` table with each commit."""

    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    dead: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    last_success_at: float = 0.0
    duplicates: int = 0  # of ``delivered``: the receiver already had it (a NATS stream's PubAck said so)

    def merge(self, other: HookCounters) -> None:
        """Add ``other``'s counts, and take its latest error and success times."""
        self.delivered += other.delivered
        self.duplicates += other.duplicates
        self.retried += other.retried
        self.dropped += other.dropped
        self.dead += other.dead
        if other.last_error_at >= self.last_error_at and other.last_error_at:
            self.last_error, self.last_error_at = other.last_error, other.last_error_at
        self.last_success_at = max(self.last_success_at, other.last_success_at)

    def pending(self) -> bool:
        """True when there is something to flush."""
        return bool(self.delivered or self.retried or self.dropped or self.dead or self.duplicates
                    or self.last_error_at or self.last_success_at)


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


def connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    """Open the spool with the settings every user of it needs (WAL, busy timeout).

    Raises sqlite3.OperationalError first for a FIFO, folder or device in its place (``odd_file``).
    """
    problem = odd_file(path)
    if problem:
        raise sqlite3.OperationalError(f"{problem}: move it away and restart glustereventsd (it then "
                                       "makes a fresh spool)")
    if readonly:
        uri = f"file:{path}?mode=ro"
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                     check_same_thread=False, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000,
                                     check_same_thread=False, isolation_level=None)
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


def id_runs(row_ids: Iterable[int]) -> list[tuple[int, int]]:
    """Row ids as (first, last) runs of consecutive ids, without 0 (a memory-only record).

    Deliveries are acknowledged nearly in row order, so deleting a run with BETWEEN (one
    index range scan) replaces many single-row deletes. A run holds only ids that are in
    ``row_ids``: row ids are unique, so it cannot remove any other row.
    """
    runs: list[tuple[int, int]] = []
    for row_id in sorted(set(row_ids)):
        if not row_id:
            continue
        if runs and runs[-1][1] == row_id - 1:
            runs[-1] = (runs[-1][0], row_id)
        else:
            runs.append((row_id, row_id))
    return runs


def _not_in(row_ids: tuple[int, ...]) -> str:
    """An ``AND id NOT IN (?, ...)`` clause for ``row_ids`` (nothing when there are none)."""
    return f" AND id NOT IN ({','.join('?' * len(row_ids))})" if row_ids else ""


class Committed(NamedTuple):
    """What one group commit wrote: the new records (with row ids) and rows trimmed per webhook."""

    added: list[Record]
    trimmed: dict[int, list[int]]  # the row ids dropped from each full spool


class SpoolWriter:
    """The one writer of the spool file (see the module docstring)."""

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self.db = connect(path)
        schema.create(self.db)  # and the columns added since an older spool was made (hooks.duplicates)
        if not durable:  # memory mode keeps no events on disk
            with transaction(self.db):
                discarded = self.db.execute("DELETE FROM queue").rowcount
                _retire(self.db, discarded)
            if discarded:
                log.warning("spool is 'memory': discarded %d undelivered events left on disk by the 'disk' "
                            "spool; set 'spool disk' and restart to keep such events", discarded)
        row = self.db.execute("SELECT value FROM meta WHERE key='next_seq'").fetchone()
        self.next_seq = int(row[0]) if row else 1
        self.counters: dict[int, HookCounters] = {}
        self._next_row_id = self._row_ids_from()

    def _row_ids_from(self) -> int:
        """The next queue row id: this writer numbers its rows itself, to insert a turn at once.

        AUTOINCREMENT keeps the highest id ever used in sqlite_sequence, so ids never go back,
        also across rows inserted by SQL (dead letters re-queued); the highest id present
        covers a file whose sqlite_sequence lacks the row.
        """
        row = self.db.execute("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name='queue'), 0), "
                              "coalesce((SELECT max(id) FROM queue), 0))").fetchone()
        return int(row[0]) + 1

    @property
    def next_row_id(self) -> int:
        """The row id the next queued record gets (spool recovery must never go below it)."""
        return self._next_row_id

    def close(self) -> None:
        """Flush counters and close the file."""
        with contextlib.suppress(sqlite3.Error):
            with transaction(self.db):
                self._flush_counters()
            self.counters = {}
        self.db.close()

    # -- webhooks ---------------------------------------------------------------------
    def hook_id(self, url: str) -> int:
        """The id of ``url``'s spool, created when new."""
        row = self.db.execute("SELECT hook_id FROM hooks WHERE url=?", (url,)).fetchone()
        if row:
            return int(row[0])
        cursor = self.db.execute("INSERT INTO hooks (url) VALUES (?)", (url,))
        return int(cursor.lastrowid or 0)

    def known_hooks(self) -> dict[str, int]:
        """URL -> hook id of every spool in the file."""
        return {url: int(hook_id) for hook_id, url in self.db.execute("SELECT hook_id, url FROM hooks")}

    def discard_hook(self, hook_id: int) -> None:
        """Remove a deleted webhook's queue, dead letters and counters."""
        with transaction(self.db):
            row = self.db.execute("SELECT delivered + dropped + dead + (SELECT count(*) FROM queue WHERE hook_id=?) "
                                  "FROM hooks WHERE hook_id=?", (hook_id, hook_id)).fetchone()
            _retire(self.db, int(row[0]) if row else 0)
            for table in ("queue", "dead", "hooks"):
                self.db.execute(f"DELETE FROM {table} WHERE hook_id=?", (hook_id,))
        self.counters.pop(hook_id, None)

    def usage(self, hook_id: int) -> tuple[int, int]:
        """(events, bytes) queued for a webhook."""
        row = self.db.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0) FROM queue WHERE hook_id=?", (hook_id,)
        ).fetchone()
        return int(row[0]), int(row[1])

    # -- the batch of one commit --------------------------------------------------------
    def take_seq(self) -> int:
        """The next per-node sequence number (persisted with the next commit)."""
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def commit(
        self,
        appends: Sequence[tuple[int, NewEvent]],
        acks: Iterable[int],
        deaths: Iterable[tuple[Record, str]],
        trims: Iterable[tuple[int, int, tuple[int, ...]]],
    ) -> Committed:
        """Write one group commit: appends, acks, dead letters, counters, and trims.

        ``trims`` are (hook_id, count, keep): drop that many of the webhook's oldest queued rows
        (the spool is full), except the row ids in ``keep`` (being delivered). Raises sqlite3.Error (for example a full disk); nothing is then
        written and the counters stay pending for the next commit.
        """
        added: list[Record] = []
        trimmed: dict[int, list[int]] = {}
        with transaction(self.db):
            if self.durable:
                first = self._next_row_id
                added = [Record(first + index, hook_id, *event) for index, (hook_id, event) in enumerate(appends)]
                try:
                    self.db.executemany(
                        "INSERT INTO queue (id, hook_id, event_id, seq, name, ts, received, body) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", added)
                except sqlite3.IntegrityError:
                    # Someone else numbered rows meanwhile (the CLI re-queuing dead letters as
                    # this daemon started): the next turn counts on from theirs. This one fails
                    # like a full disk would: delivered from memory, counted as not spooled.
                    self._next_row_id = self._row_ids_from()
                    raise
                self.db.executemany("DELETE FROM queue WHERE id BETWEEN ? AND ?", id_runs(acks))
                for hook_id, count, keep in trims:
                    # Which rows, not only how many: the pipeline tells the webhook's queue exactly.
                    ids = [row[0] for row in self.db.execute(
                        f"SELECT id FROM queue WHERE hook_id=?{_not_in(keep)} ORDER BY id LIMIT ?",
                        (hook_id, *keep, count))]
                    self.db.executemany("DELETE FROM queue WHERE id BETWEEN ? AND ?", id_runs(ids))
                    trimmed[hook_id] = ids
            else:
                added = [Record(0, hook_id, e.event_id, e.seq, e.name, e.ts, e.received, e.body)
                         for hook_id, e in appends]
            for record, reason in deaths:
                self.db.execute(
                    "INSERT INTO dead (hook_id, event_id, seq, name, ts, received, body, reason, died) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.hook_id, record.event_id, record.seq, record.name, record.ts,
                     record.received, record.body, reason, time.time()))
                if record.id:
                    self.db.execute("DELETE FROM queue WHERE id=?", (record.id,))
            if appends:
                self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)",
                                (self.next_seq,))
            self._flush_counters()
        self.counters = {}  # flushed: only once the commit succeeded
        if self.durable and appends:
            self._next_row_id += len(appends)  # only once committed: a failed turn's ids are free again
        return Committed(added, trimmed)

    def take_requeue_requests(self) -> dict[str, int]:
        """Carry out the CLI's re-queue requests: URL -> dead letters moved to its queue."""
        moved: dict[str, int] = {}
        with transaction(self.db):
            for (url,) in self.db.execute("SELECT url FROM requeue_requests").fetchall():
                moved[url] = _move_dead_to_queue(self.db, url)
            self.db.execute("DELETE FROM requeue_requests")
        self._next_row_id = self._row_ids_from()  # SQL numbered the moved rows
        return moved

    def trim_dead(self, hook_id: int, keep: int) -> None:
        """Keep only the newest ``keep`` dead letters of a webhook."""
        with transaction(self.db):
            self.db.execute(
                "DELETE FROM dead WHERE hook_id=? AND id <= coalesce((SELECT id FROM dead WHERE hook_id=? "
                "ORDER BY id DESC LIMIT 1 OFFSET ?), -1)", (hook_id, hook_id, keep))

    def count(self, hook_id: int) -> HookCounters:
        """The counters of a webhook to add to before the next commit."""
        return self.counters.setdefault(hook_id, HookCounters())

    def _flush_counters(self) -> None:
        for hook_id, c in self.counters.items():
            if not c.pending():
                continue
            self.db.execute(
                "UPDATE hooks SET delivered=delivered+?, retried=retried+?, dropped=dropped+?, dead=dead+?, "
                "duplicates=duplicates+?, last_error=CASE WHEN ?>0 THEN ? ELSE last_error END, "
                "last_error_at=max(last_error_at, ?), last_success_at=max(last_success_at, ?) "
                "WHERE hook_id=?",
                (c.delivered, c.retried, c.dropped, c.dead, c.duplicates, c.last_error_at, c.last_error,
                 c.last_error_at, c.last_success_at, hook_id))


def _retire(db: sqlite3.Connection, count: int) -> None:
    """Inside a transaction: count queue rows that left without a counter (a removed webhook's).

    With it the file's own numbers add up: rows ever queued (sqlite_sequence) = delivered +
    dropped + dead of every webhook + retired + still queued. Spool recovery estimates the
    events a damaged file lost from that.
    """
    if count:
        db.execute("INSERT INTO meta (key, value) VALUES ('retired', ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value", (count,))


DAMAGED_TEXT = "database disk image is malformed (SQLite read text that is not UTF-8)"


def is_corruption(err: BaseException) -> bool:
    """True for SQLite's "database disk image is malformed" and "file is not a database".

    Also for Python's "Could not decode to UTF-8 column": the spool writes only UTF-8 text,
    so such a value lies on a damaged page.
    """
    name = str(getattr(err, "sqlite_errorname", "") or "")
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(err).lower()
    return isinstance(err, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text
                                                       or "could not decode to utf-8" in text)


class SpoolReader:
    """A read-only view of the spool: the delivery loop's refills, the metrics' gauges.

    Its page cache is kept small: it reads each row once, in order, so a large cache would
    only hold memory (SQLite's default is 2 MB per connection).

    A read that finds the file corrupt sets ``damaged`` before raising, so the pipeline (the
    only writer) rebuilds the spool even when no commit of its own touches the damaged
    pages. A reader stays on the file it opened: after a rebuild the pipeline hands the
    delivery loop a new reader of the fresh file (``ReaderHandoff.offer``).
    """

    def __init__(self, path: Path, damaged: threading.Event | None = None) -> None:
        self.path = path
        self.damaged = damaged
        self.db = connect(path, readonly=True)
        self.db.execute(f"PRAGMA cache_size=-{READER_CACHE_KIB}")

    def _read(self, sql: str, args: tuple[object, ...]) -> list[tuple[Any, ...]]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            if self.damaged is not None and is_corruption(err):
                self.damaged.set()
            raise
        except UnicodeDecodeError:  # text we wrote as UTF-8 that no longer is: a damaged page
            if self.damaged is not None:
                self.damaged.set()
            raise sqlite3.DatabaseError(DAMAGED_TEXT) from None

    def load(self, hook_id: int, after_id: int, limit: int) -> list[Record]:
        """Up to ``limit`` queued records of a webhook with row id above ``after_id``, oldest first."""
        rows = self._read("SELECT id, hook_id, event_id, seq, name, ts, received, body FROM queue "
                          "WHERE hook_id=? AND id>? ORDER BY id LIMIT ?", (hook_id, after_id, limit))
        return list(map(Record._make, rows))  # the columns' types are already Record's

    def count(self, hook_id: int) -> int:
        """Events queued in the spool for a webhook."""
        return int(self._read("SELECT count(*) FROM queue WHERE hook_id=?", (hook_id,))[0][0])

    def oldest_received(self, hook_id: int) -> float | None:
        """Receipt time of the oldest event queued for a webhook (None when none is)."""
        rows = self._read("SELECT received FROM queue WHERE hook_id=? ORDER BY id LIMIT 1", (hook_id,))
        return float(rows[0][0]) if rows else None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


# -- for the CLI --------------------------------------------------------------------------

@dataclass(frozen=True)
class HookStatus:
    """What ``webhook-status`` shows for one webhook on one node."""

    url: str
    queued: int
    oldest_age_secs: float
    delivered: int
    retried: int
    dropped: int
    dead_letters: int
    last_error: str
    last_error_at: float
    last_success_at: float
    duplicates: int = 0  # of ``delivered``: already in the NATS stream (PubAck duplicate)


def read_status(path: Path, now: float | None = None) -> list[HookStatus]:
    """Status of every webhook in a spool file; [] when the daemon never ran here."""
    if not path.exists():
        return []
    now = time.time() if now is None else now
    db = connect(path, readonly=True)
    try:
        duplicates = "h.duplicates" if schema.has_column(db, "hooks", "duplicates") else "0"
        rows = db.execute(
            "SELECT h.url, h.delivered, h.retried, h.dropped, h.last_error, h.last_error_at, h.last_success_at, "
            "(SELECT count(*) FROM queue q WHERE q.hook_id=h.hook_id), "
            "(SELECT min(received) FROM queue q WHERE q.hook_id=h.hook_id), "
            f"(SELECT count(*) FROM dead d WHERE d.hook_id=h.hook_id), {duplicates} FROM hooks h "
            "ORDER BY h.url").fetchall()
    finally:
        db.close()
    return [HookStatus(url, int(queued), max(0.0, now - oldest) if oldest else 0.0, int(delivered),
                       int(retried), int(dropped), int(dead), last_error, float(error_at), float(success_at),
                       int(dups))
            for url, delivered, retried, dropped, last_error, error_at, success_at, queued, oldest, dead, dups
            in rows]


class ReaderHandoff:
    """A loop's spool reader, replaced from any thread when the spool was rebuilt.

    The loop thread alone reads with it and closes it; another thread only ``offer``s a
    reader of the fresh file, which the loop switches to at its next ``current()``.
    """

    def __init__(self, reader: SpoolReader | None) -> None:
        self._reader = reader  # the loop thread's
        self._next: SpoolReader | None = None  # under _lock: offered, not yet taken
        self._lock = threading.Lock()

    def offer(self, reader: SpoolReader) -> None:
        """Hand over ``reader`` (any thread); one offered before and never taken is closed."""
        with self._lock:
            superseded, self._next = self._next, reader
        if superseded is not None:
            superseded.close()

    def current(self) -> SpoolReader | None:
        """The reader to use now (loop thread): switches first to one offered since."""
        if self._next is not None:  # a plain read: the lock is taken only to switch
            with self._lock:
                fresh, self._next = self._next, None
            if fresh is not None:
                old, self._reader = self._reader, fresh
                if old is not None:
                    old.close()
        return self._reader

    def close(self) -> None:
        """Close the reader and any offered one (loop thread, once the loop no longer runs)."""
        reader = self.current()
        self._reader = None
        if reader is not None:
            reader.close()


@dataclass(frozen=True)
class DeadLetter:
    """One event that could not be delivered, and why."""

    id: int
    event_id: str
    seq: int
    name: str
    ts: int
    reason: str
    died: float


def list_dead(path: Path, url: str, limit: int = 100) -> list[DeadLetter]:
    """The newest dead letters of a webhook."""
    if not path.exists():
        return []
    db = connect(path, readonly=True)
    try:
        rows = db.execute(
            "SELECT d.id, d.event_id, d.seq, d.name, d.ts, d.reason, d.died FROM dead d "
            "JOIN hooks h ON h.hook_id=d.hook_id WHERE h.url=? ORDER BY d.id DESC LIMIT ?",
            (url, limit)).fetchall()
    finally:
        db.close()
    return [DeadLetter(int(r[0]), r[1], int(r[2]), r[3], int(r[4]), r[5], float(r[6])) for r in rows]


def _move_dead_to_queue(db: sqlite3.Connection, url: str) -> int:
    """Inside a transaction: move a webhook's dead letters to the end of its queue."""
    row = db.execute("SELECT hook_id FROM hooks WHERE url=?", (url,)).fetchone()
    if not row:
        return 0
    moved = db.execute(
        "INSERT INTO queue (hook_id, event_id, seq, name, ts, received, body) "
        "SELECT hook_id, event_id, seq, name, ts, ?, body FROM dead WHERE hook_id=? ORDER BY id",
        (time.time(), row[0])).rowcount
    db.execute("DELETE FROM dead WHERE hook_id=?", (row[0],))
    return int(moved)


def requeue_dead(path: Path, url: str) -> int:
    """Move every dead letter of a webhook back to its queue (keeping its event id); return how many.

    For a node whose daemon is not running: it pages the whole queue in when it starts. With
    the daemon running use ``request_requeue``, so the daemon does the move itself.
    """
    if not path.exists():
        return 0
    db = connect(path)
    try:
        with transaction(db):
            return _move_dead_to_queue(db, url)
    finally:
        db.close()


def request_requeue(path: Path, url: str) -> int:
    """Ask the running daemon to re-queue a webhook's dead letters; return how many there are.

    The daemon moves them on its next reload, in its own pipeline thread: rows inserted behind
    its back could land below the point up to which it has already read the queue.
    """
    if not path.exists():
        return 0
    db = connect(path)
    try:
        with transaction(db):
            db.execute(schema.REQUEUE_REQUESTS.statements()[0])  # a spool made before it lacks it
            count = db.execute("SELECT count(*) FROM dead d JOIN hooks h ON h.hook_id=d.hook_id WHERE h.url=?",
                               (url,)).fetchone()[0]
            if count:
                db.execute("INSERT OR REPLACE INTO requeue_requests (url, at) VALUES (?, ?)", (url, time.time()))
    finally:
        db.close()
    return int(count)
