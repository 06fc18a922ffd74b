"""Recovering an unusable spool: move it aside, keep what can be read of it in a fresh one.

``startup.open_spool`` calls ``recover`` when the spool fails its checks at start, and the
running pipeline (``Committer.rebuild_spool``) when a commit, or a read of the delivery loop
or the metrics, finds the file corrupt (``db.is_corruption``), passing what it knows
(``Floor``) so row ids and sequence numbers never go back:

1. The damaged file (with its ``-wal``/``-shm``) is copied to a scratch folder and read from
   the copy, so the evidence stays as it was: with the sqlite3 CLI's ``.recover`` when it
   works (Debian 12's lacks the sqlite_dbpage table it needs), else row by row, skipping
   damaged ranges of row ids, with ``writable_schema`` on (a truncated file is then read up
   to its end instead of refused) and a rebuilt header when garbage covers SQLite's; rows
   SQLite cannot reach are looked for page by page (``pagescan``), told apart by their
   shape (``schema.ROW_SHAPES``).
2. What was read (webhooks and their counters, queued events with their row ids, event ids
   and sequence numbers, dead letters, the next sequence number) goes into a fresh spool,
   ``spool.sqlite3.recovered``, without duplicates.
3. The damaged file is renamed ``spool.sqlite3.corrupt-<UTC time>`` (its ``-wal``/``-shm``
   alike) and the fresh one takes its place. A crash between the steps is finished at the
   next start (``finish_interrupted``).

When the damaged file cannot be moved (immutable, read-only folder) it is left untouched,
with its events (``replaced`` False). Everything is logged at ERROR and counted in ``Stats``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sqlite3
import stat
import struct
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glustereventsd.base import filereader
from glustereventsd.spool import pagescan, schema
from glustereventsd.spool.db import file_uri
from glustereventsd.base import sdnotify
from glustereventsd.base.fsutil import move_aside
from glustereventsd.base.stats import Stats

log = logging.getLogger("glustereventsd.spool")
Row = tuple[Any, ...]  # one row as read, its types checked against SHAPES

COMPANIONS = ("-wal", "-shm", "-journal")
RECOVER_TIMEOUT_SECS = 600
MAX_ROWID = 1 << 62
MAX_PROBES = 20_000  # per table: about 150 damaged ranges skipped
SQLITE_MAGIC = b"SQLite format 3\0"

# What is copied from the damaged file (table -> columns, the row id first), the Python types
# of each value (by which a page scan tells the tables' rows apart), and the columns added after
# spools already existed (older files lack them): all from the schema's one description.
TABLES = schema.ROW_COLUMNS
SHAPES = schema.ROW_SHAPES
ADDED_COLUMNS = schema.ADDED_COLUMNS
NUMBER = schema.NUMBER
# What reading a damaged file may raise: SQLite's errors, and Python's when SQLite's message
# or a text value is not UTF-8 (garbage in the schema or a row).
DB_ERRORS = (sqlite3.Error, UnicodeDecodeError)


@dataclass(frozen=True)
class Problem:
    """Why a spool cannot be used: ``cause`` from a fixed vocabulary, ``detail`` for people."""

    cause: str  # corrupt, not_a_file, unwritable, unreadable
    detail: str


@dataclass(frozen=True)
class Floor:
    """What a running pipeline knows that the damaged file may have lost."""

    next_row_id: int = 1
    next_seq: int = 1
    hooks: Mapping[str, int] = field(default_factory=dict)  # url -> hook id in use


@dataclass
class RecoveryReport:
    """What ``recover`` did."""

    path: Path
    problem: Problem
    replaced: bool = False  # a fresh spool with the recovered rows is now at ``path``
    moved_to: Path | None = None
    method: str = "none"  # "sqlite3 .recover", "row by row" or "none"
    events: int = 0  # queued events recovered
    dead_letters: int = 0
    webhooks: int = 0
    lost: int | None = None  # queued events the file held that could not be read (estimate)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One log line: what was wrong, what was done, recovered and lost."""
        lost = ("how many events were lost is unknown (the file's counters were unreadable)"
                if self.lost is None else f"about {self.lost} queued events lost")
        companions = [s for s in COMPANIONS if self.moved_to and os.path.lexists(f"{self.moved_to}{s}")]
        text = (f"The spool {self.path} was unusable ({self.problem.cause}: {self.problem.detail}); moved it to "
                f"{self.moved_to}{' with its ' + '/'.join(companions) if companions else ''} and started a "
                f"fresh spool: recovered {self.events} queued "
                f"events of {self.webhooks} webhooks and {self.dead_letters} dead letters ({self.method}), {lost}; "
                "the recovered events are delivered now")
        return text + "".join(f"; {note}" for note in self.notes)


def _done_path(path: Path) -> Path:
    return path.with_name(path.name + ".recovered")


def _scratch_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.recovery")


def finish_interrupted(path: Path) -> None:
    """Complete a recovery a crash interrupted: put the finished fresh spool in place, drop scratch."""
    done = _done_path(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(done.with_name(done.name + ".tmp"))
    shutil.rmtree(_scratch_path(path), ignore_errors=True)
    if not os.path.lexists(done):
        return
    if not stat.S_ISREG(_mode(done)):  # not a spool we wrote (a folder, say): out of the way, kept
        moved = move_aside(done, tag="unknown")
        log.error("Moved aside %s, which is in the way of a spool recovery and is not a spool (now %s)",
                  done, moved)
        return
    if any(os.path.lexists(f"{path}{suffix}") for suffix in ("", *COMPANIONS)):
        os.unlink(done)  # the damaged spool is still in place: recover it again
        return
    os.rename(done, path)
    log.error("Finished the spool recovery a restart interrupted: %s is in place", path)


# -- reading a damaged file ----------------------------------------------------------------

class _TableReader:
    """Every row of one table that can be read, by row id, skipping damaged ranges."""

    def __init__(self, db: sqlite3.Connection, table: str) -> None:
        self.db = db
        self.table = table
        self.columns = TABLES[table]
        self.padding: tuple[Any, ...] = ()  # defaults of the added columns an older file lacks
        self.complete = True  # no part of the table was unreadable
        self.skipped = 0  # rows read but of the wrong shape
        self.probes = 0  # seeks past damaged rows so far (bounded: the page scan reads the rest)

    def _readable(self, start: int) -> bool:
        """True when the first row at or after ``start`` reads whole (or there is none)."""
        self.probes += 1
        try:
            self.db.execute(f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE rowid >= ? ORDER BY rowid "
                            "LIMIT 1", (start,)).fetchall()
            return True
        except DB_ERRORS:
            return False

    def _next_readable(self, failed_at: int) -> int | None:
        """The lowest row id above ``failed_at`` from which reading works again (doubling, then bisecting)."""
        bad, step = failed_at, 1
        while True:
            probe = failed_at + step
            if probe > MAX_ROWID or self.probes > MAX_PROBES:
                return None
            if self._readable(probe):
                break
            bad, step = probe, step * 2
        good = probe
        while good - bad > 1:
            middle = (good + bad) // 2
            if self._readable(middle):
                good = middle
            else:
                bad = middle
        return good

    def _without_added_columns(self) -> bool:
        """Read without the columns added later (once); False when there are none left to leave out."""
        added = ADDED_COLUMNS.get(self.table, ())
        if not added or self.padding:
            return False
        self.columns = TABLES[self.table][:-len(added)]
        self.padding = tuple(default for _, default in added)
        return True

    def rows(self) -> Iterator[Row]:
        """Yield every readable row of the right shape (added columns an older file lacks get their default)."""
        shape = SHAPES[self.table]
        start: int | None = 0  # our row ids start at 1: doubling from 0 probes at their scale
        while start is not None:
            sql = f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE rowid >= ? ORDER BY rowid"
            try:
                for row in self.db.execute(sql, (start,)):
                    if not isinstance(row[0], int) or row[0] < start:
                        raise sqlite3.DatabaseError("row ids out of order: a damaged b-tree")  # it may loop
                    start = row[0] + 1
                    row = (*row, *self.padding)
                    if all(isinstance(value, kinds) for value, kinds in zip(row, shape)):
                        yield tuple(row)
                    else:
                        self.skipped += 1
                return
            except sqlite3.OperationalError as err:
                if "no such table" in str(err):
                    self.complete = self.table == "requeue_requests"  # older spools lack it
                    return
                if "no such column" in str(err) and self._without_added_columns():
                    continue  # a spool made before a column was added: read it without, from the same row
                self.complete = False
                start = self._next_readable(start)
            except DB_ERRORS:
                self.complete = False
                start = self._next_readable(start)


def _copy_files(path: Path, scratch: Path) -> Path | None:
    """Copy the damaged spool and its -wal to ``scratch``; None when that is impossible."""
    try:
        scratch.mkdir(mode=0o700)
        copy = scratch / "spool.sqlite3"
        shutil.copyfile(path, copy)
        if os.path.exists(f"{path}-wal"):
            shutil.copyfile(f"{path}-wal", f"{copy}-wal")
        return copy
    except OSError:
        return None


def _repair_header(copy: Path) -> str:
    """Rebuild SQLite's 100-byte header over garbage; return a note, or "" when it did not help."""
    with open(copy, "rb") as handle:
        page1 = handle.read(65536)
    wal = os.path.exists(f"{copy}-wal")
    original = bytes(page1[:100])
    for page_size in (4096, 1024, 2048, 8192, 16384, 32768, 65536):
        header = bytearray(100)
        header[0:16] = SQLITE_MAGIC
        struct.pack_into(">H", header, 16, page_size if page_size < 65536 else 1)
        header[18] = header[19] = 2 if wal else 1
        header[21:24] = bytes((64, 32, 32))
        struct.pack_into(">I", header, 24, 1)  # change counter; size "valid for" 0: the file size counts
        struct.pack_into(">I", header, 40, 1)  # schema cookie
        struct.pack_into(">I", header, 44, 4)  # schema format
        struct.pack_into(">I", header, 56, 1)  # UTF-8
        with open(copy, "r+b") as handle:
            handle.write(header)
        try:
            db = _damaged_text(sqlite3.connect(copy, isolation_level=None))
            try:
                db.execute("PRAGMA writable_schema=ON")
                names = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
            finally:
                db.close()
        except DB_ERRORS:
            continue
        if "queue" in names:
            return f"rebuilt its garbled header (page size {page_size})"
    with open(copy, "r+b") as handle:
        handle.write(original)
    return ""


def _sqlite3_recover(copy: Path, scratch: Path, notes: list[str]) -> Path | None:
    """Run the sqlite3 CLI's ``.recover`` into a new database; None when it is missing or fails."""
    cli = shutil.which("sqlite3")
    if cli is None:
        notes.append("no sqlite3 CLI for .recover (apt-get install sqlite3)")
        return None
    target = scratch / "recovered.sqlite3"
    try:
        dump = subprocess.Popen([cli, "-bail", str(copy), ".recover --ignore-freelist"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert dump.stdout is not None
        load = subprocess.Popen([cli, "-bail", str(target)], stdin=dump.stdout, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        dump.stdout.close()
        _, load_err = load.communicate(timeout=RECOVER_TIMEOUT_SECS)
        _, dump_err = dump.communicate(timeout=10)
    except (OSError, subprocess.TimeoutExpired) as err:
        with contextlib.suppress(NameError, OSError):
            dump.kill()
            load.kill()
        notes.append(f"sqlite3 .recover failed ({err})")
        return None
    if dump.returncode != 0 or load.returncode != 0:
        reason = (dump_err or load_err).decode("utf-8", "replace").strip().splitlines()
        notes.append(f"sqlite3 .recover failed ({reason[0][:120] if reason else 'exit status'}), read row by row "
                     "instead")
        return None
    return target


@dataclass
class _Read:
    """What could be read from the damaged file, beyond the rows copied."""

    meta: dict[str, int] = field(default_factory=dict)
    sequence: dict[str, int] = field(default_factory=dict)
    complete: dict[str, bool] = field(default_factory=dict)
    hooks: dict[int, Row] = field(default_factory=dict)
    damaged_events: int = 0  # rows read whose body is not their event (partly on a lost page)


@dataclass
class _Source:
    """Where the damaged spool is read from."""

    db: sqlite3.Connection | None = None  # SQLite's view of it (None: SQLite cannot open it)
    pages: Path | None = None  # a copy to scan page by page (None: there was no room for one)
    recovered: bool = False  # ``db`` is the output of sqlite3 .recover: complete as far as it goes


def _checkpoint(copy: Path) -> None:
    """Fold the copy's -wal into it, so a page scan sees the last committed pages (best effort)."""
    if not os.path.exists(f"{copy}-wal"):
        return
    with contextlib.suppress(*DB_ERRORS):
        db = sqlite3.connect(copy, isolation_level=None)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            db.close()


def _text_or_bytes(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data  # not text: the row's shape check (a str column) refuses it


def _damaged_text(db: sqlite3.Connection) -> sqlite3.Connection:
    """``db``, reading text that is not UTF-8 (a damaged page) as bytes instead of raising UnicodeDecodeError."""
    db.text_factory = _text_or_bytes
    return db


def _open_source(path: Path, scratch: Path, notes: list[str]) -> _Source:
    """Ways to read the damaged spool (from a copy of it where possible)."""
    copy = _copy_files(path, scratch)
    if copy is None:
        notes.append("no room for a scratch copy: read the damaged file in place, read-only")
        uri = file_uri(path, "ro")
    else:
        recovered = _sqlite3_recover(copy, scratch, notes)
        if recovered is not None:
            return _Source(_damaged_text(sqlite3.connect(recovered, isolation_level=None)), None, True)
        with open(copy, "rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                note = _repair_header(copy)
                if note:
                    notes.append(note)
        _checkpoint(copy)
        uri = file_uri(copy, "")
    try:
        db = _damaged_text(sqlite3.connect(uri, uri=True, isolation_level=None))
        db.execute("PRAGMA writable_schema=ON")  # read a truncated file up to its end instead of refusing it
        db.execute("PRAGMA query_only=ON")
        db.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except DB_ERRORS as err:
        notes.append(f"SQLite cannot read it ({err})")
        return _Source(None, copy)
    return _Source(db, copy)


def _build(source: _Source | None, target_path: Path, floor: Floor | None, report: RecoveryReport) -> None:
    """Write the fresh spool at ``target_path`` from ``source`` (None: an empty one)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target_path)
    target = sqlite3.connect(target_path, isolation_level=None)
    try:
        target.executescript(schema.SCHEMA)
        target.execute("CREATE UNIQUE INDEX recovery_dedupe ON queue (hook_id, event_id)")
        read = _Read()
        target.execute("BEGIN")
        methods = []
        if source is not None and source.db is not None:
            _copy_tables(source.db, target, read)
            methods.append("sqlite3 .recover" if source.recovered else "row by row")
        if source is not None and source.pages is not None and (source.db is None or not all(read.complete.values())):
            try:
                _scan_pages(source.pages, target, read)  # rows SQLite could not reach through a broken b-tree
            except Exception as err:  # noqa: BLE001 - a damaged file must not stop the start: keep what was read
                log.exception("The page scan of %s stopped", source.pages)
                report.notes.append(f"the page scan stopped ({type(err).__name__}: {err})")
            methods.append("page scan")
        report.method = " and ".join(methods) or "none"
        for url, hook_id in (floor.hooks.items() if floor else ()):  # the running pipeline's webhooks
            target.execute("INSERT OR IGNORE INTO hooks (hook_id, url) VALUES (?, ?)", (hook_id, url))
        orphans = target.execute("DELETE FROM queue WHERE hook_id NOT IN (SELECT hook_id FROM hooks)").rowcount
        target.execute("DELETE FROM dead WHERE hook_id NOT IN (SELECT hook_id FROM hooks)")
        if orphans:
            report.notes.append(f"{orphans} queued events belonged to webhooks whose record was lost: not recovered")
        report.events = int(target.execute("SELECT count(*) FROM queue").fetchone()[0])
        report.dead_letters = int(target.execute("SELECT count(*) FROM dead").fetchone()[0])
        report.webhooks = int(target.execute("SELECT count(*) FROM hooks").fetchone()[0])
        if read.damaged_events:
            report.notes.append(f"{read.damaged_events} events read with a damaged body were left out")
        damaged = sorted(table for table, complete in read.complete.items() if not complete)
        if damaged:
            report.notes.append(f"damaged tables: {', '.join(damaged)}")
        _estimate_lost(read, report)
        _set_counters(target, read, floor, report)
        target.execute("COMMIT")
        target.execute("DROP INDEX recovery_dedupe")
    finally:
        target.close()
    fd = os.open(target_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _whole_event(row: Row) -> bool:
    """True when a queue or dead row's body is the event its columns say (not zeros or garbage).

    A damaged file can hand back a row whose body lies partly on a lost page (SQLite reads a
    missing page as zeros): such an event is lost, not delivered half-written.
    """
    try:
        body = filereader.loads(row[7].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return False
    return isinstance(body, dict) and body.get("event") == row[4] and body.get("ts") == row[5]


def _insert(target: sqlite3.Connection, table: str, row: Row, read: _Read) -> None:
    if table in ("queue", "dead") and not _whole_event(row):
        read.damaged_events += 1
        return
    columns = TABLES[table]
    target.execute(f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                   row)


def _copy_tables(source: sqlite3.Connection, target: sqlite3.Connection, read: _Read) -> None:
    """Copy every row SQLite can read, table by table, by row id."""
    readers = {table: _TableReader(source, table) for table in TABLES}
    for table in ("hooks", "queue", "dead"):
        for row in readers[table].rows():
            _insert(target, table, row, read)
            if table == "hooks":
                read.hooks[row[0]] = row
    for row in readers["meta"].rows():
        read.meta[row[1]] = row[2]
    for row in readers["sqlite_sequence"].rows():
        read.sequence[row[1]] = row[2]
    for row in readers["requeue_requests"].rows():
        target.execute("INSERT OR IGNORE INTO requeue_requests (url, at) VALUES (?, ?)", row[1:])
    read.complete = {table: reader.complete for table, reader in readers.items()}


META_KEYS = frozenset({"next_seq", "retired"})
URL_SCHEMES = ("http://", "https://", "nats://", "tls://")  # a requeue request's webhook or NATS sink
SEQUENCES = frozenset(table.name for table in schema.TABLES if table.autoincrement)  # in sqlite_sequence


def _scan_pages(copy: Path, target: sqlite3.Connection, read: _Read) -> None:
    """Add the rows a page-by-page scan finds, told apart by their shape (``SHAPES``).

    The tables with an INTEGER PRIMARY KEY store it as NULL in the record: the row id is it.
    Counters only ever grow, so of two versions of one (a stale page) the larger is kept.
    """
    complete = dict(read.complete)
    for rowid, values in pagescan.scan(copy):
        if len(values) == 2:
            name, number = values
            if isinstance(name, str) and isinstance(number, int):
                if name in META_KEYS and not complete.get("meta"):
                    read.meta[name] = max(read.meta.get(name, 0), number)
                elif name in SEQUENCES and not complete.get("sqlite_sequence"):
                    read.sequence[name] = max(read.sequence.get(name, 0), number)
            if isinstance(name, str) and name.startswith(URL_SCHEMES) and isinstance(number, NUMBER):
                target.execute("INSERT OR IGNORE INTO requeue_requests (url, at) VALUES (?, ?)", (name, number))
            continue
        if not values or values[0] is not None:
            continue
        row = (rowid, *values[1:])
        for table in ("queue", "dead", "hooks"):
            shape = SHAPES[table]
            added = ADDED_COLUMNS.get(table, ())
            candidate = row
            if added and len(row) == len(shape) - len(added):  # a record stored before the columns existed
                candidate = (*row, *(default for _, default in added))
            if len(candidate) == len(shape) and all(isinstance(value, kinds) for value, kinds in zip(candidate, shape)):
                if table != "hooks" or not complete.get("hooks"):
                    _insert(target, table, candidate, read)
                    if table == "hooks":
                        read.hooks.setdefault(rowid, candidate)
                break


def _estimate_lost(read: _Read, report: RecoveryReport) -> None:
    """Queued events lost: rows ever queued - rows that left with a counter - rows recovered.

    Only when the counters were read whole; an estimate (events delivered from memory while
    the disk was full count as delivered without ever being queued, so it errs low).
    """
    if not (read.complete.get("hooks") and read.complete.get("meta") and read.complete.get("sqlite_sequence")):
        return
    if "queue" not in read.sequence:
        return
    left = sum(row[2] + row[4] + row[5] for row in read.hooks.values())
    report.lost = max(0, read.sequence["queue"] - left - read.meta.get("retired", 0) - report.events)


def _set_counters(target: sqlite3.Connection, read: _Read, floor: Floor | None, report: RecoveryReport) -> None:
    """next_seq, retired and the AUTOINCREMENT counters: never lower than the damaged file or the pipeline had."""
    highest_seq = target.execute("SELECT max(coalesce((SELECT max(seq) FROM queue), 0), "
                                 "coalesce((SELECT max(seq) FROM dead), 0))").fetchone()[0]
    next_seq = max(read.meta.get("next_seq", 1), int(highest_seq) + 1, floor.next_seq if floor else 1)
    if "next_seq" not in read.meta and floor is None:
        # Receivers order a node's events by sequence number: never go back. The time in ms is
        # above any number a node has used (that would take 1.7e12 events).
        next_seq = max(next_seq, int(time.time() * 1000))
        report.notes.append(f"the next sequence number was lost: numbering goes on from {next_seq} (the time "
                            "in ms, above any number used before)")
    target.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (next_seq,))
    if read.meta.get("retired"):
        target.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('retired', ?)", (read.meta["retired"],))
    lowest = {"queue": (floor.next_row_id - 1) if floor else 0,
              "hooks": max(floor.hooks.values(), default=0) if floor else 0}
    for table in sorted(SEQUENCES):
        key = schema.BY_NAME[table].row_id
        present = int(target.execute(f"SELECT coalesce(max({key}), 0) FROM {table}").fetchone()[0])
        value = max(read.sequence.get(table, 0), present, lowest.get(table, 0))
        if not target.execute("UPDATE sqlite_sequence SET seq=max(seq, ?) WHERE name=?", (value, table)).rowcount:
            target.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, value))


def recover(path: Path, problem: Problem, floor: Floor | None = None, stats: Stats | None = None) -> RecoveryReport:
    """Rebuild the spool at ``path`` from what can be read of it; see the module docstring.

    Returns the report (``replaced`` False when the damaged file could not be moved aside or
    the fresh spool could not be written: then nothing was changed). Never raises for a
    damaged file; logs at ERROR and counts in ``stats``.
    """
    sdnotify.notify(f"EXTEND_TIMEOUT_USEC={RECOVER_TIMEOUT_SECS * 2 * 1_000_000}\nSTATUS=Recovering the spool")
    report = RecoveryReport(path, problem)
    try:
        finish_interrupted(path)
    except OSError as err:  # then the rename below says what stands in the way
        log.error("Cannot finish an interrupted spool recovery next to %s: %s", path, err.strerror or err)
    scratch = _scratch_path(path)
    done = _done_path(path)
    tmp = done.with_name(done.name + ".tmp")
    source: _Source | None = None
    try:
        if stat.S_ISREG(_mode(path)):
            source = _open_source(path, scratch, report.notes)
        _build(source, tmp, floor, report)
        os.rename(tmp, done)
    except (OSError, *DB_ERRORS) as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        report.notes.append(f"could not write a fresh spool next to it ({getattr(err, 'strerror', None) or err})")
        return _unrecovered(report, stats)
    finally:
        if source is not None and source.db is not None:
            source.db.close()
        shutil.rmtree(scratch, ignore_errors=True)
    try:
        if os.path.lexists(path):
            report.moved_to = move_aside(path, COMPANIONS)
        else:
            for suffix in COMPANIONS:  # a -wal without its database must not meet the fresh spool
                with contextlib.suppress(FileNotFoundError):
                    move_aside(Path(f"{path}{suffix}"))
        os.rename(done, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(done)
        report.notes.append(f"it cannot be moved aside ({err.strerror or err})")
        return _unrecovered(report, stats)
    report.replaced = True
    if stats is not None:
        stats.add("spool_recoveries", "rebuilt")
        stats.add("spool_recovered_events", report.method, report.events)
        if report.lost:
            stats.add("spool_lost_events", problem.cause, report.lost)
    log.error("%s", report.summary())
    return report


def _mode(path: Path) -> int:
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


def _unrecovered(report: RecoveryReport, stats: Stats | None) -> RecoveryReport:
    if stats is not None:
        stats.add("spool_recoveries", "failed")
    log.error("The spool %s is unusable (%s: %s) and was left as it is: %s. Its events stay in it until it is "
              "fixed: make it writable (chattr -i, its owner and mode, free space), or move it away, then "
              "restart glustereventsd", report.path, report.problem.cause, report.problem.detail,
              "; ".join(report.notes))
    return report
