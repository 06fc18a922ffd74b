"""The whole path: a datagram sent with gf_event reaches a real webhook with the exact body."""

from __future__ import annotations

from pathlib import Path

from eventtypes.emit import gf_event
from tests.helpers import DaemonProcess, Receiver, wait_for


def test_event_reaches_webhook(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"token": "", "secret": ""}})
    daemon.start()
    assert gf_event("VOLUME_CREATE", port=daemon.port, ts=1468303352, name="gv1")
    wait_for(receiver.count, what="event delivered")
    request = receiver.requests[0]
    nodeid = (daemon.root / "var/lib/glustereventsd/node-id").read_text().strip()
    expected = ('{"event": "VOLUME_CREATE", "message": {"name": "gv1"}, "nodeid": "%s", "ts": 1468303352}'
                % nodeid).encode()
    assert request.body == expected
    assert request.headers["content-type"] == "application/json"
    assert "authorization" not in request.headers


def test_threads_are_named_for_top_and_ps(daemon: DaemonProcess, receiver: Receiver) -> None:
    """``top -H`` / ``ps -L`` show what each thread does, and the process is not just "python"."""
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    assert daemon.proc is not None
    tasks = Path(f"/proc/{daemon.proc.pid}/task")
    names = {(task / "comm").read_text().strip() for task in tasks.iterdir()}
    assert {"glustereventsd", "gev-pipeline", "gev-udp-v4", "gev-deliver"} <= names, names
