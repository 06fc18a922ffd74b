"""The conditions table as the spool's writer keeps it: each turn's events open, close, sweep and prune rows."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from glustereventsd.models import NewEvent
from glustereventsd.spool import conditions
from glustereventsd.spool.reader import SpoolReader
from glustereventsd.spool.writer import SpoolWriter

BRICK = {"peer": "h2", "volume": "gv0", "brick": "/b1"}
KEY = 'GlusterBrickDown{brick="h2:/b1",volume="gv0"}'


T = int(time.time()) - 1000  # event times near now: rows over for 15 minutes are pruned with a commit


def event(writer: SpoolWriter, event_name: str, ts: int, **message: Any) -> NewEvent:
    ts += T
    body = json.dumps({"nodeid": "n1", "ts": ts, "event": event_name, "message": message}).encode()
    return NewEvent(f"msg_{writer.next_seq}", writer.take_seq(), event_name, ts, float(ts), body)


def turn(writer: SpoolWriter, *events: NewEvent) -> None:
    writer.commit([], [], [], [], list(events))  # queued for no webhook: the table changes all the same


def rows(path: Path) -> dict[str, Any]:
    reader = SpoolReader(path)
    try:
        return {row.key: row for row in reader.conditions()}
    finally:
        reader.close()


def test_open_refresh_close_and_a_close_for_nothing(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer = SpoolWriter(path)
    turn(writer, event(writer, "BRICK_CONNECTED", 90, **BRICK))  # not open: nothing
    assert rows(path) == {}
    turn(writer, event(writer, "BRICK_DISCONNECTED", 100, **BRICK), event(writer, "VOLUME_CREATE", 101, name="x"))
    (row,) = rows(path).values()
    assert (row.key, row.opened_at, row.closed_at, row.open_event, row.nodeid) == (
        KEY, T + 100, 0, "BRICK_DISCONNECTED", "n1")
    assert json.loads(row.labels)["alertname"] == "GlusterBrickDown"
    turn(writer, event(writer, "BRICK_DISCONNECTED", 110, **BRICK))  # again while open: same start
    assert (rows(path)[KEY].opened_at, rows(path)[KEY].last_open_at) == (T + 100, T + 110)
    turn(writer, event(writer, "BRICK_CONNECTED", 95, **BRICK))  # a clock behind: never before it opened
    assert (rows(path)[KEY].closed_at, rows(path)[KEY].close_event) == (T + 100, "BRICK_CONNECTED")
    turn(writer, event(writer, "BRICK_DISCONNECTED", 99, **BRICK))  # older than the close: stays closed
    assert rows(path)[KEY].closed_at == T + 100
    turn(writer, event(writer, "BRICK_DISCONNECTED", 200, **BRICK))  # opens again
    assert (rows(path)[KEY].opened_at, rows(path)[KEY].closed_at) == (T + 200, 0)
    writer.close()


def test_a_sweep_closes_what_it_matches_and_alarms_extend(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer = SpoolWriter(path)
    turn(writer, event(writer, "BRICK_DISCONNECTED", 100, **BRICK),
         event(writer, "BRICK_DISCONNECTED", 100, peer="h2", volume="gv9", brick="/b9"),
         event(writer, "AFR_SPLIT_BRAIN", 100, subvol="gv0-replicate-0", type="data", file="/f"))
    turn(writer, event(writer, "VOLUME_STOP", 150, name="gv0"))
    by_volume = {json.loads(r.labels).get("volume"): r for r in rows(path).values() if r.kind == "condition"}
    assert (by_volume["gv0"].closed_at, by_volume["gv0"].close_event) == (T + 150, "VOLUME_STOP")
    assert by_volume["gv9"].closed_at == 0
    (alarm,) = [r for r in rows(path).values() if r.kind == "alarm"]
    turn(writer, event(writer, "AFR_SPLIT_BRAIN", 500, subvol="gv0-replicate-0", type="data", file="/f"))
    again = rows(path)[alarm.key]
    assert (again.opened_at, again.ends_at) == (T + 100, T + 500 + alarm.ends_at - (T + 100))
    # Pruned once over for 15 minutes (at most once a minute, with a commit).
    db = writer.db
    assert conditions.prune(db, T + 150 + conditions.KEEP_OVER_SECS + 1) == 1
    writer.close()


def test_a_message_that_is_not_what_gluster_sends_changes_nothing_and_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer = SpoolWriter(path)
    broken = [NewEvent("m1", 1, "BRICK_DISCONNECTED", 1, 1.0, b"not json"),
              NewEvent("m2", 2, "BRICK_DISCONNECTED", 1, 1.0, b"[1]"),
              NewEvent("m3", 3, "BRICK_DISCONNECTED", 1, 1.0, b'{"message": "x"}')]
    turn(writer, *broken)
    assert [json.loads(r.labels)["brick"] for r in rows(path).values()] == ["unknown"]  # evaluate's "unknown"
    writer.close()


def test_clear_closes_only_what_matches_and_a_later_report_opens_it_again(tmp_path: Path) -> None:
    from glustereventsd.spool import admin

    path = tmp_path / "spool.sqlite3"
    assert admin.clear_conditions(path, "", {"volume": "gv0"}, "", T) == []  # no spool yet
    writer = SpoolWriter(path)
    split_brain = {"subvol": "gv0-replicate-0", "type": "data", "file": "/f"}
    turn(writer, event(writer, "BRICK_DISCONNECTED", 100, **BRICK),
         event(writer, "BRICK_DISCONNECTED", 101, peer="h3", volume="gv0", brick="/b2"),
         event(writer, "QUORUM_LOST", 102, volume="gv1"), event(writer, "AFR_SPLIT_BRAIN", 103, **split_brain))
    now = T + 300
    # Every given thing must match: the alert name and each label.
    assert admin.clear_conditions(path, "GlusterBrickDown", {"volume": "gv1"}, "", now) == []
    assert admin.clear_conditions(path, "", {"brick": "h2:/b1", "volume": "gv9"}, "", now) == []
    (cleared,) = admin.clear_conditions(path, "GlusterBrickDown", {"brick": "h2:/b1"}, "", now)
    assert (cleared["key"], cleared["alertname"], cleared["labels"]["volume"]) == (KEY, "GlusterBrickDown", "gv0")
    assert (rows(path)[KEY].closed_at, rows(path)[KEY].close_event) == (now, conditions.CLEARED)
    assert admin.clear_conditions(path, "", {}, KEY, now + 1) == []  # closed already: nothing to clear
    # By key, and by a label shared by several (one alarm among them).
    assert [c["alertname"] for c in admin.clear_conditions(path, "", {"volume": "gv0"}, "", now)] == [
        "GlusterBrickDown", "GlusterAfrSplitBrain"]
    assert [c["key"] for c in admin.clear_conditions(path, "", {}, 'GlusterServerQuorumLost{volume="gv1"}', now)] == [
        'GlusterServerQuorumLost{volume="gv1"}']
    assert all(row.closed_at for row in rows(path).values())
    # An alarm over by its own end is not open: a clear leaves it alone.
    turn(writer, event(writer, "AFR_SPLIT_BRAIN", 104, subvol="gv5-replicate-0", file="/g"))
    assert admin.clear_conditions(path, "GlusterAfrSplitBrain", {"volume": "gv5"}, "", T + 104 + 86400 + 1) == []
    # Reports newer than the clear open the condition and re-raise the alarm; older ones do not.
    turn(writer, event(writer, "BRICK_DISCONNECTED", 299, **BRICK), event(writer, "AFR_SPLIT_BRAIN", 299, **split_brain))
    assert all(row.closed_at for key, row in rows(path).items() if "gv5" not in key)
    turn(writer, event(writer, "BRICK_DISCONNECTED", 400, **BRICK), event(writer, "AFR_SPLIT_BRAIN", 400, **split_brain))
    reopened = {row.alertname: row for row in rows(path).values() if not row.closed_at and "gv5" not in row.key}
    assert sorted(reopened) == ["GlusterAfrSplitBrain", "GlusterBrickDown"]
    assert reopened["GlusterBrickDown"].opened_at == reopened["GlusterAfrSplitBrain"].opened_at == T + 400
    assert reopened["GlusterAfrSplitBrain"].ends_at == T + 400 + 86400
    writer.close()
