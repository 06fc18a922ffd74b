"""IPv6 webhooks: the seed's own example on [::1], added, shown, tested and delivered to with the real CLI and daemon."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from tests.helpers import DaemonProcess, send_raw, wait_for
from tests.receivers.conftest import Envs, RunningReceiver, free_tcp_port
from tests.receivers.test_matrix import KINDS, cli, launch, unavailable

pytestmark = pytest.mark.timeout(120)


def test_ipv6_literal_webhook_end_to_end(receiver_envs: Envs, start_receiver: Callable[..., RunningReceiver],
                                         make_daemon: Callable[..., DaemonProcess]) -> None:
    unavailable(receiver_envs, KINDS["seed-flask-current"])
    receiver = launch(start_receiver, receiver_envs, "seed-flask-current", host="::1")
    url = f"http://[::1]:{receiver.port}/listen"
    assert receiver.url == url
    daemon = make_daemon()
    daemon.events_dir.mkdir(parents=True, exist_ok=True)
    (daemon.events_dir / "peers.json").write_text("{}")
    daemon.start()
    root = daemon.root

    for added in (url, "https://[fd00::5]/hook"):  # the second is only registered, never sent to
        done = cli(root, "webhook-add", added)
        assert done.returncode == 0, done.stdout + done.stderr
    done = cli(root, "status")
    assert done.stdout.startswith(f"Webhooks:\n{url}\nhttps://[fd00::5]/hook\n\n"), done.stdout
    done = cli(root, "status", "--json")
    assert json.loads(done.stdout)["output"]["webhooks"] == [url, "https://[fd00::5]/hook"]
    done = cli(root, "webhook-del", "https://[fd00::5]/hook")
    assert done.returncode == 0, done.stdout + done.stderr

    done = cli(root, "webhook-test", url)
    assert done.returncode == 0 and "|             OK |" in done.stdout, done.stdout + done.stderr
    test = next(seen for seen in receiver.seen() if seen.body == b"{}")
    assert test.host == f"[::1]:{receiver.port}"  # RFC 9110: an IPv6 literal in brackets

    send_raw(daemon.port, f"{int(time.time())} 2 name=gv-v6".encode(), host="::1")
    event = wait_for(lambda: next((s for s in receiver.seen() if b"gv-v6" in s.body), None), 20,
                     what="the event at [::1]")
    assert event.host == f"[::1]:{receiver.port}" and event.content_type == "application/json"
    body = json.loads(event.body)
    wait_for(lambda: str(body) in receiver.printed(), 5, what="the seed's example to print the event")

    closed = free_tcp_port("::1")
    done = cli(root, "webhook-test", f"http://[::1]:{closed}/listen", "--json")
    assert done.returncode == 3, done.stdout + done.stderr
    row = json.loads(done.stdout)["output"][0]
    assert row["error"] == f"cannot connect to [::1]:{closed}: Connection refused", row
    done = cli(root, "webhook-test", f"http://[::1]:{closed}/listen")
    assert f"NOT OK: cannot connect to [::1]:{closed}: Connection refused |" in done.stdout, done.stdout
