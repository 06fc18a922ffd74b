"""Reading the spool's backlog: ``SpoolReader`` (read-only), and ``ReaderHandoff`` to a fresh file.

The delivery loops refill their windows through a ``SpoolReader`` of their own, and the
metrics count the backlog with one. After the pipeline rebuilt a damaged spool it hands each
loop a reader of the fresh file through the loop's ``ReaderHandoff``.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

from glustereventsd.spool.db import DAMAGED_TEXT, connect, is_corruption
from glustereventsd.spool.records import ConditionRow, Record

READER_CACHE_KIB = 256
CONDITION_COLUMNS = ", ".join(ConditionRow._fields)


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

    def conditions(self) -> list[ConditionRow]:
        """Every condition and alarm of the ``conditions`` table (open, and recently over), oldest first."""
        rows = self._read(f"SELECT {CONDITION_COLUMNS} FROM conditions ORDER BY opened_at, key", ())
        return [ConditionRow(*row) for row in rows]

    def condition(self, key: str) -> ConditionRow | None:
        """The row of one alert identity, if any."""
        rows = self._read(f"SELECT {CONDITION_COLUMNS} FROM conditions WHERE key=?", (key,))
        return ConditionRow(*rows[0]) if rows else None

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


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
