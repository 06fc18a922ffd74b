"""Gluster's own CLI as the oracle for the error words scripts read: same words first, same exit codes.

On one real Gluster node (tests/gluster/node.py), each failure is caused for Gluster's own
``gluster-eventsapi`` and for ours, on the same files: both must exit with the same status,
our stderr must start with the exact line upstream prints (our detail after a colon), and our
``--json`` ``error`` must start with upstream's ``error``. The sync failures are caused as
upstream meets them: glusterd stopped, so the pool cannot be reached.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.gluster.holder import WORKDIR
from tests.gluster.node import GlusterNode, NodeProcess, skip_reason, wait_until
from tests.gluster.session import OUR_CLI

SKIP = skip_reason()
pytestmark = [pytest.mark.skipif(SKIP is not None, reason=str(SKIP)), pytest.mark.timeout(240)]

URL = "http://127.0.0.1:9/upstream-errors"
UPSTREAM_CLI = "/usr/sbin/gluster-eventsapi"


@dataclass
class Node:
    node: GlusterNode
    glusterd: NodeProcess

    def ours(self, *args: str) -> tuple[int, str, str]:
        done = self.node.run([*OUR_CLI, *args])
        return done.returncode, done.stdout, done.stderr

    def upstream(self, *args: str) -> tuple[int, str, str]:
        done = self.node.run([UPSTREAM_CLI, *args])
        return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def gnode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = GlusterNode(tmp_path_factory.mktemp("gluster-errors")).start()
    try:
        glusterd = node.spawn("glusterd", ["glusterd", "-N"])
        wait_until(lambda: node.gluster("pool", "list").returncode == 0, 30, "glusterd to answer")
        yield Node(node, glusterd)
    finally:
        node.close()


def same_failure(gnode: Node, args: tuple[str, ...], status: int, words: str) -> None:
    """Both CLIs fail ``args`` with ``status``; upstream says ``words``; ours starts with them."""
    code, out, err = gnode.upstream(*args)
    assert code == status and out == "", (args, code, out, err)
    assert err == f"{words}\n" or err.startswith(f"{words}: "), (args, err)  # the sync errors add the cause
    code, out, err = gnode.ours(*args)
    assert code == status and out == "", (args, code, out, err)
    assert err == f"{words}\n" or err.startswith(f"{words}: "), (args, err)

    code, out, _ = gnode.upstream(*args, "--json")
    upstream_answer = json.loads(out)
    assert code == status and upstream_answer["output"] == "", (args, code, out)
    assert upstream_answer["error"].startswith(words), upstream_answer
    code, out, err = gnode.ours(*args, "--json")
    mine = json.loads(out)
    assert code == status and mine["output"] == "", (args, code, out, err)
    assert mine["error"] == upstream_answer["error"] or mine["error"].startswith(f"{words}: "), (mine, upstream_answer)


def test_webhook_and_config_errors_keep_upstreams_words_and_exit_codes(gnode: Node) -> None:
    code, out, err = gnode.upstream("webhook-add", URL)
    assert code == 0, out + err  # registered with upstream's CLI: both now see it
    same_failure(gnode, ("webhook-add", URL), 5, "Webhook already exists")
    same_failure(gnode, ("webhook-del", URL + "/missing"), 6, "Webhook does not exists")
    same_failure(gnode, ("webhook-mod", URL + "/missing", "--bearer_token", "t"), 6, "Webhook does not exists")
    same_failure(gnode, ("config-get", "--name", "no-such-item"), 7, "Invalid Config item")
    same_failure(gnode, ("config-set", "no-such-item", "1"), 7, "Invalid Config item")
    code, out, err = gnode.upstream("config-set", "log-level", "DEBUG")
    assert code == 0, out + err
    same_failure(gnode, ("config-set", "log-level", "DEBUG"), 2, "Config value not changed. Same config")
    code, out, err = gnode.upstream("config-reset", "log-level")
    assert code == 0, out + err
    same_failure(gnode, ("config-reset", "log-level"), 2, "Config value not reset. Already set to default value")
    same_failure(gnode, ("config-reset", "no-such-item"), 2, "Config value not reset. Already set to default value")


def test_sync_failures_keep_upstreams_words_and_exit_codes(gnode: Node) -> None:
    """glusterd down: the webhooks file fails first (8); without one, the config file (9)."""
    if gnode.upstream("webhook-add", URL)[0] not in (0, 5):
        pytest.fail("could not register the webhook with upstream's CLI")
    code, out, err = gnode.upstream("config-set", "log-level", "WARNING")
    assert code in (0, 2), out + err
    gnode.node.stop(gnode.glusterd)
    # With glusterd down, 'gluster system:: getwd' fails and both CLIs fall back to the default
    # workdir: show them the node's own there (its private mount namespace), as on a stock node.
    shown = gnode.node.run(["sh", "-c", f"mkdir -p /var/lib/glusterd && mount --bind {WORKDIR} /var/lib/glusterd"])
    assert shown.returncode == 0, shown.stderr
    same_failure(gnode, ("sync",), 8, "Failed to sync Webhooks file")
    moved = gnode.node.run(["mv", f"{WORKDIR}/events/webhooks.json", f"{WORKDIR}/events/webhooks.json.aside"])
    assert moved.returncode == 0, moved.stderr
    same_failure(gnode, ("sync",), 9, "Failed to sync Config file")
