"""A GLUSTER_EVENTS_ROOT with a space, ``?``, ``#`` or ``%`` in it (hostile review of issue 21).

SQLite opens some connections to the spool by URI (read-only readers, the checkpoint thread,
the start-up check). A path pasted into ``file:...`` as is loses everything after a ``?`` or
``#`` and has its ``%41`` read as ``A``: the readers then opened (and SQLite created) another
file, outside the root, and the daemon delivered nothing. Real daemon, real receiver, real CLI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eventtypes.emit import gf_event
from glustereventsd.base.paths import resolve_paths
from glustereventsd.spool import admin, db, startup
from tests.cli.conftest import local_cli
from tests.helpers import DaemonProcess, Receiver, free_udp_port, wait_for

ODD_NAMES = ["a b?c#d%41e", "100%", "x#1", "q?mode=ro"]


@pytest.mark.parametrize("name", ["a b?c#d%41e", "q?mode=ro"])
def test_a_root_with_uri_characters_works_end_to_end(tmp_path: Path, name: str) -> None:
    base = tmp_path / "base"
    root = base / name
    run = local_cli(root, shipped_defaults=True)
    receiver = Receiver()
    daemon = DaemonProcess(root, free_udp_port())
    daemon.write_webhooks({receiver.url: {}})
    try:
        daemon.start()
        gf_event("BRICK_DISCONNECTED", port=daemon.port, peer="s2", volume="gv0", brick="/b1")
        wait_for(lambda: receiver.count() == 1, what="the event delivered")

        def delivered() -> int:
            status, out, err = run("webhook-status", "--json")
            assert status == 0, out + err
            (node,) = json.loads(out)["output"]
            return int(node["webhooks"][0]["delivered"])

        wait_for(lambda: delivered() == 1, what="webhook-status reads the spool")
        status, out, err = run("conditions", "--json")
        assert status == 0 and [c["alertname"] for c in json.loads(out)["output"]["conditions"]] == [
            "GlusterBrickDown"], out + err
        status, out, err = run("condition-clear", "GlusterBrickDown")
        assert status == 0, out + err
        spool = resolve_paths({"GLUSTER_EVENTS_ROOT": str(root)}).spool_file
        assert [r.close_event for r in admin.read_conditions(spool)] == ["CLEARED"]
        time.sleep(1.5)  # a checkpoint ran (CHECKPOINT_SECS after the commits)
        assert "Could not checkpoint" not in daemon.log_text()
        assert "Cannot read the spool" not in daemon.log_text(), daemon.log_text()[-2000:]
    finally:
        daemon.stop()
        receiver.stop()
    # Nothing made outside the root (SQLite creates the file a cut URI names).
    assert sorted(p.name for p in base.iterdir()) == [name]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_connect_opens_the_file_named_by_its_path(tmp_path: Path, name: str) -> None:
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "spool.sqlite3"
    writer = db.connect(path)
    writer.execute("CREATE TABLE t (x)")
    writer.execute("INSERT INTO t VALUES (1)")
    try:
        for connection in (db.connect(path, readonly=True), db.connect(path, create=False)):
            try:
                assert connection.execute("SELECT x FROM t").fetchall() == [(1,)]
            finally:
                connection.close()
    finally:
        writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("name", ["a?b", "c#d"])
def test_a_damaged_spool_in_such_a_folder_is_diagnosed_and_rebuilt(tmp_path: Path, name: str) -> None:
    from tests.unit.test_spool_recovery import make_spool, rows_of

    folder = tmp_path / name
    folder.mkdir()
    path = folder / "spool.sqlite3"
    queued = make_spool(path, 4000)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek((size // 2) // 4096 * 4096)
        handle.write(b"\xff" * 3 * 4096)  # three pages of the queue's b-tree
    problem = startup.diagnose(path)
    assert problem is not None and problem.cause == "corrupt", problem
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is not None and len(rows_of(path)) > len(queued) // 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
