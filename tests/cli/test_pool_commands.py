"""Every subcommand on a real three-node pool over SSH: tables, JSON, files and exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import jwt
import pytest

from glustereventsd.runtime import runstate
from tests.cli.conftest import Tarpit
from tests.helpers import Receiver, wait_for

ALL = ("node1", "node2", "node3")


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def rows(run):
    """The JSON rows of a node table."""
    return {row["node"]: row for row in run.json()["output"]}


def same_files(pool, file, nodes=ALL):
    contents = {pool.file_bytes(name, file) for name in nodes}
    return len(contents) == 1 and None not in contents


def test_status_table_and_json(pool):
    pool.start_daemon("node1")
    pool.start_daemon("node2")
    run = pool.cli("status")
    assert run.status == 0
    assert run.out.splitlines()[6:9] == [
        "| localhost |          UP |                    UP |",
        "| node2     |          UP |                    UP |",
        "| node3     |          UP |                  DOWN |",
    ]
    run = pool.cli("status", "--json")
    data = run.json()
    assert data["error"] == "" and data["output"]["webhooks"] == []
    assert data["output"]["data"] == [
        {"node": "localhost", "node_status": "UP", "glustereventsd_status": "UP", "error": ""},
        {"node": "node2", "node_status": "UP", "glustereventsd_status": "UP", "error": ""},
        {"node": "node3", "node_status": "UP", "glustereventsd_status": "DOWN", "error": ""},
    ]
    # --json is accepted before the subcommand too
    assert pool.cli("--json", "status").json() == data


def test_webhook_lifecycle_json_files_and_modes(pool, receiver):
    run = pool.cli("webhook-add", receiver.url, "-t", "tok1", "--json")
    assert run.status == 0, run.out + run.err
    assert [r["sync_status"] for r in run.json()["output"]] == ["OK", "OK", "OK"]
    assert all(pool.webhooks(n) == {receiver.url: {"token": "tok1", "secret": ""}} for n in ALL)
    for name in ALL:
        mode = stat.S_IMODE(os.stat(pool.events_dir(name) / "webhooks.json").st_mode)
        assert mode == 0o600, (name, oct(mode))
    assert same_files(pool, "webhooks.json")

    run = pool.cli("webhook-mod", receiver.url, "-s", "sec1", "--json")
    assert run.status == 0
    assert all(pool.webhooks(n)[receiver.url] == {"token": "tok1", "secret": "sec1"} for n in ALL)

    run = pool.cli("webhook-del", receiver.url, "--json")
    assert run.status == 0 and len(run.json()["output"]) == 3
    assert all(pool.webhooks(n) == {} for n in ALL)


def test_webhook_exit_codes(pool, receiver):
    assert pool.cli("webhook-add", receiver.url).status == 0
    run = pool.cli("webhook-add", receiver.url)
    assert run.status == 5 and "Webhook already exists" in run.err
    run = pool.cli("webhook-add", receiver.url, "--json")
    assert run.status == 5 and run.json()["output"] == ""
    assert run.json()["error"].startswith("Webhook already exists: " + receiver.url)
    run = pool.cli("webhook-del", receiver.url + "x")
    assert run.status == 6 and "Webhook does not exist" in run.err
    run = pool.cli("webhook-mod", receiver.url + "x", "-t", "a", "--json")
    assert run.status == 6 and run.json()["error"].startswith("Webhook does not exist")
    run = pool.cli("webhook-add", "ftp://example.com/x")
    assert run.status == 1 and "http://" in run.err


def test_webhook_test_jwt_and_failures(pool, receiver):
    run = pool.cli("webhook-test", receiver.url, "-s", "-", "--json", stdin="s3cret-s3cret-s3cret-s3cret-s3cret\n")
    assert run.status == 0, run.out
    assert [r["webhook_status"] for r in run.json()["output"]] == ["OK", "OK", "OK"]
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        assert request.body == b"{}"
        token = request.headers["authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, "s3cret-s3cret-s3cret-s3cret-s3cret", algorithms=["HS256"], issuer="gluster")
        assert claims["sub"] == "TEST"

    receiver.behaviour.default = 503
    run = pool.cli("webhook-test", receiver.url)
    assert run.status == 3  # no node OK
    assert run.out.count("NOT OK: HTTP 503") == 3

    receiver.stop()
    run = pool.cli("webhook-test", receiver.url, "--json")
    assert run.status == 3
    assert all(r["webhook_status"] == "NOT OK" and r["error"] for r in run.json()["output"])


def test_webhook_test_uses_stored_credentials(pool, receiver):
    assert pool.cli("webhook-add", receiver.url, "-t", "-", stdin="stored-token\n").status == 0
    assert pool.cli("webhook-test", receiver.url).status == 0
    assert {r.headers["authorization"] for r in receiver.requests} == {"Bearer stored-token"}


def test_config_commands_json_and_exit_codes(pool):
    run = pool.cli("config-get", "--json")
    output = run.json()["output"]
    assert output["log-level"] == "INFO" and output["port"] == 24009
    assert output["disable-events-log"] is False
    assert pool.cli("config-get", "--name", "port", "--json").json()["output"] == {"port": 24009}
    assert pool.cli("config-get", "--name", "nope").status == 7

    run = pool.cli("config-set", "port", "55555")
    assert run.status == 0
    assert run.out.rstrip().endswith("Restart glustereventsd in all nodes")
    assert all(json.loads(pool.file_bytes(n, "config.json")) == {"port": 55555} for n in ALL)

    run = pool.cli("config-set", "port", "55555")
    assert run.status == 2 and "Config value not changed. Same config" in run.err
    run = pool.cli("config-set", "log-level", "LOUD", "--json")
    assert run.status == 7 and "DEBUG, INFO, WARNING, ERROR, CRITICAL" in run.json()["error"]
    run = pool.cli("config-set", "port", "70000")
    assert run.status == 7 and "1 to 65535" in run.err
    run = pool.cli("config-set", "colour", "blue")
    assert run.status == 7 and "log-level" in run.err
    run = pool.cli("config-set", "disable-events-log", "enabled", "--json")
    assert run.status == 0 and [r["sync_status"] for r in run.json()["output"]] == ["OK"] * 3

    run = pool.cli("config-reset", "log-level")
    assert run.status == 2 and "Config value not reset. Already set to default value" in run.err
    run = pool.cli("config-reset", "all", "--json")
    assert run.status == 0
    # restart note goes to stderr in JSON mode, so stdout stays one JSON document
    assert "Restart glustereventsd in all nodes" in run.err
    assert all(json.loads(pool.file_bytes(n, "config.json")) == {} for n in ALL)
    assert pool.cli("config-reset", "all").status == 2
    assert pool.cli("config-reset", "bogus").status == 2  # as Gluster's own CLI: never set, so at its default


def test_usage_error_is_2_and_help_hides_node_commands(pool):
    run = pool.cli("config-set", "port")
    assert run.status == 2 and "usage:" in run.err
    run = pool.cli("--help")
    assert run.status == 0
    assert "node-" not in run.out and "webhook-add" in run.out
    assert "usage-error" in run.out


def test_reload_signals_every_daemon(pool):
    daemons = [pool.start_daemon(name) for name in ALL]
    status_files = [d.root / "run/glustereventsd/status.json" for d in daemons]
    before = [wait_for(lambda: runstate.read_status(f), 10, what="status").reload.generation
              for f in status_files]
    run = pool.cli("reload", "--json")
    assert run.status == 0
    assert [r["reload_status"] for r in run.json()["output"]] == ["OK"] * 3
    # OK means each daemon handled the request (nothing changed, so nothing was re-applied).
    after = [runstate.read_status(f) for f in status_files]
    assert [s.reload.generation > b for s, b in zip(after, before)] == [True] * 3
    assert [s.reload.outcome for s in after] == ["unchanged"] * 3


def test_sync_reports_stopped_daemon_without_failing(pool):
    pool.start_daemon("node1")
    pool.start_daemon("node2")
    run = pool.cli("sync")
    assert run.status == 0
    assert "Note: node3: glustereventsd is not running" in run.out
    run = pool.cli("sync", "--json")
    node3 = rows(run)["node3"]
    assert node3["sync_status"] == "OK" and "not running" in node3["warning"]


def test_node_down_then_sync_makes_files_equal(pool, receiver):
    node3 = pool.node("node3")
    node3.stop()
    try:
        run = pool.cli("webhook-add", receiver.url)
        assert run.status == 4, run.out + run.err
        assert "| node3     |        DOWN | NOT OK: SSH connection refused" in run.out
        run = pool.cli("status", "--json")
        assert run.status == 4
        assert rows_status(run)["node3"] == ("DOWN", "NOT OK")
    finally:
        node3.start()
    assert pool.webhooks("node3") == {}
    run = pool.cli("sync")
    assert run.status == 0, run.out
    assert same_files(pool, "webhooks.json")


def rows_status(run):
    return {r["node"]: (r["node_status"], r["glustereventsd_status"])
            for r in run.json()["output"]["data"]}


def test_unreachable_node_costs_one_connect_timeout(pool):
    tarpit = Tarpit()
    try:
        peers = pool.events_dir("node1") / "peers.json"
        peers.write_text(json.dumps({"node2": {}, "node3": {}, tarpit.address: {
            "ssh-port": tarpit.port}}))
        started = time.monotonic()
        run = pool.cli("status")
        elapsed = time.monotonic() - started
    finally:
        tarpit.close()
    assert run.status == 4
    assert f"| {tarpit.address} |        DOWN | NOT OK: SSH connection timed out after 3s" in run.out
    assert elapsed < 3 + 3.5, elapsed


def test_ssh_failures_have_actionable_reasons(pool):
    pool.set_peers("node2", "badkey", "badhostkey", "nocli")
    run = pool.cli("status", "--json")
    assert run.status == 4
    data = {r["node"]: r for r in run.json()["output"]["data"]}
    assert data["node2"]["glustereventsd_status"] == "DOWN"
    assert data["badkey"]["node_status"] == "DOWN"
    assert "authentication refused" in data["badkey"]["error"]
    assert "host key verification failed" in data["badhostkey"]["error"]
    assert data["nocli"]["node_status"] == "UP"
    assert "command not found on the peer" in data["nocli"]["error"]
    run = pool.cli("status")
    assert "| nocli      |          UP | NOT OK: command not found on the peer" in run.out


def test_all_peers_unreachable_is_3_for_files_4_with_local(pool, receiver):
    pool.set_peers("nocli")
    run = pool.cli("webhook-test", receiver.url + "?x")
    assert run.status == 4  # localhost OK, nocli not
    receiver.stop()
    assert pool.cli("webhook-test", receiver.url).status == 3


def test_write_failure_on_a_peer_is_8_or_9(pool):
    (pool.events_dir("node2") / "webhooks.json").mkdir(parents=True)
    run = pool.cli("webhook-add", "http://127.0.0.1:9/a", "--json")
    assert run.status == 8
    node2 = rows(run)["node2"]
    assert node2["sync_status"] == "NOT OK" and "webhooks.json" in node2["error"]
    (pool.events_dir("node2") / "webhooks.json").rmdir()
    (pool.events_dir("node3") / "config.json").mkdir(parents=True)
    run = pool.cli("config-set", "log-level", "ERROR")
    assert run.status == 9
    assert "NOT OK:" in run.out and "config.json" in run.out


def test_corrupt_webhooks_file_is_named_and_kept(pool):
    path = pool.events_dir("node1") / "webhooks.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"http://a/": {"token": ')
    for argv, status in ((("webhook-add", "http://127.0.0.1:9/b"), 1),
                         (("webhook-del", "http://a/"), 1),
                         (("status",), 1),
                         (("sync",), 8)):
        run = pool.cli(*argv)
        assert run.status == status, (argv, run.err)
        assert str(path) in run.err and "not valid JSON" in run.err
        assert "Traceback" not in run.err + run.out
        run = pool.cli(*argv, "--json")
        assert run.json()["output"] == "" and str(path) in run.json()["error"]
    assert path.read_text() == '{"http://a/": {"token": '
    assert pool.file_bytes("node2", "webhooks.json") is None  # nothing was pushed


def test_twenty_concurrent_webhook_adds(pool):
    urls = [f"http://127.0.0.1:9/hook{i}" for i in range(20)]
    procs = [subprocess.Popen([sys.executable, "-m", "gluster_eventsapi", "webhook-add", url],
                              env=pool.environ("node1"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for url in urls]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 20, results
    for name in ALL:
        data = json.loads(pool.file_bytes(name, "webhooks.json"))
        assert sorted(data) == sorted(urls), name
    assert same_files(pool, "webhooks.json")


def test_peer_file_commands(pool):
    run = pool.cli("peer-add", "node9", "--ssh-user", "admin", "--ssh-port", "2222",
                   "--ssh-identity", "/keys/id")
    assert run.status == 0 and "node9" in run.out
    assert pool.cli("peer-add", "node9").status == 1
    assert pool.cli("peer-add", "--", "-oProxyCommand=x").status == 1
    run = pool.cli("peer-list", "--json")
    peers = run.json()["output"]["peers"]
    assert [p["node"] for p in peers] == ["node2", "node3", "node9"]
    assert peers[2]["ssh-user"] == "admin" and peers[2]["ssh-port"] == 2222
    assert "node9" in pool.cli("peer-list").out
    assert pool.cli("peer-del", "node9").status == 0
    assert pool.cli("peer-del", "node9").status == 1
    assert json.loads((pool.events_dir("node1") / "peers.json").read_text()) == {
        "node2": {}, "node3": {}}


POOL_XML = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cliOutput><opRet>0</opRet><opErrno>0</opErrno><opErrstr/><peerStatus>
<peer><uuid>2b4c1a3e-0000-4000-8000-000000000002</uuid><hostname>node2</hostname>
<hostnames><hostname>node2</hostname></hostnames><connected>1</connected><state>3</state>
<stateStr>Peer in Cluster</stateStr></peer>
<peer><uuid>2b4c1a3e-0000-4000-8000-000000000003</uuid><hostname>node3</hostname>
<hostnames><hostname>node3</hostname></hostnames><connected>0</connected><state>3</state>
<stateStr>Peer in Cluster</stateStr></peer>
<peer><uuid>2b4c1a3e-0000-4000-8000-000000000001</uuid><hostname>localhost</hostname>
<connected>1</connected><state>3</state><stateStr>Peer in Cluster</stateStr></peer>
</peerStatus></cliOutput>
"""


def test_gluster_pool_list_is_used_when_gluster_exists(pool, tmp_path):
    # The only stand-in of the suite: there is no Gluster here, so a script plays
    # `gluster --mode=script pool list --xml`.
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "pool.xml").write_text(POOL_XML)
    script = bin_dir / "gluster"
    script.write_text(f'#!/bin/sh\n[ "$*" = "--mode=script pool list --xml" ] || exit 1\n'
                      f'cat {bin_dir / "pool.xml"}\n')
    script.chmod(0o755)
    pool.extra_env = {"GLUSTER_CLI": str(script)}  # under GLUSTER_EVENTS_ROOT, PATH alone is not asked
    pool.set_peers()  # an empty peers file: the gluster pool must win
    run = pool.cli("status")
    assert run.status == 4
    lines = run.out.splitlines()[6:9]
    assert lines[0].startswith("| localhost |          UP |") and lines[0].endswith(" DOWN |")
    assert lines[1].startswith("| node2     |          UP |") and lines[1].endswith(" DOWN |")
    assert lines[2] == "| node3     |        DOWN | NOT OK: peer is disconnected from the gluster pool |"
    assert "not used" in pool.cli("peer-add", "node7").out
    (bin_dir / "pool.xml").write_text("<cliOutput><opRet>-1</opRet><opErrstr>glusterd down"
                                      "</opErrstr></cliOutput>")
    run = pool.cli("status")
    assert run.status == 1 and "glusterd down" in run.err


def test_secrets_never_shown_or_logged(pool, receiver):
    token, secret = "TOKEN-d41d8cd98f00b204", "SECRET-e9800998ecf8427e"
    for name in ALL:
        pool.start_daemon(name)
    outputs = []
    for argv, stdin in ((("webhook-add", receiver.url, "-t", "-", "-s", "-"), f"{token}\n{secret}\n"),
                        (("webhook-mod", receiver.url, "-t", "-", "--json"), f"{token}2\n"),
                        (("webhook-test", receiver.url), ""),
                        (("webhook-test", receiver.url, "-s", "-", "--json"), f"{secret}\n"),
                        (("status",), ""), (("status", "--json"), ""),
                        (("config-get",), ""), (("config-get", "--json"), ""),
                        (("sync",), ""), (("sync", "--json"), "")):
        run = pool.cli(*argv, stdin=stdin)
        assert run.status == 0, (argv, run.out, run.err)
        outputs.append(run.out + run.err)
    for text in outputs:
        assert token not in text and secret not in text
    for daemon in pool.daemons.values():
        daemon.reload()  # make sure every daemon has read (and could have logged) the secrets
    for name in ALL:
        assert pool.webhooks(name)[receiver.url] == {"token": token + "2", "secret": secret}
    for folder in [pool.node(n).folder for n in ALL]:
        for path in folder.rglob("*"):
            if path.is_file() and path.name not in ("webhooks.json",):
                data = path.read_bytes()
                assert token.encode() not in data and secret.encode() not in data, path
