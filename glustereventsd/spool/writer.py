"""The spool's one writer: every undelivered event of every webhook, in one SQLite file (WAL).

``SpoolWriter`` is owned by one thread (the pipeline's committer) and is the only writer:
it appends accepted events for each webhook, deletes them once delivered, moves them to the
dead letters, enforces the size limits and keeps each webhook's counters. The delivery loops
and the metrics read the backlog through ``reader.SpoolReader``; the CLI's queries are in
``admin``.

With ``durable=False`` (config ``spool memory``) nothing but the counters is stored: events
then wait only in memory, as they did in the original daemon.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from glustereventsd.spool import conditions, schema
from glustereventsd.spool.checkpoint import SAFETY_NET_PAGES, Checkpointer
from glustereventsd.spool.db import connect, transaction
from glustereventsd.models import NewEvent
from glustereventsd.spool.records import HookCounters, Record

log = logging.getLogger("glustereventsd.spool")


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
        self._next_prune = 0.0  # when over conditions are deleted next (wall time)
        self._checkpointer: Checkpointer | None = None
        if durable:  # checkpoints off the commit path (spool.checkpoint)
            self.db.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
            self._checkpointer = Checkpointer(path)
            self._checkpointer.start()

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
        """Flush counters, checkpoint, and close the file."""
        with contextlib.suppress(sqlite3.Error):
            with transaction(self.db):
                self._flush_counters()
            self.counters = {}
        if self._checkpointer is not None:
            self._checkpointer.close()
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
        events: Sequence[NewEvent] = (),
    ) -> Committed:
        """Write one group commit: appends, acks, dead letters, counters, and trims.

        ``trims`` are (hook_id, count, keep): drop that many of the webhook's oldest queued rows
        (the spool is full), except the row ids in ``keep`` (being delivered). ``events`` are the
        turn's new events, whoever they are queued for: the conditions they open or close are
        written with them (``spool.conditions``). Raises sqlite3.Error (for example a full disk); nothing is then
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
            if events:
                conditions.apply(self.db, events)
            now = time.time()
            if now >= self._next_prune:
                conditions.prune(self.db, now)
            if appends:
                self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)",
                                (self.next_seq,))
            self._flush_counters()
        self.counters = {}  # flushed: only once the commit succeeded
        if self._checkpointer is not None:
            self._checkpointer.due()
        if now >= self._next_prune:
            self._next_prune = now + conditions.PRUNE_EVERY_SECS
        if self.durable and appends:
            self._next_row_id += len(appends)  # only once committed: a failed turn's ids are free again
        return Committed(added, trimmed)

    def take_requeue_requests(self) -> dict[str, int]:
        """Carry out the CLI's re-queue requests: URL -> dead letters moved to its queue."""
        moved: dict[str, int] = {}
        with transaction(self.db):
            for (url,) in self.db.execute("SELECT url FROM requeue_requests").fetchall():
                moved[url] = move_dead_to_queue(self.db, url)
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


def move_dead_to_queue(db: sqlite3.Connection, url: str) -> int:
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
