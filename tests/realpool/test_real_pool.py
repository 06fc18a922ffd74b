"""The CLI and the daemon on a real 3-node Gluster pool (see harness.py for how it is built).

Every node runs real glusterd 10.3, sshd and our glustereventsd as processes; the CLI runs on
node1 (and node3, node2 where said) and learns the pool from the real
``gluster pool list --xml``. The webhook receiver listens in the bridge's namespace, so every
node reaches it over its veth. The pool is built once; the tests run in file order, each one
putting back what it broke (a killed glusterd, a stopped sshd, settings it changed).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from typing import Any

import pytest

from gluster_eventsapi.pool.peers import parse_pool_xml
from tests.helpers import wait_for
from tests.realpool.harness import GlusterPool, Node, Run

pytestmark = pytest.mark.timeout(240)


def table_rows(out: str) -> dict[str, list[str]]:
    """The body rows of the last prettytable in ``out``: first cell -> the other cells."""
    rows: dict[str, list[str]] = {}
    lines = [line for line in out.splitlines() if line.startswith("|")]
    for line in lines[1:]:  # the first is the header
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def json_rows(run: Run, key: str = "") -> dict[str, dict[str, Any]]:
    """``--json`` node rows by node name (``key``: where the rows are inside ``output``)."""
    payload = run.json()
    assert payload["error"] == "", payload
    rows = payload["output"][key] if key else payload["output"]
    return {row["node"]: row for row in rows}


def assert_all_ok(run: Run, column: str) -> None:
    """Exit 0 and every node's row OK, in the table or the --json form."""
    assert run.status == 0, f"exit {run.status}: {run.out}{run.err}"
    if run.out.startswith("{"):
        rows = json_rows(run)
        assert set(rows) == {"localhost", "node2", "node3"}, rows
        for row in rows.values():
            assert (row["node_status"], row[f"{column}_status"], row["error"]) == ("UP", "OK", ""), row
    else:
        rows_t = table_rows(run.out)
        assert rows_t == {name: ["UP", "OK"] for name in ("localhost", "node2", "node3")}, run.out


def cluster_files(gpool: GlusterPool, name: str) -> dict[str, bytes | None]:
    return {node.name: node.file_bytes(name) for node in gpool.nodes.values()}


def assert_files_equal(gpool: GlusterPool) -> None:
    """webhooks.json and config.json are byte for byte the same on every node."""
    for name in ("webhooks.json", "config.json"):
        files = cluster_files(gpool, name)
        assert len(set(files.values())) == 1, f"{name} differs between nodes: {files}"


def reload_counts(gpool: GlusterPool) -> dict[str, int]:
    return {node.name: node.daemon_log().count("Configuration reloaded") for node in gpool.nodes.values()}


def wait_reloaded(gpool: GlusterPool, before: dict[str, int], names: tuple[str, ...] = ("node1", "node2", "node3")) -> None:
    for name in names:
        node = gpool.nodes[name]
        wait_for(lambda node=node: node.daemon_log().count("Configuration reloaded") > before[node.name],  # type: ignore[misc]
                 timeout=15, what=f"glustereventsd on {name} to reload")


def ensure_webhook(gpool: GlusterPool) -> str:
    """The pool's webhook, registered on every node (by an earlier test, or now)."""
    url = gpool.url()
    registered = json.loads(gpool.node1.file_bytes("webhooks.json") or b"{}")
    if url not in registered:
        reloads = reload_counts(gpool)
        assert_all_ok(gpool.node1.cli("webhook-add", url), "sync")
        wait_reloaded(gpool, reloads)  # the CLI signals the daemons; they reload just after
    return url


def events(gpool: GlusterPool, event: str, path: str = "/listen") -> list[dict[str, Any]]:
    assert gpool.receiver is not None
    with gpool.receiver.lock:
        return [r.json() for r in gpool.receiver.requests if r.body not in (b"", b"{}") and r.path == path
                and r.json()["event"] == event]


def test_real_pool_list_drives_status(gpool: GlusterPool) -> None:
    node1 = gpool.node1
    xml = gpool.pool_xml(node1)
    local = [peer for peer in ElementTree.fromstring(xml).iter("peer")
             if peer.findtext("hostname") == "localhost"]
    # What Gluster 10.3 really writes for the local node (SPEC section 6).
    assert len(local) == 1 and local[0].find("hostnames") is None and local[0].find("state") is None
    assert local[0].findtext("uuid") == node1.uuid()
    assert [(p.name, p.local, p.connected) for p in parse_pool_xml(xml)] == [
        ("localhost", True, True), ("node2", False, True), ("node3", False, True)]

    table = node1.cli("status")
    assert table.status == 0, table.out + table.err
    registered = list(json.loads(node1.file_bytes("webhooks.json") or b"{}"))
    assert table.out.startswith("Webhooks:\n" + ("\n".join(registered) or "None") + "\n\n"), table.out
    assert table_rows(table.out) == {name: ["UP", "UP"] for name in ("localhost", "node2", "node3")}

    as_json = node1.cli("status", "--json")
    assert as_json.status == 0
    assert as_json.json()["output"]["webhooks"] == registered
    assert {name: (row["node_status"], row["glustereventsd_status"], row["error"])
            for name, row in json_rows(as_json, "data").items()} == {
        name: ("UP", "UP", "") for name in ("localhost", "node2", "node3")}

    # From another node the same pool, seen from there: its own row is localhost.
    from_node2 = json_rows(gpool.nodes["node2"].cli("status", "--json"), "data")
    assert set(from_node2) == {"localhost", "node1", "node3"}
    assert all(row["glustereventsd_status"] == "UP" for row in from_node2.values()), from_node2


def test_webhook_test_add_status_and_events_from_every_node(gpool: GlusterPool) -> None:
    node1, receiver = gpool.node1, gpool.receiver
    assert receiver is not None
    url = gpool.url()

    def test_posts() -> int:
        with receiver.lock:
            return sum(1 for r in receiver.requests if r.body == b"{}" and r.path == "/listen")

    before = test_posts()
    assert_all_ok(node1.cli("webhook-test", url), "webhook")
    assert test_posts() == before + 3  # one test POST from each node, answered before the row
    assert_all_ok(node1.cli("webhook-test", url, "--json"), "webhook")
    assert test_posts() == before + 6

    reloads = reload_counts(gpool)
    assert_all_ok(node1.cli("webhook-add", url), "sync")
    assert_files_equal(gpool)
    assert url in json.loads(gpool.nodes["node3"].file_bytes("webhooks.json") or b"{}")
    wait_reloaded(gpool, reloads)

    # Real events: the gluster CLI on each node sends VOLUME_CREATE / VOLUME_DELETE to that
    # node's daemon, which stamps it with its own node id (glusterd.info).
    for node in gpool.nodes.values():
        created = node.gluster("volume", "create", f"gv-{node.name}", f"{node.name}:/bricks/gv-{node.name}", "force")
        assert created.status == 0, created.out + created.err
        deleted = node.gluster("volume", "delete", f"gv-{node.name}")
        assert deleted.status == 0, deleted.out + deleted.err
    uuids = {node.name: node.uuid() for node in gpool.nodes.values()}
    assert len(set(uuids.values())) == 3
    for event in ("VOLUME_CREATE", "VOLUME_DELETE"):
        wait_for(lambda event=event: {e["message"]["name"]: e["nodeid"] for e in events(gpool, event)  # type: ignore[misc]
                                      if e["message"].get("name", "").startswith("gv-")}
                 == {f"gv-{name}": uuid for name, uuid in uuids.items()},
                 timeout=20, what=f"{event} from every node with its own node id")
    create = [e for e in events(gpool, "VOLUME_CREATE") if e["message"]["name"] == "gv-node2"][0]
    assert create["message"]["bricks"].strip() == "node2:/bricks/gv-node2"

    status = node1.cli("webhook-status", "--json")
    assert status.status == 0, status.out + status.err
    for name, row in json_rows(status).items():
        (hook,) = [h for h in row["webhooks"] if h["url"] == url]
        assert hook["delivered"] >= 2 and hook["queued"] == 0 and hook["dead_letters"] == 0, (name, hook)
    table = node1.cli("webhook-status")
    assert table.status == 0
    rows = table_rows(table.out)
    assert set(rows) == {"localhost", "node2", "node3"}
    assert all(cells[0] == url and cells[1] == "0" and int(cells[2]) >= 2 for cells in rows.values()), table.out

    again = node1.cli("webhook-add", url, "--json")
    assert again.status == 5 and "already exists" in again.json()["error"]


def test_config_get_set_reset_across_the_pool(gpool: GlusterPool) -> None:
    node1, node3 = gpool.node1, gpool.nodes["node3"]
    get = node1.cli("config-get")
    assert get.status == 0
    values = {row: cells[0] for row, cells in table_rows(get.out).items()}
    assert values["port"] == "55555"  # the distribution's /etc/glusterfs/eventsconfig.json
    shown = node1.cli("config-get", "--json").json()["output"]
    assert shown["port"] == 55555
    # The key's spelling in --json is difference 3 of issue 11 (tested with the upstream oracle).
    assert {shown.get("log-level"), shown.get("log_level")} - {None} == {"INFO"}, shown

    reloads = reload_counts(gpool)
    assert_all_ok(node1.cli("config-set", "log-level", "DEBUG"), "sync")
    assert_files_equal(gpool)
    assert json.loads(node3.file_bytes("config.json") or b"{}") == {"log-level": "DEBUG"}
    wait_reloaded(gpool, reloads)
    on_node3 = node3.cli("config-get", "--name", "log-level")  # the synced file, read on node3
    assert on_node3.status == 0 and "DEBUG" in on_node3.out, on_node3.out

    same = node1.cli("config-set", "log-level", "DEBUG", "--json")
    assert same.status == 2 and same.json()["error"] == "Config value not changed. Same config"

    assert_all_ok(node1.cli("config-reset", "log-level", "--json"), "sync")
    assert_files_equal(gpool)
    assert json.loads(node3.file_bytes("config.json") or b"{}") == {}
    nothing = node1.cli("config-reset", "all")
    assert nothing.status == 2 and "Already set to default value" in nothing.out + nothing.err


def test_killed_glusterd_is_a_peer_disconnect_and_a_status_row(gpool: GlusterPool) -> None:
    url_path = "/listen"
    ensure_webhook(gpool)
    node1, node3 = gpool.node1, gpool.nodes["node3"]
    witnesses = {gpool.nodes[name].uuid() for name in ("node1", "node2")}
    seen_before = len(events(gpool, "PEER_DISCONNECT", url_path))
    node3.kill_glusterd()
    try:
        def disconnects() -> set[str]:
            return {e["nodeid"] for e in events(gpool, "PEER_DISCONNECT", url_path)[seen_before:]
                    if e["message"].get("peer") == "node3" and e["message"].get("uuid") == node3.uuid()}

        wait_for(lambda: disconnects() == witnesses, timeout=30,
                 what="PEER_DISCONNECT about node3 from node1 and node2")

        status = node1.cli("status")
        assert status.status == 4, status.out  # some nodes not OK
        rows = table_rows(status.out)
        assert rows["localhost"] == ["UP", "UP"] and rows["node2"] == ["UP", "UP"]
        assert rows["node3"] == ["DOWN", "NOT OK: peer is disconnected from the gluster pool"], status.out
        as_json = node1.cli("status", "--json")
        assert as_json.status == 4
        row = json_rows(as_json, "data")["node3"]
        assert (row["node_status"], row["glustereventsd_status"]) == ("DOWN", "NOT OK")
        assert "disconnected from the gluster pool" in row["error"]
    finally:
        node3.start_glusterd()
        for node in gpool.nodes.values():
            wait_for(lambda node=node: gpool.in_cluster(node) == 2, timeout=60, interval=0.2,  # type: ignore[misc]
                     what=f"{node.name} to see node3 back")
    wait_for(lambda: {e["nodeid"] for e in events(gpool, "PEER_CONNECT", url_path)
                      if e["message"].get("host") == "node3"} >= witnesses,
             timeout=30, what="PEER_CONNECT about node3 from node1 and node2")
    assert node1.cli("status").status == 0


def test_stopped_sshd_is_not_ok_and_sync_repairs_the_node(gpool: GlusterPool) -> None:
    ensure_webhook(gpool)
    node1, node2 = gpool.node1, gpool.nodes["node2"]
    second = gpool.url("second")
    refused = "NOT OK: SSH connection refused (is sshd running on the peer, is ssh-port right?)"
    node2.stop_sshd()
    try:
        status = node1.cli("status")
        assert status.status == 4, status.out
        rows = table_rows(status.out)
        assert rows["node2"] == ["DOWN", refused] and rows["node3"] == ["UP", "UP"], status.out
        row = json_rows(node1.cli("status", "--json"), "data")["node2"]
        assert (row["node_status"], row["glustereventsd_status"]) == ("DOWN", "NOT OK")
        assert row["error"] == refused.removeprefix("NOT OK: ")

        added = node1.cli("webhook-add", second)
        assert added.status == 4, added.out + added.err
        rows = table_rows(added.out)
        assert rows["node2"] == ["DOWN", refused] and rows["node3"] == ["UP", "OK"], added.out
        changed = node1.cli("config-set", "retry-max-backoff-secs", "2", "--json")
        assert changed.status == 4
        assert json_rows(changed)["node2"]["sync_status"] == "NOT OK"
    finally:
        node2.start_sshd()
    assert node2.file_bytes("webhooks.json") != node1.file_bytes("webhooks.json")
    assert node2.file_bytes("config.json") != node1.file_bytes("config.json")

    reloads = reload_counts(gpool)
    assert_all_ok(node1.cli("sync"), "sync")
    assert_files_equal(gpool)
    wait_reloaded(gpool, reloads, ("node2",))
    # The repaired node delivers to the webhook it missed.
    node2.send_events(["after-sync"])
    wait_for(lambda: [e["nodeid"] for e in events(gpool, "VOLUME_CREATE", "/second")
                      if e["message"]["name"] == "after-sync"] == [node2.uuid()],
             timeout=20, what="node2's event at the webhook it got by sync")

    assert_all_ok(node1.cli("webhook-del", second, "--json"), "sync")
    assert_all_ok(node1.cli("sync", "--json"), "sync")
    assert_files_equal(gpool)
    assert second not in json.loads(node2.file_bytes("webhooks.json") or b"{}")


def test_no_event_lost_across_a_daemon_restart_on_any_node(gpool: GlusterPool) -> None:
    url = ensure_webhook(gpool)
    node1, receiver = gpool.node1, gpool.receiver
    assert receiver is not None
    current = json.loads(node1.file_bytes("config.json") or b"{}")
    if current.get("retry-max-backoff-secs") != 2:
        assert_all_ok(node1.cli("config-set", "retry-max-backoff-secs", "2"), "sync")
    count = 200
    sent: dict[str, list[str]] = {}
    receiver.behaviour.default = 503  # the webhook is failing: every event waits in the spool
    try:
        for node in gpool.nodes.values():
            names = [f"restart-{node.name}-{i}" for i in range(count)]
            sent[node.name] = names
            node.send_events(names[: count // 2])
            assert node.stop_daemon() == 0  # SIGTERM right after the burst
            node.start_daemon()
            node.send_events(names[count // 2:])
        status = json_rows(node1.cli("webhook-status", "--json"))
        for name, row in status.items():
            (hook,) = [h for h in row["webhooks"] if h["url"] == url]
            assert hook["queued"] >= 1, (name, hook)  # still waiting for the webhook
    finally:
        receiver.behaviour.default = 200

    def delivered(node: Node) -> set[str]:
        return {e["message"]["name"] for e in events(gpool, "VOLUME_CREATE")
                if e["nodeid"] == node.uuid() and e["message"]["name"].startswith(f"restart-{node.name}-")}

    for node in gpool.nodes.values():
        wait_for(lambda node=node: delivered(node) == set(sent[node.name]), timeout=60,  # type: ignore[misc]
                 what=f"all {count} events of {node.name}, across its restart")
    status = json_rows(node1.cli("webhook-status", "--json"))
    for name, row in status.items():
        (hook,) = [h for h in row["webhooks"] if h["url"] == url]
        assert hook["queued"] == 0 and hook["dead_letters"] == 0 and hook["dropped"] == 0, (name, hook)
    assert_all_ok(node1.cli("config-reset", "retry-max-backoff-secs"), "sync")
