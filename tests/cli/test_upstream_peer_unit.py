"""Rows for a peer where only Gluster's own gluster-eventsapi answers (its output as recorded from 10.3).

The same check runs end to end, over real SSH to a real Gluster node running upstream's CLI,
in tests/gluster/test_single_node.py; these keep it covered where Gluster is not installed.
"""

from __future__ import annotations

import pytest

from gluster_eventsapi.pool.fanout import Completed, SshSettings, classify

SETTINGS = SshSettings()
CHOICES = ("'node-reload', 'reload', 'node-status', 'status', 'webhook-add', 'webhook-mod', 'webhook-del', "
           "'node-webhook-test', 'webhook-test', 'config-get', 'config-set', 'config-reset', 'sync'")
UPSTREAM_USAGE = (
    "usage: gluster-eventsapi [-h]\n"
    "                         {reload,status,webhook-add,webhook-mod,webhook-del,webhook-test,config-get,"
    "config-set,config-reset,sync}\n"
    "                         ...\n"
    "gluster-eventsapi: error: argument {reload,status,webhook-add,webhook-mod,webhook-del,webhook-test,"
    "config-get,config-set,config-reset,sync}: invalid choice: '{command}' (choose from " + CHOICES + ")\n")


@pytest.mark.parametrize("command", ["node-sync", "node-webhook-status", "node-webhook-redeliver"])
def test_upstreams_refusal_of_our_node_commands(command: str) -> None:
    done = Completed(2, b"", UPSTREAM_USAGE.replace("{command}", command).encode())
    row = classify("node2", command, done, SETTINGS)
    assert row.up and not row.ok
    assert row.error.startswith("only Gluster's own gluster-eventsapi (glusterfs-server's) is installed there, ")
    assert "install this gluster-eventsapi on that node" in row.error and "gluster-eventsapi sync" in row.error


def test_upstreams_node_webhook_test_wants_arguments() -> None:
    stderr = ("usage: gluster-eventsapi node-webhook-test [-h] [--json]\n"
              "                                           url bearer_token secret\n"
              "gluster-eventsapi node-webhook-test: error: the following arguments are required: url, "
              "bearer_token, secret\n")
    row = classify("node2", "node-webhook-test", Completed(2, b"", stderr.encode()), SETTINGS)
    assert not row.ok and "only Gluster's own gluster-eventsapi" in row.error


@pytest.mark.parametrize("output,said", [(b'{"ok": true, "nodeid": "24747481-f94e-4e80-ab12-8a0bdffb4030", '
                                          b'"output": "UP"}\n', "(it reports glustereventsd UP)"),
                                         (b'{"ok": true, "nodeid": null, "output": "DOWN"}\n',
                                          "(it reports glustereventsd DOWN)"),
                                         (b'{"ok": true, "nodeid": null, "output": ""}\n', "is installed there,")])
def test_upstreams_own_answer_to_node_status_and_node_reload(output: bytes, said: str) -> None:
    row = classify("node2", "node-status", Completed(0, output, b""), SETTINGS)
    assert row.up and not row.ok and said in row.error
    assert "only Gluster's own gluster-eventsapi" in row.error


def test_our_own_older_version_is_still_a_version_mismatch() -> None:
    """Our CLI knows node-sync; an older one of ours lacking a newer command is not 'upstream'."""
    stderr = ("gluster-eventsapi: error: argument command: invalid choice: 'node-webhook-redeliver' (choose from "
              "'status', 'node-status', 'node-reload', 'node-sync', 'node-webhook-test')\n")
    row = classify("node2", "node-webhook-redeliver", Completed(2, b"", stderr.encode()), SETTINGS)
    assert "version mismatch" in row.error and "Gluster's own" not in row.error


def test_glusterd_down_is_said_plainly(tmp_path) -> None:
    """What /usr/sbin/gluster prints when glusterd is not running (measured): a sentence, exit 1."""
    from gluster_eventsapi.errors import CliError
    from gluster_eventsapi.pool.peers import gluster_pool

    script = tmp_path / "gluster"
    script.write_text("#!/bin/sh\necho 'Connection failed. Please check if gluster daemon is operational.'\n"
                      "exit 1\n")
    script.chmod(0o755)
    with pytest.raises(CliError) as caught:
        gluster_pool(str(script))
    assert str(caught.value.message) == ("'gluster pool list' failed: Connection failed. Please check if gluster "
                                         "daemon is operational. (is glusterd running? To use the peers "
                                         "file instead, set GLUSTER_EVENTS_POOL=peers-file)")
