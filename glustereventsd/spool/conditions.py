"""Open conditions, kept in the spool: each turn's events open, close and sweep rows of the ``conditions`` table.

Runs inside the writer's transaction of the turn (``SpoolWriter.commit``), so a condition
is on disk exactly when the event that changed it is, and a restart or a reload finds it
again. What an event means comes from the catalog's table (``eventtypes.conditions``); the
rules (docs/CONDITIONS.md, "How a condition becomes an Alertmanager alert"):

- an opening event inserts the row, or refreshes an open one (``last_open_at``, the
  annotations, an expiry), or opens again one that was closed before the event's time;
- a closing event closes an open row (``closed_at`` = its time, never before it opened); a
  close for a row that is not open changes nothing;
- an alarm inserts or extends its row (``ends_at`` = time + duration);
- a sweep (an informational event, e.g. VOLUME_STOP) closes the open rows it matches;
- ``clear`` (``condition-clear``, through ``spool.admin``) closes the open rows an
  administrator chose, for a node that missed the closing event (``close_event`` ``CLEARED``);
  a later opening report, or a repeat of a cleared alarm, opens it again;
- rows over for ``KEEP_OVER_SECS`` (15 minutes: the Alertmanager sink re-sends a resolution
  that long) are deleted, at most once a minute.

Each node keeps the conditions its own daemon received; see docs/CONDITIONS.md for how the
same condition reported by several nodes becomes one alert.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping

from eventtypes import conditions as catalog
from glustereventsd.models import NewEvent

log = logging.getLogger("glustereventsd.conditions")

KEEP_OVER_SECS = 900.0  # a condition closed (an alarm ended) is kept this long, then deleted
PRUNE_EVERY_SECS = 60.0
CONDITION = "condition"
ALARM = "alarm"
#: The ``close_event`` of a row an administrator cleared (``condition-clear``).
CLEARED = "CLEARED"
# The names that may change a row: one lookup per event keeps the others (most of them) cheap.
RELEVANT = frozenset(name for name, (kind, _) in catalog.TABLE.items() if kind != catalog.INFO) | frozenset(
    catalog.SWEEPS)


def _json(value: Mapping[str, str]) -> str:
    return json.dumps(dict(value), sort_keys=True, ensure_ascii=False)


def apply(db: sqlite3.Connection, events: Iterable[NewEvent]) -> int:
    """Inside a transaction: apply the turn's events to the ``conditions`` table; return the rows changed."""
    changed = 0
    for event in events:
        if event.name not in RELEVANT:
            continue
        try:
            body = json.loads(event.body)
        except ValueError:
            continue
        if not isinstance(body, dict):
            continue
        outcome = catalog.evaluate(event.name, body.get("message"), body.get("nodeid"))
        changed += _apply_one(db, outcome, float(event.ts), str(body.get("nodeid") or ""), event.event_id)
    return changed


def _apply_one(db: sqlite3.Connection, outcome: catalog.Outcome, ts: float, nodeid: str, event_id: str) -> int:
    if outcome.sweep is not None:
        alertnames, match = outcome.sweep
        closed = 0
        marks = ",".join("?" * len(alertnames))
        for key, labels_text, opened_at in db.execute(
                f"SELECT key, labels, opened_at FROM conditions WHERE kind=? AND closed_at=0 AND alertname IN ({marks})",
                (CONDITION, *alertnames)).fetchall():
            labels = json.loads(labels_text)
            if all(labels.get(name) == value for name, value in match.items()):
                db.execute("UPDATE conditions SET closed_at=?, close_event=? WHERE key=?",
                           (max(ts, opened_at), outcome.event, key))
                closed += 1
        return closed
    if not outcome.key:
        return 0
    row = db.execute("SELECT opened_at, closed_at, ends_at FROM conditions WHERE key=?", (outcome.key,)).fetchone()
    labels, annotations = _json(outcome.labels), _json(outcome.annotations)
    if outcome.kind == catalog.OPENS:
        expiry = ts + outcome.expires_secs if outcome.expires_secs else 0.0
        if row is None:
            db.execute("INSERT INTO conditions (key, alertname, kind, labels, annotations, opened_at, last_open_at, "
                       "closed_at, ends_at, open_event, close_event, nodeid, open_id) "
                       "VALUES (?,?,?,?,?,?,?,0,?,?,'',?,?)",
                       (outcome.key, outcome.alertname, CONDITION, labels, annotations, ts, ts, expiry,
                        outcome.event, nodeid, event_id))
            return 1
        opened_at, closed_at, ends_at = row
        expired = bool(ends_at) and ends_at <= ts
        if closed_at or expired:
            if closed_at and ts < closed_at:
                return 0  # an older report than the close (delivered late): it stays closed
            db.execute("UPDATE conditions SET opened_at=?, last_open_at=?, closed_at=0, close_event='', ends_at=?, "
                       "annotations=?, open_event=?, nodeid=?, open_id=? WHERE key=?",
                       (ts, ts, expiry, annotations, outcome.event, nodeid, event_id, outcome.key))
            return 1
        db.execute("UPDATE conditions SET last_open_at=max(last_open_at, ?), ends_at=?, annotations=? WHERE key=?",
                   (ts, expiry, annotations, outcome.key))
        return 1
    if outcome.kind == catalog.CLOSES:
        if row is None or row[1]:
            return 0  # not open here: glusterd reports BRICK_CONNECTED for every brick it starts
        db.execute("UPDATE conditions SET closed_at=?, close_event=? WHERE key=?",
                   (max(ts, row[0]), outcome.event, outcome.key))
        return 1
    if outcome.kind == catalog.ALARM:
        ends = ts + (outcome.duration_secs or 0)
        # New, or the previous one is over (or was cleared before this report): a new alarm.
        if row is None or row[2] <= ts or (row[1] and row[1] <= ts):
            db.execute("INSERT OR REPLACE INTO conditions (key, alertname, kind, labels, annotations, opened_at, "
                       "last_open_at, closed_at, ends_at, open_event, close_event, nodeid, open_id) "
                       "VALUES (?,?,?,?,?,?,?,0,?,?,'',?,?)",
                       (outcome.key, outcome.alertname, ALARM, labels, annotations, ts, ts, ends, outcome.event,
                        nodeid, event_id))
        else:
            db.execute("UPDATE conditions SET last_open_at=max(last_open_at, ?), ends_at=max(ends_at, ?), "
                       "annotations=? WHERE key=?", (ts, ends, annotations, outcome.key))
        return 1
    return 0


def prune(db: sqlite3.Connection, now: float) -> int:
    """Inside a transaction: delete what has been over for ``KEEP_OVER_SECS``; return how many rows."""
    limit = now - KEEP_OVER_SECS
    return int(db.execute("DELETE FROM conditions WHERE (closed_at > 0 AND closed_at < ?) "
                          "OR (ends_at > 0 AND ends_at < ?)", (limit, limit)).rowcount)


def clear(db: sqlite3.Connection, alertname: str, labels: Mapping[str, str], key: str,
          now: float) -> list[dict[str, object]]:
    """Inside a transaction: close every condition and alarm open at ``now`` that matches (its
    ``key`` if given, its ``alertname`` if given, and every one of ``labels``); return each one
    closed as ``{"key", "alertname", "labels"}``.

    For a node that missed a closing event (its daemon was down): the row is closed at ``now``
    with ``close_event`` ``CLEARED``, so the Alertmanager sinks post its resolution and it leaves
    the gauge and ``conditions``, as if the closing event had come.
    """
    cleared: list[dict[str, object]] = []
    for row_key, row_alertname, labels_text, opened_at in db.execute(
            "SELECT key, alertname, labels, opened_at FROM conditions "
            "WHERE closed_at=0 AND (ends_at=0 OR ends_at>?) ORDER BY opened_at, key", (now,)).fetchall():
        if (key and row_key != key) or (alertname and row_alertname != alertname):
            continue
        try:
            row_labels = json.loads(labels_text)
        except ValueError:
            row_labels = {}
        if not isinstance(row_labels, dict) or any(row_labels.get(k) != v for k, v in labels.items()):
            continue
        db.execute("UPDATE conditions SET closed_at=?, close_event=? WHERE key=?",
                   (max(now, opened_at), CLEARED, row_key))
        cleared.append({"key": row_key, "alertname": row_alertname, "labels": row_labels})
    return cleared
