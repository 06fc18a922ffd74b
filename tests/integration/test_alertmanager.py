"""The Alertmanager sink against a real Alertmanager (Debian's prometheus-alertmanager), read back through its API.

Each test starts its own Alertmanager (tests/alertmanager.py) and the daemon as a real
process; alerts are checked with ``GET /api/v2/alerts``, which lists the active ones only:
a resolved alert is gone from it.
"""

from __future__ import annotations

import datetime
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from eventtypes.emit import gf_event
from glustereventsd.base.paths import resolve_paths
from glustereventsd.models import Destination
from glustereventsd.sinks.alertmanager import probe
from glustereventsd.spool.admin import read_status, request_requeue
from tests.alertmanager import BINARY, Alertmanager
from tests.helpers import DaemonProcess, Receiver, nodeid_of, wait_for

pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed")

BRICK = {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"}
RESEND = 5  # alert-resend-secs (its lowest value)


@pytest.fixture
def make_am(tmp_path: Path) -> Iterator[Any]:
    made: list[Alertmanager] = []

    def make(name: str = "am") -> Alertmanager:
        am = Alertmanager(tmp_path / name)
        made.append(am)
        return am.start()

    yield make
    for am in made:
        am.stop()


def seconds(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def brick_alerts(am: Alertmanager) -> list[dict[str, Any]]:
    return am.alerts(alertname="GlusterBrickDown")


def status(daemon: DaemonProcess) -> Any:
    rows = read_status(resolve_paths({"GLUSTER_EVENTS_ROOT": str(daemon.root)}).spool_file)
    assert len(rows) == 1
    return rows[0]


GENERATOR = "https://logs.example/search?node={node}&id={event_id}&event={event}"


def start(daemon: DaemonProcess, url: str, **entry: Any) -> None:
    daemon.write_webhooks({url: {"format": "alertmanager", **entry}})
    daemon.write_config({"alert-resend-secs": RESEND, "retry-min-backoff-secs": 0.2,
                         "retry-max-backoff-secs": 1, "alert-generator-url": GENERATOR})
    daemon.start()


def test_a_condition_fires_and_its_closing_event_resolves_it(daemon: DaemonProcess, make_am: Any) -> None:
    am = make_am()
    start(daemon, am.url)
    opened = int(time.time()) - 30
    gf_event("VOLUME_CREATE", port=daemon.port, name="gv0")  # informational: no alert
    gf_event("BRICK_DISCONNECTED", port=daemon.port, ts=opened, **BRICK)
    firing = wait_for(lambda: brick_alerts(am), what="alert fires")
    (alert,) = firing
    assert alert["labels"] == {"alertname": "GlusterBrickDown", "severity": "critical", "volume": "gv0",
                               "brick": "server2:/bricks/b1"}
    assert alert["status"]["state"] == "active"
    assert seconds(alert["startsAt"]) == opened
    assert seconds(alert["endsAt"]) > time.time() + 2 * RESEND  # a few periods ahead
    assert "server2:/bricks/b1" in alert["annotations"]["summary"]
    link = alert["generatorURL"]
    assert link.startswith(f"https://logs.example/search?node={nodeid_of(daemon.root)}&id=msg_")
    assert link.endswith("&event=BRICK_DISCONNECTED")
    assert len(am.alerts()) == 1  # VOLUME_CREATE made none
    # The re-send moves endsAt on, keeping startsAt.
    first_end = seconds(alert["endsAt"])
    wait_for(lambda: seconds(brick_alerts(am)[0]["endsAt"]) > first_end, timeout=3 * RESEND, what="re-sent")
    assert seconds(brick_alerts(am)[0]["startsAt"]) == opened
    assert brick_alerts(am)[0]["generatorURL"] == link  # the re-send names the same event
    gf_event("BRICK_CONNECTED", port=daemon.port, **BRICK)
    wait_for(lambda: not brick_alerts(am), what="alert resolved")
    assert status(daemon).delivered == 3 and status(daemon).dead_letters == 0


def test_a_close_for_a_condition_never_opened_posts_nothing(daemon: DaemonProcess, receiver: Receiver) -> None:
    start(daemon, receiver.url.rsplit("/", 1)[0])
    gf_event("BRICK_CONNECTED", port=daemon.port, **BRICK)  # glusterd says so for every brick it starts
    gf_event("AFR_SPLIT_BRAIN", port=daemon.port, subvol="gv0-replicate-0", type="data", file="/f")
    wait_for(lambda: receiver.count() == 1, what="the alarm posted")
    time.sleep(0.5)
    (request,) = receiver.requests
    assert request.path == "/api/v2/alerts"
    (alarm,) = request.json()
    assert alarm["labels"]["alertname"] == "GlusterAfrSplitBrain"
    assert seconds(alarm["endsAt"]) > seconds(alarm["startsAt"])  # time + its duration
    assert status(daemon).delivered == 2


def test_an_alarm_fires_until_its_duration_ends(daemon: DaemonProcess, make_am: Any) -> None:
    am = make_am()
    start(daemon, am.url)
    at = int(time.time())
    gf_event("AFR_SPLIT_BRAIN", port=daemon.port, ts=at, subvol="gv0-replicate-0", type="data", file="/f")
    (alarm,) = wait_for(lambda: am.alerts(alertname="GlusterAfrSplitBrain"), what="alarm fires")
    assert seconds(alarm["startsAt"]) == at and seconds(alarm["endsAt"]) - at >= 3600


@pytest.mark.parametrize("spool", ["disk", "memory"])
def test_restarted_daemon_keeps_the_alert_firing_then_resolves_it(daemon: DaemonProcess, make_am: Any,
                                                                  spool: str) -> None:
    am = make_am()
    start(daemon, am.url)
    if spool == "memory":  # the events are not kept over a restart, the open conditions are
        daemon.stop()
        daemon.write_config({"alert-resend-secs": RESEND, "spool": "memory"})
        daemon.start()
    opened = int(time.time()) - 5
    gf_event("BRICK_DISCONNECTED", port=daemon.port, ts=opened, **BRICK)
    wait_for(lambda: brick_alerts(am), what="alert fires")
    assert daemon.stop() == 0
    am.stop()  # Alertmanager keeps no alerts over a restart: only the daemon's re-send brings it back
    am.start()
    assert not brick_alerts(am)
    daemon.start()
    (alert,) = wait_for(lambda: brick_alerts(am), timeout=3 * RESEND, what="re-sent after the restart")
    assert seconds(alert["startsAt"]) == opened and alert["status"]["state"] == "active"
    gf_event("BRICK_CONNECTED", port=daemon.port, **BRICK)
    wait_for(lambda: not brick_alerts(am), what="resolved after the restart")


def test_alertmanager_down_then_back_loses_nothing(daemon: DaemonProcess, make_am: Any) -> None:
    am = make_am()
    am.stop()
    start(daemon, am.url)
    gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
    gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
    wait_for(lambda: status(daemon).retried >= 2, what="retried while Alertmanager is down")
    assert status(daemon).queued == 2
    am.start()
    wait_for(lambda: {a["labels"]["alertname"] for a in am.alerts()} == {"GlusterBrickDown",
                                                                       "GlusterServerQuorumLost"},
             timeout=15, what="both alerts once Alertmanager is back")
    wait_for(lambda: status(daemon).queued == 0 and status(daemon).delivered == 2, what="delivered")
    assert status(daemon).dead_letters == 0


def test_every_member_gets_every_alert_and_one_down_does_not_hold_them(daemon: DaemonProcess,
                                                                      make_am: Any) -> None:
    one, two, down = make_am("one"), make_am("two"), make_am("down")
    down.stop()
    start(daemon, f"{one.url},{two.url},{down.url}")
    gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
    wait_for(lambda: brick_alerts(one) and brick_alerts(two), what="both live members fire")
    wait_for(lambda: status(daemon).delivered == 1, what="delivered (two members stored it)")
    down.start()  # the member that was down gets the open condition with the next re-send
    wait_for(lambda: brick_alerts(down), timeout=3 * RESEND, what="re-sent to the member that came back")
    assert status(daemon).url == f"{one.url},{two.url},{down.url}"


def test_400_is_a_dead_letter_never_retried(daemon: DaemonProcess, receiver: Receiver) -> None:
    receiver.behaviour.default = 400
    start(daemon, receiver.url.rsplit("/", 1)[0])
    gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
    wait_for(lambda: status(daemon).dead_letters == 1, what="dead letter")
    time.sleep(1.0)
    posts = [a for a in receiver.attempts if "QUORUM_LOST" in a.body.decode() or "ServerQuorum" in a.body.decode()]
    assert len([a for a in posts if a.status == 400]) >= 1 and status(daemon).retried == 0
    assert "HTTP 400" in status(daemon).last_error
    # webhook-redeliver's way: request the re-queue, reload; the dead letter is posted again.
    receiver.behaviour.default = 200
    assert request_requeue(resolve_paths({"GLUSTER_EVENTS_ROOT": str(daemon.root)}).spool_file,
                           receiver.url.rsplit("/", 1)[0]) == 1
    daemon.reload()
    wait_for(lambda: status(daemon).dead_letters == 0 and status(daemon).delivered == 1, what="redelivered")
    assert [a.status for a in receiver.attempts if b"GlusterServerQuorumLost" in a.body][-1] == 200


def test_the_event_filter_applies_to_events_and_re_sends(daemon: DaemonProcess, receiver: Receiver) -> None:
    start(daemon, receiver.url.rsplit("/", 1)[0], events=["QUORUM_*"])
    gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
    gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
    wait_for(lambda: len(receiver.requests) >= 3, timeout=4 * RESEND, what="the alert and two re-sends")
    names = [alert["labels"]["alertname"] for request in receiver.requests for alert in request.json()]
    assert set(names) == {"GlusterServerQuorumLost"}  # the brick's condition is kept, never posted here


def test_webhook_test_posts_an_alert_that_is_already_resolved(make_am: Any) -> None:
    one, two = make_am("one"), make_am("two")
    outcome = probe.send_test(Destination(f"{one.url},{two.url}", format="alertmanager"), int(time.time()),
                              nodeid="n1")
    assert outcome.ok, outcome
    assert not one.alerts() and not two.alerts()  # stored as resolved: it pages no one
    two.stop()
    outcome = probe.send_test(Destination(f"{one.url},{two.url}", format="alertmanager"), int(time.time()),
                              timeout_secs=2)
    assert not outcome.ok and f"127.0.0.1:{two.port}" in outcome.detail


def test_the_cli_adds_shows_and_tests_an_alertmanager_cluster(tmp_path: Path, make_am: Any) -> None:
    from tests.cli.conftest import local_cli

    one, two = make_am("one"), make_am("two")
    run = local_cli(tmp_path / "root", shipped_defaults=True)
    url = f"{one.url},{two.url}"
    status_, out, err = run("webhook-add", url, "--format", "alertmanager")
    assert status_ == 0, err
    assert "posted to every Alertmanager listed" in out + err
    status_, out, _ = run("status")
    assert f"{url} (format alertmanager)" in out.splitlines()
    status_, out, err = run("webhook-test", url)
    assert status_ == 0 and "OK" in out, out + err
    two.stop()
    status_, out, err = run("webhook-test", url)
    assert status_ != 0 and f"127.0.0.1:{two.port}" in out + err
    status_, _, err = run("webhook-add", f"{one.url}?a=b", "--format", "alertmanager")
    assert status_ != 0 and "without a query" in err


def test_a_reload_keeps_the_open_conditions_and_re_sends_them(daemon: DaemonProcess, make_am: Any) -> None:
    am = make_am()
    start(daemon, am.url)
    gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
    wait_for(lambda: am.alerts(alertname="GlusterServerQuorumLost"), what="fires")
    am.stop()
    am.start()  # forgets it
    daemon.write_webhooks({am.url: {"format": "alertmanager", "timeout-secs": 3}})  # new settings, same sink
    daemon.reload()
    wait_for(lambda: am.alerts(alertname="GlusterServerQuorumLost"), timeout=3 * RESEND, what="re-sent after reload")
    gf_event("QUORUM_REGAINED", port=daemon.port, volume="gv1")
    wait_for(lambda: not am.alerts(), what="resolved")


def test_the_readme_route_and_silence_work_with_amtool(tmp_path: Path, make_am: Any) -> None:
    """The README's example route is a valid config that pages for brick alerts, and its silence mutes a volume."""
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.skip("amtool is not installed")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("An example route"):]
    route = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    config = tmp_path / "route.yml"
    config.write_text(route.replace("<your key>", "k").replace("<your webhook URL>", "https://chat.example/x"))
    assert subprocess.run([amtool, "check-config", str(config)], capture_output=True).returncode == 0

    def receiver_of(*labels: str) -> str:
        out = subprocess.run([amtool, "config", "routes", "test", "--config.file", str(config), *labels],
                             capture_output=True, text=True)
        return out.stdout.strip()

    assert receiver_of("alertname=GlusterBrickDown", "severity=critical", "volume=gv0") == "pager"
    assert receiver_of("alertname=GlusterServiceDown", "severity=warning") == "chat"
    am = make_am()
    command = re.search(r"```sh\n(amtool .*?)```", section, re.S).group(1)  # type: ignore[union-attr]
    argv = [amtool, f"--alertmanager.url={am.url}"] + shlex.split(
        command.replace("\\\n", " ").replace("$USER", "tester"))[3:]
    assert subprocess.run(argv, capture_output=True).returncode == 0
    assert am.post([{"labels": {"alertname": "GlusterBrickDown", "severity": "critical", "volume": "gv0"}},
                    {"labels": {"alertname": "GlusterBrickDown", "severity": "critical", "volume": "gv1"}}]) == 200
    states = wait_for(lambda: {a["labels"]["volume"]: a["status"]["state"] for a in am.alerts()}
                      if len(am.alerts()) == 2 and all(a["status"]["state"] != "unprocessed" for a in am.alerts())
                      else None, what="silence applied")
    assert states == {"gv0": "suppressed", "gv1": "active"}


def test_a_webhook_that_becomes_an_alertmanager_sink_changes_driver_on_reload(daemon: DaemonProcess,
                                                                              receiver: Receiver) -> None:
    base = receiver.url.rsplit("/", 1)[0]
    daemon.write_webhooks({base: {}})
    daemon.write_config({"alert-resend-secs": RESEND})
    daemon.start()
    gf_event("BRICK_DISCONNECTED", port=daemon.port, **BRICK)
    wait_for(lambda: receiver.count() == 1, what="posted as a plain webhook")
    assert receiver.requests[0].path == "/" and receiver.requests[0].json()["event"] == "BRICK_DISCONNECTED"
    daemon.write_webhooks({base: {"format": "alertmanager"}})
    daemon.reload()
    gf_event("QUORUM_LOST", port=daemon.port, volume="gv1")
    wait_for(lambda: any(r.path == "/api/v2/alerts" and any(a["labels"]["alertname"] == "GlusterServerQuorumLost"
                                                             for a in r.json()) for r in receiver.requests),
             what="posted as an alert once the format changed")
    # The brick's condition, opened while the destination was a plain webhook, is in the re-sends too.
    wait_for(lambda: any(a["labels"]["alertname"] == "GlusterBrickDown" for r in receiver.requests
                         if r.path == "/api/v2/alerts" for a in r.json()), timeout=3 * RESEND, what="re-sent")
    daemon.write_webhooks({base: {}})
    daemon.reload()
    before = receiver.count()
    gf_event("VOLUME_CREATE", port=daemon.port, name="gv9")
    wait_for(lambda: any(r.path == "/" and r.json().get("event") == "VOLUME_CREATE"
                         for r in receiver.requests[before:]), what="a plain webhook again")
