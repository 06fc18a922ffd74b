"""The opt-in Prometheus endpoint: the daemon's counters, exposed at scrape time.

Nothing is counted twice: a custom collector reads ``Stats`` and the pipeline's spool depth
when Prometheus scrapes, so the hot path pays nothing for metrics. The registry is built
here, not taken from prometheus_client's process-wide default. Names follow Prometheus
conventions: ``_total`` counters, seconds as the base unit.

Counters that alert rules watch (etc/prometheus/glustereventsd-alerts.yml) are exported at 0
before their first increment, for every label value known up front (drop reasons, spool
errors, each webhook's dead letters): ``increase()`` cannot see the first increment of a
series that appears with it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from glustereventsd.base.stats import QueueGauge, Stats
from glustereventsd.sinks.concurrency import REASONS
from glustereventsd.spool.reader import SpoolReader
from glustereventsd.spool.records import ConditionRow

log = logging.getLogger("glustereventsd.metrics")
PREFIX = "gluster_events"
#: Label values exported at 0 until counted (the reasons the daemon counts under each name).
KNOWN_LABELS: dict[str, tuple[str, ...]] = {
    "dropped": ("sender_not_allowed", "rate_limited", "intake_full", "spool_full", "shutdown"),
    "spool_errors": ("write_failed",),
    "spool_recoveries": ("rebuilt", "failed"),  # at 0 from the start, so increase() sees the first one
}


def spool_conditions(path: Path) -> Callable[[], list[ConditionRow]]:
    """What the conditions gauge reads at each scrape: the spool's ``conditions`` table, through a
    reader opened for that scrape (the file may have been rebuilt since the last one)."""

    def read() -> list[ConditionRow]:
        try:
            reader = SpoolReader(path)
        except sqlite3.Error:
            return []
        try:
            return reader.conditions()
        except sqlite3.Error as err:
            log.warning("Cannot read the open conditions for the metrics: %s", err)
            return []
        finally:
            reader.close()

    return read


def open_now(row: ConditionRow, now: float) -> bool:
    """True for a condition not closed nor expired, or an alarm not over yet."""
    if row.closed_at:
        return False
    if row.kind == "alarm":
        return row.ends_at > now
    return not row.ends_at or row.ends_at > now


def condition_labels(row: ConditionRow) -> dict[str, str] | None:
    """The gauge's labels of one condition: its alert labels, ``alertname`` as ``condition`` (a rule's
    alertname would replace it), and ``kind``; None for a row whose labels do not read."""
    try:
        labels = json.loads(row.labels)
    except ValueError:
        return None
    if not isinstance(labels, dict):
        return None
    made = {str(k): str(v) for k, v in labels.items() if k != "alertname"}
    made["condition"] = row.alertname
    made["kind"] = row.kind
    return made


class DaemonCollector(Collector):
    """Turns ``Stats``, the queue gauges and the open conditions into metric families."""

    def __init__(self, stats: Stats, queues: Callable[[], list[QueueGauge]],
                 conditions: Callable[[], list[ConditionRow]] = list) -> None:
        self.stats = stats
        self.queues = queues
        self.conditions = conditions

    def collect(self) -> Iterator[Any]:
        """Yield every metric family (called by prometheus_client on each scrape)."""
        counts = self.stats.snapshot()
        simple = {
            "received": ("received_total", "Events received and published, by event name.", "event"),
            "parse_errors": ("parse_errors_total", "Datagrams dropped as malformed, by reason.", "reason"),
            "dropped": ("dropped_total", "Events or datagrams dropped, by reason.", "reason"),
            "delivered": ("delivered_total", "Events delivered (2xx), by webhook.", "webhook"),
            "dead_letters": ("dead_letters_total", "Events moved to the dead letters, by webhook.", "webhook"),
            "duplicates": ("duplicates_total", "Deliveries a NATS stream already held (PubAck duplicate: a retry "
                           "of a stored event, stored once), by sink.", "webhook"),
            "not_spooled": ("not_spooled_total", "Events that could not be written to the spool.", "reason"),
            "null_details": ("null_details_total", "Events delivered with an empty message because Gluster "
                             "sent '(null)' as their details, by event name.", "event"),
            "spool_errors": ("spool_errors_total", "Failed spool writes (full disk, I/O error), by reason; "
                             "meanwhile events are delivered from memory only.", "reason"),
            "spool_recoveries": ("spool_recoveries_total", "Unusable spool files found, by outcome: rebuilt (moved "
                                 "aside, recovered into a fresh one) or failed (left as is).", "outcome"),
            "spool_recovered_events": ("spool_recovered_events_total",
                                       "Queued events recovered from an unusable spool, by method.", "method"),
            "spool_lost_events": ("spool_lost_events_total",
                                  "Queued events an unusable spool lost (estimated from its counters), by cause.",
                                  "cause"),
        }
        families = {key: CounterMetricFamily(f"{PREFIX}_{name}", text, labels=[label])
                    for key, (name, text, label) in simple.items()}
        retries = CounterMetricFamily(f"{PREFIX}_delivery_retries_total",
                                      "Failed delivery attempts that will be retried, by webhook and reason.",
                                      labels=["webhook", "reason"])
        gauges = self.queues()
        seeded = {(name, label) for name, labels in KNOWN_LABELS.items() for label in labels}
        seeded |= {("dead_letters", gauge.webhook) for gauge in gauges}
        for key in seeded:
            counts.setdefault(key, 0)
        for (name, label), value in sorted(counts.items(), key=lambda item: str(item[0])):
            if name == "retried" and isinstance(label, tuple):
                retries.add_metric(list(label), value)
            elif name in families and isinstance(label, str):
                families[name].add_metric([label], value)
        yield from families.values()
        yield retries
        latency = HistogramMetricFamily(f"{PREFIX}_delivery_latency_seconds",
                                        "Time from receipt of an event to its delivery, by webhook.",
                                        labels=["webhook"])
        for label, histogram in sorted(self.stats.histograms("delivery_latency_seconds").items(), key=str):
            latency.add_metric([str(label)], histogram.cumulative(), histogram.sum)
        yield latency
        depth = GaugeMetricFamily(f"{PREFIX}_queue_depth", "Events waiting for delivery, by webhook.",
                                  labels=["webhook"])
        age = GaugeMetricFamily(f"{PREFIX}_queue_oldest_age_seconds",
                                "Age of the oldest event waiting, by webhook (0 when none).", labels=["webhook"])
        memory = GaugeMetricFamily(f"{PREFIX}_queue_memory_only",
                                   "Events waiting in memory only, not in the spool (spool memory, or the spool "
                                   "could not be written: they are lost if the daemon stops), by webhook.",
                                   labels=["webhook"])
        limit = GaugeMetricFamily(f"{PREFIX}_delivery_concurrency_limit",
                                  "Attempts each destination may have in flight now (adaptive, between 1 and its "
                                  "concurrency), by webhook.", labels=["webhook"])
        why = GaugeMetricFamily(f"{PREFIX}_delivery_concurrency_reason",
                                "Why the in-flight limit is what it is: 1 for the current reason, 0 for the others "
                                "(start, growing, ceiling, rtt rose, 429, 503, connect error, timeout), by webhook.",
                                labels=["webhook", "reason"])
        for gauge in gauges:
            depth.add_metric([gauge.webhook], gauge.depth)
            age.add_metric([gauge.webhook], gauge.oldest_age_secs)
            memory.add_metric([gauge.webhook], gauge.memory_only)
            if gauge.concurrency is not None:
                limit.add_metric([gauge.webhook], gauge.concurrency[0])
                for reason in REASONS:
                    why.add_metric([gauge.webhook, reason], 1.0 if reason == gauge.concurrency[1] else 0.0)
        yield depth
        yield age
        yield memory
        yield limit
        yield why
        yield from self._conditions()

    def _conditions(self) -> Iterator[Any]:
        """``gluster_events_condition_open`` (1) and ``..._opened_timestamp_seconds``, one series per open
        condition or alarm this node reported, labelled like its alert (docs/CONDITIONS.md)."""
        now = time.time()
        opened = Metric(f"{PREFIX}_condition_open", "Gluster conditions open and alarms on, as this node saw "
                        "them: 1 per condition, labelled like its alert (condition = the alertname).", "gauge")
        since = Metric(f"{PREFIX}_condition_opened_timestamp_seconds",
                       "When each open condition opened (the event's time), labelled as condition_open.", "gauge")
        for row in self.conditions():
            labels = condition_labels(row) if open_now(row, now) else None
            if labels is not None:
                opened.add_sample(f"{PREFIX}_condition_open", labels, 1)
                since.add_sample(f"{PREFIX}_condition_opened_timestamp_seconds", labels, row.opened_at)
        yield opened
        yield since


class MetricsServer:
    """The HTTP endpoint, started and stopped with the daemon."""

    def __init__(self, collector: DaemonCollector) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self, address: str, port: int) -> int:
        """Listen on ``address:port`` (0: any free port); return the port. Raises OSError."""
        self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)
        bound = int(self._server.server_address[1])
        log.info("Metrics endpoint listening address=%s port=%d", address, bound)
        return bound

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
