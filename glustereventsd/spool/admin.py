"""The CLI's view of a node's spool: ``webhook-status``, ``webhook-redeliver``, ``conditions`` and ``condition-clear``.

``read_status`` and ``list_dead`` read the file (read-only, while the daemon runs);
``request_requeue`` asks the running daemon to re-queue a webhook's dead letters, and
``requeue_dead`` moves them itself when no daemon runs. ``read_conditions`` reads the open
conditions and ``clear_conditions`` closes chosen ones. The CLI imports this module and no
other of the spool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from glustereventsd.spool import conditions, schema
from glustereventsd.spool.db import connect, transaction
from glustereventsd.spool.records import ConditionRow
from glustereventsd.spool.writer import move_dead_to_queue


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
            return move_dead_to_queue(db, url)
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


def read_conditions(path: Path) -> list[ConditionRow]:
    """Every condition and alarm of a spool's ``conditions`` table (open, and over in the last 15
    minutes); [] when the daemon never ran here or its spool predates the table."""
    if not path.exists():
        return []
    db = connect(path, readonly=True)
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='conditions'").fetchone():
            return []
        columns = ", ".join(ConditionRow._fields)
        return [ConditionRow(*row) for row in db.execute(f"SELECT {columns} FROM conditions ORDER BY opened_at, key")]
    finally:
        db.close()


def clear_conditions(path: Path, alertname: str, labels: dict[str, str], key: str,
                     now: float | None = None) -> list[dict[str, object]]:
    """Close the open conditions and alarms that match (``spool.conditions.clear``); return them.

    Written straight into the file, running daemon or not: the daemon keeps no copy of the table
    in memory (its writer, its Alertmanager sinks and its gauge read it each time), and SQLite
    orders this transaction with the writer's. [] when the daemon never ran here.
    """
    if not path.exists():
        return []
    db = connect(path)
    try:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='conditions'").fetchone():
            return []
        with transaction(db):
            return conditions.clear(db, alertname, labels, key, time.time() if now is None else now)
    finally:
        db.close()
