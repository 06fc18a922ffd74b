"""The Prometheus endpoint, scraped over HTTP after a known workload: exact counts."""

from __future__ import annotations

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import DaemonProcess, Receiver, send_raw, wait_for


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_after_a_known_workload(daemon: DaemonProcess, receiver: Receiver, make_receiver) -> None:
    rejecting = make_receiver()
    rejecting.behaviour.default = 410
    metrics_port = free_tcp_port()
    daemon.write_config({"metrics-port": metrics_port, "webhook-concurrency": 1})
    daemon.write_webhooks({receiver.url: {}, rejecting.url: {}})
    daemon.start()
    for i in range(5):
        send_raw(daemon.port, f"1468303352 2 name=v{i}".encode())
    for i in range(3):
        send_raw(daemon.port, f"1468303352 3 name=v{i};force=1".encode())
    send_raw(daemon.port, b"garbage")
    send_raw(daemon.port, b"1468303352 999 name=x")
    send_raw(daemon.port, b"\xff\xfe")
    wait_for(lambda: receiver.count() == 8, what="8 events delivered")
    hook = receiver.url
    gone = rejecting.url

    def settled():
        # The receiver has its 8 events a moment before the pipeline has counted the last ones,
        # and the spool's queue depth follows once the committer has written their acks.
        samples = scrape(metrics_port)
        done = (samples.get(("gluster_events_dead_letters_total", (("webhook", gone),))) == 8
                and samples.get(("gluster_events_delivered_total", (("webhook", hook),))) == 8
                and samples.get(("gluster_events_queue_depth", (("webhook", hook),))) == 0)
        return samples if done else None

    samples = wait_for(settled, what="8 dead letters for the 410 webhook and 8 deliveries counted")
    assert samples[("gluster_events_received_total", (("event", "VOLUME_CREATE"),))] == 5
    assert samples[("gluster_events_received_total", (("event", "VOLUME_START"),))] == 3
    assert samples[("gluster_events_parse_errors_total", (("reason", "bad_format"),))] == 1
    assert samples[("gluster_events_parse_errors_total", (("reason", "unknown_type"),))] == 1
    assert samples[("gluster_events_parse_errors_total", (("reason", "not_utf8"),))] == 1
    assert samples[("gluster_events_delivered_total", (("webhook", hook),))] == 8
    assert ("gluster_events_delivered_total", (("webhook", gone),)) not in samples
    assert samples[("gluster_events_delivery_latency_seconds_count", (("webhook", hook),))] == 8
    assert samples[("gluster_events_delivery_latency_seconds_bucket", (("le", "+Inf"), ("webhook", hook)))] == 8
    assert samples[("gluster_events_queue_depth", (("webhook", hook),))] == 0
    assert samples[("gluster_events_queue_oldest_age_seconds", (("webhook", hook),))] == 0


def test_metrics_show_backlog_and_retries_of_a_down_webhook(daemon: DaemonProcess, receiver: Receiver) -> None:
    metrics_port = free_tcp_port()
    receiver.stop()  # connection refused from now on
    daemon.write_config({"metrics-port": metrics_port, "retry-min-backoff-secs": 0.1,
                         "retry-max-backoff-secs": 0.2, "webhook-concurrency": 1})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    for i in range(4):
        send_raw(daemon.port, f"1468303352 2 name=v{i}".encode())

    def backlog():
        samples = scrape(metrics_port)
        retries = samples.get(("gluster_events_delivery_retries_total", (("reason", "connect"), ("webhook", receiver.url))), 0)
        return samples if samples.get(("gluster_events_queue_depth", (("webhook", receiver.url),))) == 4 and retries >= 2 else None

    samples = wait_for(backlog, what="4 queued and retries counted")
    assert samples[("gluster_events_queue_oldest_age_seconds", (("webhook", receiver.url),))] > 0
    assert samples[("gluster_events_queue_memory_only", (("webhook", receiver.url),))] == 0  # all 4 are spooled
