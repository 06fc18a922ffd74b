"""A real Gluster brick goes down and comes back: the Alertmanager sink fires, then resolves, in a real Alertmanager.

One node (tests/gluster/node.py) runs glusterd, a volume of one brick, our daemon and a real
Alertmanager, all in the node's namespaces. Killing the brick's ``glusterfsd`` makes glusterd
send BRICK_DISCONNECTED; ``gluster volume start VOL force`` starts it again and glusterd sends
BRICK_CONNECTED. The alert is read back from Alertmanager's own API on the node.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.alertmanager import BINARY, CONFIG
from tests.gluster.node import GlusterNode, skip_reason, wait_until

SKIP = skip_reason() or (None if BINARY else "prometheus-alertmanager is not installed")
pytestmark = [pytest.mark.skipif(SKIP is not None, reason=str(SKIP)), pytest.mark.timeout(240)]

ADDRESS = "10.211.0.1"
VOLUME = "gva"
BRICK_PATH = "/mnt/bricks/alert"
AM_PORT = 9093
AM = f"http://127.0.0.1:{AM_PORT}"
OUR_CLI = [sys.executable, "-m", "gluster_eventsapi"]
OUR_DAEMON = [sys.executable, "-m", "glustereventsd"]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GlusterNode]:
    folder = tmp_path_factory.mktemp("gluster-alerts")
    started = GlusterNode(folder).start()
    try:
        (folder / "alertmanager.yml").write_text(CONFIG)
        started.spawn("alertmanager", [str(BINARY), "--config.file", str(folder / "alertmanager.yml"),
                                       "--storage.path", str(folder / "am-data"),
                                       "--web.listen-address", f"127.0.0.1:{AM_PORT}",
                                       "--cluster.listen-address", ""])
        started.spawn("glusterd", ["glusterd", "-N"])
        wait_until(lambda: started.gluster("pool", "list").returncode == 0, 30, "glusterd to answer")
        for argv in (["webhook-add", AM, "--format", "alertmanager"], ["config-set", "alert-resend-secs", "5"]):
            done = started.run(OUR_CLI + argv)
            assert done.returncode == 0, done.stdout + done.stderr
        daemon = started.spawn("glustereventsd", OUR_DAEMON)
        log = folder / "state/log/glustereventsd.log"
        wait_until(lambda: (log.exists() and "glustereventsd started" in log.read_text()) or not daemon.alive(), 20,
                   "our daemon to start")
        assert daemon.alive(), started.output_of("glustereventsd")
        yield started
    finally:
        started.close()


def alerts(node: GlusterNode) -> list[dict[str, Any]]:
    """``GET /api/v2/alerts`` of the node's Alertmanager (only active alerts are listed)."""
    done = node.run([sys.executable, "-c", "import sys, urllib.request; "
                     f"sys.stdout.write(urllib.request.urlopen('{AM}/api/v2/alerts', timeout=5).read().decode())"])
    return list(json.loads(done.stdout)) if done.returncode == 0 else []


def brick_down(node: GlusterNode) -> list[dict[str, Any]]:
    return [a for a in alerts(node) if a["labels"].get("alertname") == "GlusterBrickDown"]


def event_log(node: GlusterNode) -> list[str]:
    """The lines of the daemon's events.log (every event it accepted, in order)."""
    path = node.folder / "state/log/events.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_killed_brick_fires_and_start_force_resolves(node: GlusterNode) -> None:
    node.run(["mkdir", "-p", BRICK_PATH])
    for argv in (["volume", "create", VOLUME, f"{ADDRESS}:{BRICK_PATH}", "force"], ["volume", "start", VOLUME]):
        done = node.gluster(*argv)
        assert done.returncode == 0, done.stdout + done.stderr
    pid = wait_until(lambda: node.run(["pgrep", "-f", f"glusterfsd.*{VOLUME}"]).stdout.split(), 30, "the brick process")
    assert not brick_down(node)  # glusterd's BRICK_CONNECTED at start opened nothing
    node.run(["kill", "-9", *pid])
    killed_at = len(event_log(node))
    (alert,) = wait_until(lambda: brick_down(node), 60, "GlusterBrickDown to fire")
    assert alert["labels"] == {"alertname": "GlusterBrickDown", "severity": "critical", "volume": VOLUME,
                               "brick": f"{ADDRESS}:{BRICK_PATH}"}
    assert alert["status"]["state"] == "active"
    done = node.run(OUR_CLI + ["conditions", "--json"])
    assert [c["alertname"] for c in json.loads(done.stdout)["output"]["conditions"]] == ["GlusterBrickDown"]
    # glusterd sends BRICK_CONNECTED once the restarted brick connects; a 'start force' that comes
    # while glusterd still handles the kill (seen once in a loaded CI run) may restart nothing and
    # send nothing, and an administrator then runs it again: so may the test, up to three times.
    for attempt in range(3):
        done = node.gluster("volume", "start", VOLUME, "force")
        assert done.returncode == 0, done.stdout + done.stderr
        try:
            wait_until(lambda: any('"BRICK_CONNECTED"' in line for line in event_log(node)[killed_at:]), 20,
                       "glusterd's BRICK_CONNECTED")
            break
        except AssertionError:
            if attempt == 2:
                raise
    wait_until(lambda: not brick_down(node), 60, "GlusterBrickDown to resolve")
    assert "Traceback" not in (node.folder / "state/log/glustereventsd.log").read_text()
