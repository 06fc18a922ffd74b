"""Webhooks that are down, failing, throttling, rejecting, hanging or slow (issue 2 and 4 cases)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from glustereventsd.spool import admin as spool
from tests.helpers import HANG, DaemonProcess, Receiver, send_lines, wait_for

FAST_RETRY = {"retry-min-backoff-secs": 0.05, "retry-max-backoff-secs": 0.5}


def spool_path(daemon: DaemonProcess) -> Path:
    return daemon.root / "var/lib/glustereventsd/spool.sqlite3"


def status_of(daemon: DaemonProcess, url: str) -> spool.HookStatus:
    return {s.url: s for s in spool.read_status(spool_path(daemon))}[url]


def names(prefix: str, count: int) -> list[bytes]:
    return [b"1468303352 2 name=%s%d" % (prefix.encode(), i) for i in range(count)]


def test_down_then_up_delivers_all_in_order(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    receiver.stop()
    send_lines(daemon.port, names("v", 50))
    wait_for(lambda: status_of(daemon, receiver.url).retried >= 2, what="retries while down")
    assert receiver.count() == 0
    receiver.start()
    wait_for(lambda: len(receiver.distinct_names()) == 50, timeout=15, what="all delivered after up")
    assert receiver.distinct_names() == [f"v{i}" for i in range(50)]
    wait_for(lambda: status_of(daemon, receiver.url).queued == 0, what="spool empty")
    status = status_of(daemon, receiver.url)
    assert status.delivered >= 50 and status.dead_letters == 0 and status.dropped == 0
    assert "connect" in status.last_error or "connection" in status.last_error


def test_500_then_200_same_webhook_id(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    receiver.behaviour.statuses = [500, 503, 200]
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=once"])
    wait_for(lambda: receiver.count() == 1, what="delivered after two 5xx")
    attempts = receiver.attempts_for("once")
    assert [a.status for a in attempts] == [500, 503, 200]
    assert len({a.headers["webhook-id"] for a in attempts}) == 1  # duplicates are detectable
    assert len({a.headers["x-gluster-event-seq"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    wait_for(lambda: status_of(daemon, receiver.url).retried == 2, what="retried counted")
    assert status_of(daemon, receiver.url).last_error == "HTTP 503"


def test_429_retry_after_is_honoured(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY | {"retry-max-backoff-secs": 5})
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    receiver.behaviour.statuses = [429]
    receiver.behaviour.headers = {"Retry-After": "2"}
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=throttled"])
    wait_for(lambda: receiver.count() == 1, what="delivered after 429")
    first, second = receiver.attempts_for("throttled")
    assert (first.status, second.status) == (429, 200)
    assert 1.9 <= second.at - first.at <= 4.5  # waited for Retry-After, not the 0.05 s backoff


def test_410_and_400_go_to_dead_letters_without_retry(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    receiver.behaviour.statuses = [410, 400]
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=gone", b"2 2 name=bad", b"3 2 name=fine"])
    wait_for(lambda: receiver.count() == 1, what="third delivered")
    wait_for(lambda: len(spool.list_dead(spool_path(daemon), receiver.url)) == 2, what="two dead letters")
    # With concurrency 1 a retry of "gone" or "bad" would have come before "fine": none did.
    assert [a.status for a in receiver.attempts_for("gone")] == [410]
    assert [a.status for a in receiver.attempts_for("bad")] == [400]
    dead = spool.list_dead(spool_path(daemon), receiver.url)
    assert [(d.name, d.ts, d.reason) for d in dead] == [("VOLUME_CREATE", 2, "HTTP 400"),
                                                        ("VOLUME_CREATE", 1, "HTTP 410")]
    wait_for(lambda: status_of(daemon, receiver.url).queued == 0, what="ack committed")
    status = status_of(daemon, receiver.url)
    assert (status.dead_letters, status.queued, status.retried) == (2, 0, 0)
    assert "Webhook rejected event, moved to dead letters" in daemon.log_text()


def test_hanging_webhook_times_out_and_retries_while_other_is_prompt(daemon: DaemonProcess, make_receiver) -> None:
    hanging, prompt = make_receiver(), make_receiver()
    hanging.behaviour.statuses = [HANG]
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({hanging.url: {"timeout-secs": 1, "concurrency": 1}, prompt.url: {"concurrency": 1}})
    daemon.start()
    sent = time.time()
    send_lines(daemon.port, [b"1 2 name=h0"])
    wait_for(lambda: prompt.count() == 1, timeout=2, what="prompt webhook")
    assert prompt.requests[0].at - sent < 0.5
    for i in range(1, 6):
        send_lines(daemon.port, [b"1 2 name=h%d" % i])
    wait_for(lambda: prompt.count() == 6, timeout=2, what="prompt webhook keeps receiving")
    assert max(r.at for r in prompt.requests) - sent < 1.0  # not held up by the hanging one
    wait_for(lambda: len(hanging.distinct_names()) == 6, timeout=10, what="hanging webhook after retry")
    assert hanging.distinct_names() == [f"h{i}" for i in range(6)]
    first_tries = hanging.attempts_for("h0")
    assert first_tries[0].status == HANG and first_tries[-1].status == 200
    assert first_tries[1].at - first_tries[0].at >= 0.9  # the 1 s timeout elapsed first
    assert "timeout" in status_of(daemon, hanging.url).last_error or "no answer" in status_of(daemon, hanging.url).last_error


def test_recovering_webhook_gets_the_oldest_event_alone_first(daemon: DaemonProcess, receiver: Receiver) -> None:
    """Default concurrency: while a webhook fails, one request at a time, the oldest event first."""
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    receiver.stop()
    send_lines(daemon.port, names("r", 10))
    wait_for(lambda: status_of(daemon, receiver.url).retried >= 3, what="retries while down")
    receiver.behaviour.statuses = [500, 500]
    receiver.start()
    wait_for(lambda: len(receiver.distinct_names()) == 10, timeout=15, what="all delivered after recovery")
    attempts = [(a.status, json_name(a.body), a.at) for a in receiver.attempts]
    assert [(status, name) for status, name, _ in attempts[:3]] == [(500, "r0"), (500, "r0"), (200, "r0")]
    recovered_at = attempts[2][2]
    assert all(at >= recovered_at for _, _, at in attempts[3:])
    assert sorted(name for _, name, _ in attempts[3:]) == sorted(f"r{i}" for i in range(1, 10))


def json_name(body: bytes) -> str:
    return str(json.loads(body)["message"]["name"])


def test_two_webhooks_one_slow(daemon: DaemonProcess, make_receiver) -> None:
    slow, fast = make_receiver(), make_receiver()
    slow.behaviour.delay_secs = 0.1
    daemon.write_webhooks({slow.url: {"concurrency": 1}, fast.url: {"concurrency": 1}})
    daemon.start()
    start = time.time()
    send_lines(daemon.port, names("s", 30))
    wait_for(lambda: fast.count() == 30, timeout=3, what="fast webhook")
    fast_done = time.time() - start
    assert slow.count() < 30  # 30 x 0.1 s: the slow one is still behind
    assert fast_done < 1.5
    wait_for(lambda: slow.count() == 30, timeout=15, what="slow webhook")
    assert slow.names() == fast.names() == [f"s{i}" for i in range(30)]


def test_slow_webhook_with_concurrency_gets_requests_in_parallel(daemon: DaemonProcess, receiver: Receiver) -> None:
    receiver.behaviour.delay_secs = 0.2
    daemon.write_webhooks({receiver.url: {"concurrency": 8}})
    daemon.start()
    start = time.time()
    send_lines(daemon.port, names("p", 40))
    wait_for(lambda: receiver.count() == 40, timeout=10, what="parallel delivery")
    assert time.time() - start < 40 * 0.2 / 2  # one at a time would take 8 s
    assert sorted(receiver.names()) == sorted(f"p{i}" for i in range(40))
