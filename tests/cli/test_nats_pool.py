"""A NATS sink on the real three-node SSH pool: its credential file is kept 0600 and synced to every
node like a CA bundle, and another node's daemon publishes with its own copy to a real nats-server."""

from __future__ import annotations

import re

import pytest

from tests import nats as natstest
from tests import secrets
from tests.helpers import send_raw, wait_for

ALL = ("node1", "node2", "node3")
pytestmark = pytest.mark.skipif(not natstest.available(),
                                reason="nats-server is not installed (apt-get install nats-server; .ci/run does)")


def test_a_creds_file_given_on_one_node_is_synced_and_used_on_another(pool, tmp_path):
    config, creds = natstest.operator_mode(secrets.CREDS_SEED)
    server = natstest.NatsServer(tmp_path / "nats", config=config).start()
    try:
        creds_file = tmp_path / "gluster.creds"
        creds_file.write_text(creds)
        natstest.add_stream(server.url, "GLUSTER_EVENTS", ["gluster.events.>"], user_credentials=str(creds_file))
        daemon = pool.start_daemon("node2")
        url = f"{server.url}/gluster.events"
        run = pool.cli("webhook-add", url, "--nats-creds", str(creds_file), "--events", "VOLUME_*")
        assert run.status == 0, run.out + run.err
        kept = pool.webhooks("node1")[url]["nats-creds"]
        assert re.fullmatch(r"nats/[0-9a-f]{16}\.creds", kept)
        for name in ALL:
            assert pool.webhooks(name) == {url: {"token": "", "secret": "", "nats-creds": kept, "events": ["VOLUME_*"]}}
            copy = pool.events_dir(name) / kept
            assert copy.read_bytes() == creds_file.read_bytes() and copy.stat().st_mode & 0o777 == 0o600
        creds_file.unlink()  # every node has its own copy now
        assert secrets.CREDS_SEED not in run.out + run.err
        wait_for(lambda: "NATS sink added" in daemon.log_text(), 15, what="node2 took the sink")
        send_raw(daemon.port, b"1468303352 2 name=from-node2")
        stored = natstest.read_stream(server.url, "GLUSTER_EVENTS", expect=1, timeout=30,
                                      user_credentials=str(pool.events_dir("node1") / kept))
        assert [message.json()["message"]["name"] for message in stored] == ["from-node2"]
        run = pool.cli("webhook-test", url)
        assert run.status == 0 and run.out.count("OK: stream GLUSTER_EVENTS") == 3, run.out + run.err
        # Dropping the sink removes every copy of its credentials.
        assert pool.cli("webhook-del", url).status == 0
        assert not any((pool.events_dir(name) / kept).exists() for name in ALL)
    finally:
        server.kill()
