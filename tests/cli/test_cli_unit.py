"""Unit tests of the CLI's pure parts and of local-only runs (no SSH, no network)."""

from __future__ import annotations

import json
import threading

import pytest

from glustereventsd.base.paths import resolve_paths
from gluster_eventsapi import render
from gluster_eventsapi.pool import node
from gluster_eventsapi.files import store
from gluster_eventsapi.__main__ import main
from gluster_eventsapi.errors import CliError, ExitStatus
from gluster_eventsapi.pool.fanout import PROTOCOL, Completed, Peer, SshSettings, classify, ssh_argv
from gluster_eventsapi.pool.peers import parse_pool_xml
from gluster_eventsapi.results import NodeResult, NodeTable
from tests.cli.conftest import local_cli

SETTINGS = SshSettings(connect_timeout_secs=4, command_timeout_secs=9)


def answer(**fields):
    return (json.dumps({"protocol": PROTOCOL, "nodeid": "n", **fields}) + "\n").encode()


@pytest.mark.parametrize("done, up, ok, reason", [
    (Completed(0, answer(ok=True, output="UP"), b""), True, True, ""),
    (Completed(0, b"motd noise\n" + answer(ok=False, error="boom"), b""), True, False, "boom"),
    (Completed(None, b"", b""), False, False, "no answer within 13s"),
    (Completed(255, b"", b"root@h: Permission denied (publickey).\r\n"), False, False,
     "authentication refused"),
    (Completed(255, b"", b"ssh: connect to host h port 22: Connection refused\n"), False, False,
     "connection refused"),
    (Completed(255, b"", b"Connection timed out during banner exchange\n"), False, False,
     "timed out after 4s"),
    (Completed(255, b"", b"Host key verification failed.\n"), False, False, "host key"),
    (Completed(255, b"", b"ssh: Could not resolve hostname h: Name or service not known\n"),
     False, False, "cannot resolve"),
    (Completed(127, b"", b"bash: line 1: gluster-eventsapi: command not found\n"), True, False,
     "command not found on the peer"),
    (Completed(2, b"", b"error: argument command: invalid choice: 'node-sync'\n"), True, False,
     "version mismatch"),
    (Completed(0, b"Welcome!\n", b""), True, False, "bad answer from the peer"),
    (Completed(0, json.dumps({"ok": True, "protocol": 99}).encode(), b""), True, False,
     "version mismatch"),
    (Completed(0, json.dumps({"ok": True}).encode(), b""), True, False, "version mismatch"),
])
def test_classify(done, up, ok, reason):
    row = classify("n2", "node-sync", done, SETTINGS)
    assert (row.up, row.ok) == (up, ok)
    assert reason in row.error


def test_ssh_argv_leaves_unset_options_to_ssh_config():
    argv = ssh_argv(Peer("node2", "node2"), SshSettings(), "node-status")
    assert argv[:4] == ["ssh", "-T", "-x", "-a"]
    assert "BatchMode=yes" in argv and "ConnectTimeout=5" in argv
    assert "StrictHostKeyChecking=accept-new" in argv
    assert not {"-l", "-p", "-i", "-F"} & set(argv)
    assert argv[-3:] == ["--", "node2", "gluster-eventsapi node-status"]


def test_ssh_argv_peer_fields_override_pool_settings():
    settings = SshSettings(user="root", port=22, identity="/k", config_file="/c",
                           remote_command="/opt/bin/gluster-eventsapi")
    argv = ssh_argv(Peer("n", "10.0.0.2", user="admin", port=2222), settings, "node-sync")
    assert argv[argv.index("-l") + 1] == "admin" and argv[argv.index("-p") + 1] == "2222"
    assert argv[argv.index("-i") + 1] == "/k" and argv[argv.index("-F") + 1] == "/c"
    assert argv[-1] == "/opt/bin/gluster-eventsapi node-sync"


def test_parse_pool_xml_puts_local_first_and_marks_disconnected():
    text = """<cliOutput><opRet>0</opRet><peerStatus>
      <peer><hostname>n2</hostname><connected>1</connected></peer>
      <peer><hostname>n3</hostname><connected>0</connected></peer>
      <peer><hostname>localhost</hostname><connected>1</connected></peer>
    </peerStatus></cliOutput>"""
    peers = parse_pool_xml(text)
    assert [(p.name, p.local, p.connected) for p in peers] == [
        ("localhost", True, True), ("n2", False, True), ("n3", False, False)]
    with pytest.raises(CliError, match="not connected"):
        parse_pool_xml("<cliOutput><opRet>-1</opRet><opErrstr>not connected</opErrstr></cliOutput>")
    with pytest.raises(CliError, match="cannot parse"):
        parse_pool_xml("Connection failed. Please check if gluster daemon is operational.")


@pytest.mark.parametrize("rows, status", [
    ([NodeResult("a", True, True), NodeResult("b", True, True)], ExitStatus.OK),
    ([NodeResult("a", True, True), NodeResult("b", False, False)], ExitStatus.SOME_NODES_NOT_OK),
    ([NodeResult("a", True, False), NodeResult("b", False, False)], ExitStatus.NO_NODE_OK),
    ([NodeResult("a", True, True), NodeResult("b", True, False, failed=("config",))],
     ExitStatus.CONFIG_SYNC_FAILED),
    ([NodeResult("a", True, False, failed=("config", "webhooks")), NodeResult("b", False, False)],
     ExitStatus.WEBHOOKS_SYNC_FAILED),
])
def test_exit_status_rule(rows, status):
    assert render.exit_status(rows) == status


def test_node_table_not_ok_row_and_json():
    table = NodeTable("SYNC STATUS", (NodeResult("localhost", True, True),
                                      NodeResult("n2", False, False, error="SSH connection refused")))
    shown = render.render(table, as_json=False)
    rule = "+-----------+-------------+--------------------------------+"
    assert shown.stdout.splitlines() == [
        rule,
        "|    NODE   | NODE STATUS |                    SYNC STATUS |",
        rule,
        "| localhost |          UP |                             OK |",
        "| n2        |        DOWN | NOT OK: SSH connection refused |",
        rule,
    ]
    assert shown.status == ExitStatus.SOME_NODES_NOT_OK
    data = json.loads(render.render(table, as_json=True).stdout)
    assert data == {"error": "", "output": [
        {"node": "localhost", "node_status": "UP", "sync_status": "OK", "error": ""},
        {"node": "n2", "node_status": "DOWN", "sync_status": "NOT OK",
         "error": "SSH connection refused"}]}


@pytest.fixture
def local_ctx(tmp_path):
    """A one-node pool (empty peers file) under tmp_path, run in-process."""
    return local_cli(tmp_path / "root", shipped_defaults=True)


def test_token_and_secret_from_stdin(local_ctx):
    status, out, err = local_ctx("webhook-add", "http://h/x", "-t", "-", "-s", "-",
                                 stdin="tok en\nsec\n")
    assert status == 0, err
    hooks = json.loads((local_ctx.root / "var/lib/glusterd/events/webhooks.json").read_text())
    assert hooks == {"http://h/x": {"token": "tok en", "secret": "sec"}}
    status, _, err = local_ctx("webhook-mod", "http://h/x", "-s", "-")
    assert status == 1 and "expected the secret on stdin" in err


def test_config_set_replaces_the_old_spelling(local_ctx):
    config = local_ctx.root / "var/lib/glusterd/events/config.json"
    config.write_text('{"log_level": "DEBUG", "future-key": 1}')
    status, _, err = local_ctx("config-set", "log-level", "debug")
    assert status == 2 and "Same config" in err
    status, _, err = local_ctx("config-set", "log-level", "error")
    assert status == 0, err
    assert json.loads(config.read_text()) == {"log-level": "ERROR", "future-key": 1}
    status, out, _ = local_ctx("config-get", "--name", "log_level")
    assert status == 0 and "| log_level | ERROR |" in out


def test_old_token_string_form_is_modified_as_an_object(local_ctx):
    hooks = local_ctx.root / "var/lib/glusterd/events/webhooks.json"
    hooks.write_text('{"http://old/": "oldtoken"}')
    status, _, err = local_ctx("webhook-mod", "http://old/", "-s", "x")
    assert status == 0, err
    assert json.loads(hooks.read_text()) == {"http://old/": {"token": "oldtoken", "secret": "x"}}


def test_concurrent_modifications_keep_every_change(tmp_path):
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})

    def add(i):
        store.modify_webhooks(paths, lambda data: data.__setitem__(f"http://h/{i}", {}))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(json.loads(paths.webhooks_file.read_text())) == 30


def test_node_sync_rejects_bad_content_and_keeps_the_file(tmp_path):
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    paths.events_dir.mkdir(parents=True)
    paths.webhooks_file.write_text('{"http://keep/": {}}')
    got = node.handle("node-sync", {"webhooks": '{"x": ', "config": '{"port": "high"}'}, paths, 0)
    assert got["ok"] is False and got["failed"] == ["webhooks", "config"]
    assert "not valid JSON" in got["error"] and "port" in got["error"]
    assert paths.webhooks_file.read_text() == '{"http://keep/": {}}'
    assert not paths.config_file.exists()
    got = node.handle("node-sync", {"webhooks": '{"http://new/": {}}'}, paths, 0)
    assert got["ok"] is True and "not running" in got["warning"]
    assert paths.webhooks_file.read_text() == '{"http://new/": {}}'


def test_node_command_over_stdin_answers_one_json_line(local_ctx):
    status, out, _ = local_ctx("node-status", stdin=json.dumps({"protocol": PROTOCOL}))
    assert status == 0 and out.count("\n") == 1
    data = json.loads(out)
    assert data["ok"] is True and data["output"] == "DOWN" and data["protocol"] == PROTOCOL
    status, out, _ = local_ctx("node-status", stdin='{"protocol": 7}')
    assert json.loads(out)["ok"] is False and "version mismatch" in json.loads(out)["error"]
    status, out, _ = local_ctx("node-status", stdin="garbage")
    assert status == 0 and json.loads(out)["ok"] is False


def test_unreadable_defaults_file_is_named(local_ctx):
    defaults = local_ctx.root / "etc/glusterfs/eventsconfig.json"
    defaults.write_text('{"port": "abc"}')
    status, out, err = local_ctx("config-get", "--json")
    assert status == 1 and str(defaults) in json.loads(out)["error"]


def test_usage_error_with_json_is_the_json_envelope(tmp_path) -> None:
    """SPEC: errors in JSON mode are {"output": "", "error": ...}; a usage error keeps argparse's 2."""
    import io

    from gluster_eventsapi.context import Context

    out, err = io.StringIO(), io.StringIO()
    ctx = Context(environ={"GLUSTER_EVENTS_ROOT": str(tmp_path)}, stdout=out, stderr=err)
    assert main(["webhook-add", "--json"], ctx) == 2
    answer = json.loads(out.getvalue())
    assert answer["output"] == "" and "the following arguments are required: url" in answer["error"]
    out2, err2 = io.StringIO(), io.StringIO()
    ctx2 = Context(environ={"GLUSTER_EVENTS_ROOT": str(tmp_path)}, stdout=out2, stderr=err2)
    assert main(["webhook-add"], ctx2) == 2
    assert out2.getvalue() == "" and err2.getvalue().startswith("usage: gluster-eventsapi webhook-add")
