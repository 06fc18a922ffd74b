"""The 3-node pool and a real Alertmanager: one condition seen by two nodes is one alert, resolved when both see it end.

node3's glusterd is killed: node1 and node2 each report PEER_DISCONNECT about it, and each
node's daemon posts the condition with the same labels (``peer_uuid``), so Alertmanager holds
one alert. node3's glusterd comes back: both report PEER_CONNECT and the alert resolves.
Alertmanager runs in the pool's bridge namespace, where every node reaches it as ``monitor``.
"""

from __future__ import annotations

import json
import subprocess
import sysconfig
import urllib.request
from pathlib import Path
from typing import Any

from tests.alertmanager import BINARY, CONFIG, free_tcp_port
from tests.helpers import wait_for
from tests.namespaces import run_in_netns
from tests.realpool.harness import BRIDGE_ADDRESS, MONITOR, GlusterPool


def test_a_peer_down_for_two_nodes_is_one_alert_resolved_when_it_is_back(gpool: GlusterPool) -> None:
    assert BINARY, "prometheus-alertmanager is not installed (.ci/run installs it)"
    folder = gpool.base / "alertmanager"
    folder.mkdir()
    (folder / "alertmanager.yml").write_text(CONFIG)
    port = run_in_netns(gpool.bridge_ns, free_tcp_port)
    with open(folder / "alertmanager.out", "ab") as out:
        am = subprocess.Popen(["ip", "netns", "exec", gpool.bridge_ns, BINARY, "--config.file",
                               str(folder / "alertmanager.yml"), "--storage.path", str(folder / "data"),
                               "--web.listen-address", f"{BRIDGE_ADDRESS}:{port}", "--cluster.listen-address", ""],
                              stdout=out, stderr=subprocess.STDOUT)

    def alerts() -> list[dict[str, Any]]:
        def get() -> list[dict[str, Any]]:
            with urllib.request.urlopen(f"http://{BRIDGE_ADDRESS}:{port}/api/v2/alerts", timeout=5) as answer:
                return list(json.loads(answer.read()))
        try:
            return run_in_netns(gpool.bridge_ns, get)
        except OSError:
            return []

    url = f"http://{MONITOR}:{port}"
    node1, node3 = gpool.node1, gpool.nodes["node3"]
    try:
        wait_for(lambda: am.poll() is None and run_in_netns(gpool.bridge_ns, lambda: _ready(port)), timeout=20,
                 what="alertmanager ready")
        # Every node answers first (as the harness waits for its first status: under load a pool-wide
        # command has been seen to find sshd slow to answer for over 35 s).
        wait_for(lambda: node1.cli("status").status == 0, timeout=120, interval=1, what="every node answers")
        # The peers run this tree's CLI: a login shell's PATH may put another install first (pyenv's
        # shims here), and an older CLI would test the URL as a plain webhook.
        remote = str(Path(sysconfig.get_path("scripts")) / "gluster-eventsapi")
        for argv in (("config-set", "ssh-remote-command", remote),
                     ("webhook-add", url, "--format", "alertmanager"), ("config-set", "alert-resend-secs", "5")):
            done = node1.cli(*argv)
            assert done.status == 0, done.out + done.err
        done = node1.cli("webhook-test", url)
        assert done.status == 0, done.out + done.err  # from every node: each reaches the Alertmanager
        node3.kill_glusterd()
        try:
            (alert,) = wait_for(lambda: [a for a in alerts() if a["labels"]["alertname"] == "GlusterPeerDisconnected"],
                                timeout=60, what="one GlusterPeerDisconnected alert")
            assert alert["labels"] == {"alertname": "GlusterPeerDisconnected", "severity": "critical",
                                       "peer_uuid": node3.uuid()}
            # Both witnesses hold it open: the pool's view names them.
            def holders() -> set[str] | None:
                run = node1.cli("conditions", "--json")
                found = [c for c in json.loads(run.out)["output"]["conditions"]
                         if c["alertname"] == "GlusterPeerDisconnected"]
                return set(found[0]["open_on"]) if found and len(found[0]["open_on"]) == 2 else None

            assert wait_for(holders, timeout=30, what="both nodes report it") == {"localhost", "node2"}
            assert len([a for a in alerts() if a["labels"]["alertname"] == "GlusterPeerDisconnected"]) == 1
        finally:
            node3.start_glusterd()
        wait_for(lambda: not [a for a in alerts() if a["labels"]["alertname"] == "GlusterPeerDisconnected"],
                 timeout=90, what="the alert resolved once node3 is back")
    finally:
        node1.cli("webhook-del", url)
        node1.cli("config-reset", "alert-resend-secs")
        node1.cli("config-reset", "ssh-remote-command")
        am.terminate()
        try:
            am.wait(10)
        except subprocess.TimeoutExpired:
            am.kill()
            am.wait()


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{BRIDGE_ADDRESS}:{port}/-/ready", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False
