"""Every CLI example of the user's document (seed), on a real two-node pool over SSH.

The expected texts are copied from the seed as they are printed there; the pool is
localhost (node1) plus node2, each with a running glustereventsd.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import Receiver

SEED_STATUS = """\
Webhooks:
None

+-----------+-------------+-----------------------+
|    NODE   | NODE STATUS | GLUSTEREVENTSD STATUS |
+-----------+-------------+-----------------------+
| localhost |          UP |                    UP |
| node2     |          UP |                    UP |
+-----------+-------------+-----------------------+
"""

SEED_WEBHOOK_TEST = """\
+-----------+-------------+----------------+
|    NODE   | NODE STATUS | WEBHOOK STATUS |
+-----------+-------------+----------------+
| localhost |          UP |             OK |
| node2     |          UP |             OK |
+-----------+-------------+----------------+
"""

SEED_SYNC = """\
+-----------+-------------+-------------+
|    NODE   | NODE STATUS | SYNC STATUS |
+-----------+-------------+-------------+
| localhost |          UP |          OK |
| node2     |          UP |          OK |
+-----------+-------------+-------------+
"""

SEED_CONFIG_GET = """\
+-----------+-------+
|    NAME   | VALUE |
+-----------+-------+
| log_level | INFO  |
|    port   | 24009 |
+-----------+-------+
"""


@pytest.fixture
def seed_pool(pool):
    pool.set_peers("node2")
    pool.start_daemon("node1")
    pool.start_daemon("node2")
    return pool


def test_status(seed_pool):
    run = seed_pool.cli("status")
    assert (run.status, run.out, run.err) == (0, SEED_STATUS, "")


def test_webhook_test_add_del(seed_pool):
    receiver = Receiver()
    try:
        run = seed_pool.cli("webhook-test", receiver.url)
        assert (run.status, run.out, run.err) == (0, SEED_WEBHOOK_TEST, "")
        assert [r.body for r in receiver.requests] == [b"{}", b"{}"]  # one test POST per node

        run = seed_pool.cli("webhook-add", receiver.url)
        assert (run.status, run.out, run.err) == (0, SEED_SYNC, "")
        assert seed_pool.webhooks("node2") == {receiver.url: {"token": "", "secret": ""}}

        run = seed_pool.cli("status")
        assert run.out == SEED_STATUS.replace("None", receiver.url)

        run = seed_pool.cli("webhook-del", receiver.url)
        assert (run.status, run.out) == (0, SEED_SYNC)
        assert seed_pool.webhooks("node2") == {}
    finally:
        receiver.stop()


def test_config_set_and_reset(seed_pool):
    run = seed_pool.cli("config-set", "log_level", "DEBUG")
    assert (run.status, run.out, run.err) == (0, SEED_SYNC, "")
    on_node2 = json.loads(seed_pool.file_bytes("node2", "config.json"))
    assert on_node2 == {"log-level": "DEBUG"}
    run = seed_pool.cli("config-reset", "log_level")
    assert (run.status, run.out, run.err) == (0, SEED_SYNC, "")
    assert json.loads(seed_pool.file_bytes("node2", "config.json")) == {}


def test_config_get(pool):
    # The seed shows Gluster 3.9's shipped defaults file, which held these two keys.
    defaults = pool.root("node1") / "etc/glusterfs/eventsconfig.json"
    defaults.write_text(json.dumps({"log_level": "INFO", "port": 24009}))
    run = pool.cli("config-get")
    assert (run.status, run.out, run.err) == (0, SEED_CONFIG_GET, "")


def test_help_usage_lines_follow_the_seed(pool):
    run = pool.cli("webhook-test", "--help")
    assert run.status == 0
    assert "--bearer_token BEARER_TOKEN, -t BEARER_TOKEN" in run.out
    assert "URL of Webhook" in run.out and "optional arguments:" in run.out
    run = pool.cli("config-reset", "--help")
    assert "Config Name or all" in run.out
