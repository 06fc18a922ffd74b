"""On a pool, a CLI change reports OK on a node only once that node's daemon has applied it."""

from __future__ import annotations

import json
import socket
import time
from collections import Counter

import pytest

from tests.helpers import Receiver, wait_for

ALL = ("node1", "node2", "node3")
ROUNDS = 100
BUDGET_SECS = 300  # measured about 100 s on the 2-core machine: one SSH round trip per round


@pytest.mark.timeout(BUDGET_SECS + 120)
def test_an_event_sent_the_instant_webhook_add_returns_reaches_the_new_webhook(pool) -> None:
    """100 rounds in a row: add webhook i on the pool, at once send one event to every node's
    daemon, and every node delivers it to webhook i. Then the same for a delete."""
    receiver = Receiver()
    try:
        daemons = [pool.start_daemon(name) for name in ALL]
        deadline = time.monotonic() + BUDGET_SECS
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            def send(name: str) -> None:
                for daemon in daemons:
                    sock.sendto(f"{int(time.time())} 2 name={name}".encode(), ("127.0.0.1", daemon.port))

            def at(path: str) -> list[tuple[str, str]]:
                with receiver.lock:
                    bodies = [json.loads(r.body) for r in receiver.requests if r.path == path]
                return [(body["message"]["name"], body["nodeid"]) for body in bodies]

            for i in range(ROUNDS):
                assert time.monotonic() < deadline, f"round {i} not reached within {BUDGET_SECS}s"
                added = pool.cli("webhook-add", f"http://127.0.0.1:{receiver.port}/hook{i}", "--json")
                assert added.status == 0, (i, added.out, added.err)
                send(f"add{i}")  # the instant it returned
                wait_for(lambda: len({node for name, node in at(f"/hook{i}") if name == f"add{i}"}) == 3, 10,
                         what=f"round {i}: add{i} from all three nodes at webhook {i}")
            deleted = pool.cli("webhook-del", f"http://127.0.0.1:{receiver.port}/hook0", "--json")
            assert deleted.status == 0, (deleted.out, deleted.err)
            send("deleted")  # the instant it returned: no node may deliver it to webhook 0

        def wanted(i: int) -> Counter[str]:
            """Every event sent from round i on, once from each node; "deleted" not at webhook 0."""
            events = Counter({f"add{j}": 3 for j in range(i, ROUNDS)})
            if i > 0:
                events["deleted"] = 3
            return events

        def received(i: int) -> Counter[str]:
            got = Counter(name for name, _ in at(f"/hook{i}"))
            # An event belongs to the webhooks in force when the node's pipeline takes it: the
            # previous round's, sent before webhook i existed, may have been taken after.
            got.pop(f"add{i - 1}", None)
            return got

        wait_for(lambda: all(received(i) == wanted(i) for i in range(ROUNDS)), 60,
                 what="every event at every webhook in force when it was sent")
        time.sleep(0.5)  # anything more (a duplicate, "deleted" at webhook 0) would be here by now
        assert [i for i in range(ROUNDS) if received(i) != wanted(i)] == []
        for daemon in daemons:  # one reload per change on every node, however it was noticed
            assert daemon.log_text().count("Configuration reloaded") == ROUNDS + 1
    finally:
        receiver.stop()
