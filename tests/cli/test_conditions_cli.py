"""``gluster-eventsapi conditions``: the pool's open conditions, from a real daemon's spool, and how nodes' reports merge."""

from __future__ import annotations

import json
from pathlib import Path

from eventtypes.emit import gf_event
from gluster_eventsapi.pool.conditions import merge
from gluster_eventsapi.pool.fanout import LOCAL_NAME as NODE
from tests.cli.conftest import local_cli
from tests.helpers import DaemonProcess, free_udp_port, wait_for

BRICK = {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"}


def test_conditions_lists_what_the_daemon_saw_open_then_closed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run = local_cli(root, shipped_defaults=True)
    status, out, err = run("conditions")
    assert status == 0 and "No Gluster condition is open" in out, err  # the daemon never ran: no spool
    daemon = DaemonProcess(root, free_udp_port()).start()  # no destination at all: conditions are kept anyway
    try:
        gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
        gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
        gf_event("VOLUME_CREATE", port=daemon.port, name="gv2")

        def listed() -> list[dict[str, object]] | None:
            code, text, _ = run("conditions", "--json")
            found = json.loads(text)["output"]["conditions"]
            return found if code == 0 and len(found) == 2 else None

        found = wait_for(listed, what="two open conditions")
        assert [c["alertname"] for c in found] == ["GlusterBrickDown", "GlusterServerQuorumLost"]
        assert found[0]["labels"] == {"alertname": "GlusterBrickDown", "severity": "critical", "volume": "gv0",
                                      "brick": "server2:/bricks/b1"}
        assert found[0]["state"] == "open" and found[0]["open_on"] == [NODE]
        status, out, _ = run("conditions")
        assert status == 0
        assert "GlusterBrickDown" in out and "brick=server2:/bricks/b1, volume=gv0" in out and "open" in out
        gf_event("BRICK_CONNECTED", port=daemon.port, **BRICK)
        wait_for(lambda: len(json.loads(run("conditions", "--json")[1])["output"]["conditions"]) == 1,
                 what="the brick closed")
        status, out, _ = run("conditions", "--all")
        assert "over" in out and "(BRICK_CONNECTED)" in out
    finally:
        daemon.stop()


def test_reports_of_several_nodes_merge_into_one_open_while_any_holds_it() -> None:
    def report(opened: float, closed: float = 0.0) -> dict[str, object]:
        return {"key": "GlusterPeerDisconnected{peer_uuid=\"u2\"}", "alertname": "GlusterPeerDisconnected",
                "kind": "condition", "labels": {"severity": "critical", "peer_uuid": "u2"}, "summary": "s",
                "opened_at": opened, "closed_at": closed, "ends_at": 0.0, "close_event": "PEER_CONNECT" if closed else ""}

    (one,) = merge([("A", [report(100.0)]), ("C", [report(90.0)])], 1000.0, False)
    assert (one["open_on"], one["since"], one["state"]) == (["A", "C"], 90.0, "open")
    (one,) = merge([("A", [report(100.0, 200.0)]), ("C", [report(90.0)])], 1000.0, False)
    assert (one["open_on"], one["over_on"], one["state"]) == (["C"], ["A"], "open")
    assert merge([("A", [report(100.0, 200.0)]), ("C", [report(90.0, 300.0)])], 1000.0, False) == []
    (over,) = merge([("A", [report(100.0, 200.0)]), ("C", [report(90.0, 300.0)])], 1000.0, True)
    assert (over["state"], over["closed_at"], over["close_event"]) == ("over", 300.0, "PEER_CONNECT")
