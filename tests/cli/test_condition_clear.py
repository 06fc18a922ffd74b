"""``gluster-eventsapi condition-clear``: a condition whose closing event a node missed is closed by hand.

Real processes: the daemon, a real Alertmanager (Debian's, tests/alertmanager.py) read back
through its API, and the metrics endpoint scraped over HTTP. The daemon is stopped while
BRICK_CONNECTED comes, so its condition stays open as in the field; then the CLI clears it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eventtypes.emit import gf_event
from glustereventsd.base.paths import resolve_paths
from glustereventsd.spool import admin
from tests.alertmanager import BINARY, Alertmanager, free_tcp_port
from tests.cli.conftest import local_cli
from tests.helpers import DaemonProcess, free_udp_port, wait_for
from tests.integration.test_metrics import scrape

BRICK = {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"}
GAUGE = "gluster_events_condition_open"


def gauge(port: int) -> list[dict[str, str]]:
    return [dict(labels) for (name, labels), _ in scrape(port).items() if name == GAUGE]


@pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed")
def test_a_condition_whose_close_was_missed_is_cleared_everywhere(tmp_path: Path) -> None:
    root = tmp_path / "root"
    run = local_cli(root, shipped_defaults=True)
    am = Alertmanager(tmp_path / "am").start()
    daemon = DaemonProcess(root, free_udp_port())
    metrics_port = free_tcp_port()
    # The longest re-send period: a resolution seen within seconds came from the clear, not the timer.
    daemon.write_config({"alert-resend-secs": 3600, "metrics-port": metrics_port})
    daemon.write_webhooks({am.url: {"format": "alertmanager"}})
    try:
        daemon.start()
        gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
        gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
        wait_for(lambda: len(am.alerts()) == 2, what="both alerts fire")
        daemon.stop()
        gf_event("BRICK_CONNECTED", port=daemon.port, **BRICK)  # nobody listens: the close is lost
        daemon.start()
        time.sleep(1)
        assert am.alerts(alertname="GlusterBrickDown"), "still firing: the daemon never saw the close"
        assert len(gauge(metrics_port)) == 2

        status, out, err = run("condition-clear", "GlusterBrickDown", "brick=server2:/bricks/b1")
        assert status == 0, out + err
        assert [line.split("|")[3].strip() for line in out.splitlines() if line.startswith("| localhost")] == ["1"], out
        assert "Cleared GlusterBrickDown brick=server2:/bricks/b1, volume=gv0 (on" in out
        assert "Traceback" not in out + err
        # Alertmanager gets the resolution now (endsAt = the clear), not at the next re-send an hour away.
        wait_for(lambda: not am.alerts(alertname="GlusterBrickDown"), timeout=10, what="alert resolved")
        assert am.alerts(alertname="GlusterServerQuorumLost"), "only the chosen condition is cleared"
        wait_for(lambda: [g["condition"] for g in gauge(metrics_port)] == ["GlusterServerQuorumLost"],
                 what="gone from the gauge")
        found = json.loads(run("conditions", "--json")[1])["output"]["conditions"]
        assert [c["alertname"] for c in found] == ["GlusterServerQuorumLost"]
        status, out, _ = run("conditions", "--all")
        assert "(CLEARED)" in out
        (row,) = [r for r in admin.read_conditions(resolve_paths({"GLUSTER_EVENTS_ROOT": str(root)}).spool_file)
                  if r.alertname == "GlusterBrickDown"]
        assert row.close_event == "CLEARED" and abs(row.closed_at - time.time()) < 30

        # Nothing left that matches: a clear message and exit 1, never a traceback.
        status, out, err = run("condition-clear", "GlusterBrickDown", "brick=server2:/bricks/b1")
        assert status == 1 and not out
        assert "No open condition matches 'GlusterBrickDown brick=server2:/bricks/b1' on any node" in err
        assert "'gluster-eventsapi conditions' lists the open ones" in err
        status, out, err = run("condition-clear", "--json", "volume=nope")
        assert status == 1 and json.loads(out)["error"].startswith("No open condition matches")

        # The key, as 'conditions --json' shows it, chooses exactly one; --json gives the count per node.
        status, out, err = run("condition-clear", "--json", found[0]["key"])
        assert status == 0, err
        (node_row,) = json.loads(out)["output"]
        assert node_row["cleared"] == 1 and node_row["node_status"] == "UP"
        wait_for(lambda: not am.alerts(), timeout=10, what="the quorum alert resolved too")
        # A new report after the clear opens the condition again.
        gf_event("BRICK_DISCONNECTED", port=daemon.port, ts=int(time.time()) + 1, **BRICK)
        wait_for(lambda: am.alerts(alertname="GlusterBrickDown"), what="fires again")
    finally:
        daemon.stop()
        am.stop()


def test_bad_selections_get_a_clear_message(tmp_path: Path) -> None:
    run = local_cli(tmp_path / "root", shipped_defaults=True)
    cases = {
        ("GlusterBrikDown",): "no condition is called 'GlusterBrikDown'",
        ("GlusterBrickDown", "GlusterPeerDisconnected"): "one alert name at most",
        ("volume=",): "give a label as name=value",
        ("9x=1",): "give a label as name=value",
        ("volume=a", "volume=b"): "label volume is already given as 'a'",
        ('GlusterBrickDown{brick="x"}', "volume=gv0"): "a condition's key is given alone and whole",
    }
    for argv, message in cases.items():
        status, out, err = run("condition-clear", *argv)
        assert status == 1 and message in err and "Traceback" not in err, (argv, err)
    # Odd arguments are shown escaped, on one line, and cut: not a 20,000-character error.
    status, out, err = run("condition-clear", "a" * 20_000)
    assert status == 1 and "(and 19940 more characters)" in err and len(err) < 600, err[:300]
    status, out, err = run("condition-clear", "bad\nname")
    assert status == 1 and "error: 'bad\\nname': no condition is called 'bad\\nname'" in err, err
    status, out, err = run("condition-clear")
    assert status == 2 and "the following arguments are required" in err
    # A node whose daemon never ran has no spool: nothing matches anywhere.
    status, out, err = run("condition-clear", "volume=gv0")
    assert status == 1 and "No open condition matches 'volume=gv0'" in err
    status, out, _ = run("condition-clear", "--help")
    assert status == 0 and "ALERTNAME|LABEL=VALUE|KEY" in out and "brick=server2:/bricks/b1" in out


def test_a_node_that_cleared_but_could_not_reload_says_it_cleared(tmp_path: Path) -> None:
    """The clear is written before the reload: a failed reload must not read as 'nothing cleared'."""
    root = tmp_path / "root"
    run = local_cli(root, shipped_defaults=True)
    daemon = DaemonProcess(root, free_udp_port())
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(root)})
    try:
        daemon.start()
        gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
        wait_for(lambda: admin.read_conditions(paths.spool_file), what="the condition opened")
        # A careless administrator overwrote the pid file the daemon holds: it cannot be signalled.
        (pid_file,) = [p for p in paths.pid_files() if p.exists()]
        with open(pid_file, "r+") as handle:
            handle.write("garbage\n")
        status, out, err = run("condition-clear", "GlusterBrickDown")
        assert status == 3, out + err
        assert "cleared 1, but glustereventsd holds its pid file but the pid in it is unreadable" in out
        assert "Cleared GlusterBrickDown brick=server2:/bricks/b1, volume=gv0 (on localhost)" in out, out
        assert "Nothing cleared" not in out
        assert "Not reloaded on localhost" in out
        assert [r.close_event for r in admin.read_conditions(paths.spool_file)] == ["CLEARED"]
    finally:
        daemon.stop()


@pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed")
def test_an_alarm_delivered_late_after_its_clear_does_not_fire_again(tmp_path: Path) -> None:
    """Hostile review: Alertmanager is down when an alarm comes and when it is cleared; when it is
    back, the alarm's own post (retried) must say what the spool says, cleared, as a condition's does,
    not fire again for its whole duration or until the next re-send."""
    root = tmp_path / "root"
    run = local_cli(root, shipped_defaults=True)
    am = Alertmanager(tmp_path / "am").start()
    am.stop()
    daemon = DaemonProcess(root, free_udp_port())
    daemon.write_config({"alert-resend-secs": 3600, "retry-min-backoff-secs": 0.2, "retry-max-backoff-secs": 0.5})
    daemon.write_webhooks({am.url: {"format": "alertmanager"}})
    try:
        daemon.start()
        gf_event("AFR_SPLIT_BRAIN", port=daemon.port, subvol="gv0-replicate-0", type="data", file="/f")
        spool = resolve_paths({"GLUSTER_EVENTS_ROOT": str(root)}).spool_file
        wait_for(lambda: admin.read_conditions(spool), what="the alarm in the spool")
        status, out, err = run("condition-clear", "GlusterAfrSplitBrain")
        assert status == 0, out + err
        time.sleep(1)  # the reload's re-send failed: nobody listens
        am.start()

        def delivered() -> int:
            (node,) = json.loads(run("webhook-status", "--json")[1])["output"]
            return int(node["webhooks"][0]["delivered"])

        wait_for(lambda: delivered() == 1, timeout=20, what="the alarm's event delivered")
        time.sleep(1)
        assert not am.alerts(alertname="GlusterAfrSplitBrain"), "the cleared alarm fires again"
    finally:
        daemon.stop()
        am.stop()
