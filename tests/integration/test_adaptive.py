"""Adaptive concurrency against real receivers, the daemon a real process (issue 21).

A receiver that takes 200 ms per request whatever the load gets more requests at once than
the old fixed 8, and faster; ``webhook-status`` and the metrics show the limit and why. A
receiver that serves one request at a time is not driven to 8 at once.
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

from gluster_eventsapi.__main__ import main
from gluster_eventsapi.context import Context
from tests.helpers import DaemonProcess, Receiver, send_lines, wait_for
from tests.integration.test_metrics import free_tcp_port, scrape


def webhook_status(daemon: DaemonProcess) -> tuple[dict[str, object], str]:
    env = {"GLUSTER_EVENTS_ROOT": str(daemon.root), "PATH": "/usr/bin:/bin"}
    out, table = io.StringIO(), io.StringIO()
    main(["webhook-status", "--json"], Context(environ=env, stdin=io.StringIO(), stdout=out, stderr=io.StringIO()))
    main(["webhook-status"], Context(environ=env, stdin=io.StringIO(), stdout=table, stderr=io.StringIO()))
    return json.loads(out.getvalue())["output"][0]["webhooks"][0], table.getvalue()


class StatusRewrites:
    """Counts the rewrites of the daemon's status file (each an atomic rename: a new inode) until stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        seen = None
        while not self._stop.wait(0.02):
            try:
                inode = self.path.stat().st_ino
            except FileNotFoundError:
                continue
            if seen is not None and inode != seen:
                self.count += 1
            seen = inode

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def most_at_once(receiver: Receiver, service_secs: float) -> int:
    """The most requests the receiver was serving at once (each took ``service_secs`` from its arrival)."""
    times = sorted(a.at for a in receiver.attempts)
    most, start = 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - service_secs:
            start += 1
        most = max(most, end - start + 1)
    return most


def test_a_slow_receiver_gets_more_at_once_and_status_and_metrics_show_the_limit(
        daemon: DaemonProcess, receiver: Receiver) -> None:
    receiver.behaviour.delay_secs = 0.2
    metrics_port = free_tcp_port()
    daemon.write_config({"metrics-port": metrics_port})
    daemon.write_webhooks({receiver.url: {}})  # the defaults: start at 8, ceiling webhook-concurrency (64)
    daemon.start()
    rewrites = StatusRewrites(daemon.root / "run/glustereventsd/status.json")
    start = time.monotonic()
    send_lines(daemon.port, [b"1468303352 2 name=s%d" % i for i in range(600)])
    wait_for(lambda: receiver.count() == 600, timeout=30, what="600 events at 200 ms each")
    took = time.monotonic() - start
    rewrites.stop()
    # The limit changed on nearly every round trip; the status file shows such changes at most
    # every CONCURRENCY_FIGURES_SECS (5 s): each rewrite costs the busy delivery a stall.
    assert 1 <= rewrites.count <= int(took / 5) + 2, (rewrites.count, took)
    assert sorted(receiver.names()) == sorted(f"s{i}" for i in range(600))
    # A fixed 8 needs 600 / (8 / 0.2 s) = 15 s; one more at once per round trip needs about 6 s.
    assert took < 12, f"took {took:.1f}s"
    assert most_at_once(receiver, 0.2) > 12

    def limit_shown():
        hook, table = webhook_status(daemon)
        return (hook, table) if isinstance(hook.get("concurrency_limit"), int) and hook["concurrency_limit"] > 8 \
            else None

    # The status file shows a change of the limits alone at most CONCURRENCY_FIGURES_SECS (5 s) late.
    hook, table = wait_for(limit_shown, timeout=12, what="the grown limit in webhook-status")
    assert hook["concurrency_reason"] in ("growing", "ceiling")
    assert "IN FLIGHT" in table and f"{hook['concurrency_limit']} {hook['concurrency_reason']}" in table
    samples = scrape(metrics_port)
    assert samples[("gluster_events_delivery_concurrency_limit", (("webhook", receiver.url),))] > 8
    reasons = {dict(labels)["reason"]: value for (name, labels), value in samples.items()
               if name == "gluster_events_delivery_concurrency_reason"}
    assert sum(reasons.values()) == 1 and reasons[str(hook["concurrency_reason"])] == 1


def test_a_receiver_that_serves_one_at_a_time_is_not_sent_eight_at_once(daemon: DaemonProcess) -> None:
    """One worker, 20 ms a request: more at once only queue. The limit comes down from 8 and stays low."""
    serial = threading.Lock()
    receiver = Receiver()
    original = receiver._handler

    def handler():  # type: ignore[no-untyped-def]
        base = original()

        class Serial(base):  # type: ignore[misc,valid-type]
            def do_POST(self) -> None:  # noqa: N802
                with serial:
                    time.sleep(0.02)
                    super().do_POST()

        return Serial

    receiver._handler = handler  # type: ignore[method-assign]
    receiver.stop()
    receiver.start()
    try:
        daemon.write_webhooks({receiver.url: {}})
        daemon.start()
        send_lines(daemon.port, [b"1468303352 2 name=q%d" % i for i in range(300)])
        wait_for(lambda: receiver.count() == 300, timeout=30, what="300 events, one at a time")

        def low_limit_shown():  # type: ignore[no-untyped-def]
            hook = webhook_status(daemon)[0]
            limit = hook.get("concurrency_limit")
            return hook if isinstance(limit, int) and limit <= 4 else None

        hook = wait_for(low_limit_shown, timeout=12, what="a limit of 4 or less in webhook-status")
        assert hook["concurrency_reason"] in ("rtt rose", "growing")
    finally:
        receiver.stop()
