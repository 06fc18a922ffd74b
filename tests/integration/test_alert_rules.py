"""The shipped Prometheus alert rules: valid, unit-tested by promtool, and naming real metrics.

``promtool`` (Debian's ``prometheus`` package) checks the rules file and runs its unit tests
(tests/prometheus/glustereventsd-alerts.test.yml: series that fire and series that must not).
The metric names the rules use are checked against a real daemon's scrape, so renaming a
metric without the rules breaks this test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from eventtypes.emit import gf_event

from tests.helpers import REPO, DaemonProcess, Receiver, send_raw, wait_for
from tests.integration.test_metrics import free_tcp_port, scrape

RULES = REPO / "etc/prometheus/glustereventsd-alerts.yml"
RULE_TESTS = REPO / "tests/prometheus/glustereventsd-alerts.test.yml"


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run must install Debian's prometheus package")
        pytest.skip("promtool is not installed (apt-get install -y prometheus)")
    return found


def rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule["expr"] for group in groups for rule in group["rules"]}


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout


def test_promtool_unit_tests_of_the_rules() -> None:
    done = subprocess.run([promtool(), "test", "rules", str(RULE_TESTS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_unit_tests_fail_when_an_alert_is_wrong(tmp_path: Path) -> None:
    """The unit tests can fail: the same file, expecting the failing webhook at 4 minutes."""
    text = RULE_TESTS.read_text().replace("../../etc/prometheus/", f"{RULES.parent}/")
    broken = text.replace("      - eval_time: 4m\n        alertname: GlusterEventsWebhookFailing\n"
                          "        exp_alerts: []", "      - eval_time: 4m\n        alertname: "
                          "GlusterEventsWebhookFailing\n        exp_alerts: [{exp_labels: {severity: critical}}]")
    assert broken != text
    (tmp_path / "broken.test.yml").write_text(broken)
    done = subprocess.run([promtool(), "test", "rules", str(tmp_path / "broken.test.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "FAILED" in done.stdout + done.stderr


def test_every_alert_the_issue_asks_for_is_there() -> None:
    expressions = rule_expressions()
    assert set(expressions) == {"GlusterEventsWebhookFailing", "GlusterEventsDeliveryBehind",
                                "GlusterEventsDropped", "GlusterEventsDeadLettersGrowing",
                                "GlusterEventsSpoolWriteFailing", "GlusterEventsMetricsDown",
                                "GlusterEventsMetricsAbsent", "GlusterConditionOpen"}
    assert "without (instance)" in expressions["GlusterConditionOpen"]  # several nodes' reports: one alert
    assert "by (job, instance, reason)" in expressions["GlusterEventsDropped"]
    assert 'absent(up{job="glustereventsd"})' in expressions["GlusterEventsMetricsAbsent"]


def test_rules_name_metrics_that_a_real_daemon_exports(daemon: DaemonProcess) -> None:
    down = Receiver()
    down.stop()  # connection refused: the daemon retries, so the retry counter exists
    metrics_port = free_tcp_port()
    daemon.write_config({"metrics-port": metrics_port, "retry-min-backoff-secs": 0.1,
                         "retry-max-backoff-secs": 0.2, "webhook-concurrency": 1})
    daemon.write_webhooks({down.url: {}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=gv1")
    gf_event("BRICK_DISCONNECTED", port=daemon.port, peer="h2", volume="gv0", brick="/b1")  # opens a condition
    gf_event("AFR_SPLIT_BRAIN", port=daemon.port, subvol="gv0-replicate-0", type="data", file="/f")  # an alarm

    def settled() -> set[str] | None:
        # The first event's retry can be counted before the next datagrams' turn is committed:
        # wait for the retry and for both of the conditions they open.
        samples = scrape(metrics_port)
        names = {name for name, _ in samples}
        opened = sum(1 for name, _ in samples if name == "gluster_events_condition_open")
        return names if "gluster_events_delivery_retries_total" in names and opened == 2 else None

    exported = wait_for(settled, 15, 0.2, "a retry counted and the two conditions open")
    used = {name for expr in rule_expressions().values()
            for name in re.findall(r"\bgluster_events_[a-z0-9_]+", expr)}
    assert used == {"gluster_events_queue_oldest_age_seconds", "gluster_events_delivery_retries_total",
                    "gluster_events_dropped_total", "gluster_events_dead_letters_total",
                    "gluster_events_spool_errors_total", "gluster_events_condition_open"}
    missing = used - exported
    assert not missing, f"the alert rules use metrics the daemon does not export: {sorted(missing)}"
    # The counters the rules watch are there at 0 before their first increment.
    samples = scrape(metrics_port)
    assert samples[("gluster_events_spool_errors_total", (("reason", "write_failed"),))] == 0
    assert samples[("gluster_events_dropped_total", (("reason", "spool_full"),))] == 0
    assert samples[("gluster_events_dead_letters_total", (("webhook", down.url),))] == 0
    assert samples[("gluster_events_queue_depth", (("webhook", down.url),))] == 3
    # The open condition and the alarm, labelled like their alerts (alertname as "condition").
    conditions = {labels: value for (name, labels), value in samples.items()
                  if name == "gluster_events_condition_open"}
    assert conditions == {
        (("brick", "h2:/b1"), ("condition", "GlusterBrickDown"), ("kind", "condition"), ("severity", "critical"),
         ("volume", "gv0")): 1,
        (("condition", "GlusterAfrSplitBrain"), ("file", "/f"), ("kind", "alarm"), ("severity", "critical"),
         ("subvol", "gv0-replicate-0"), ("volume", "gv0")): 1}
    since = samples[("gluster_events_condition_opened_timestamp_seconds",
                     next(labels for labels in conditions if ("kind", "condition") in labels))]
    assert abs(since - time.time()) < 60
    # Closed: gone from the gauge at the next scrape.
    gf_event("BRICK_CONNECTED", port=daemon.port, peer="h2", volume="gv0", brick="/b1")
    wait_for(lambda: len([n for (n, _) in scrape(metrics_port) if n == "gluster_events_condition_open"]) == 1,
             what="closed condition gone from the gauge")
