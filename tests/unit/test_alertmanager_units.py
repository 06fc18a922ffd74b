"""The Alertmanager sink's pure parts: the alerts made from rows and events, one outcome from several members, URLs."""

from __future__ import annotations

import json

import pytest

from glustereventsd.models import Outcome, OutcomeKind
from glustereventsd.sinks import kinds, urls
from glustereventsd.sinks.alertmanager import alerts, url as amurl
from glustereventsd.sinks.alertmanager.driver import combine
from glustereventsd.sinks.urltext import UrlError
from glustereventsd.spool.records import ConditionRow, Record

NOW = 1_800_000_000.0
LABELS = json.dumps({"alertname": "GlusterBrickDown", "severity": "critical", "volume": "gv0", "brick": "h:/b"})


def row(kind: str = "condition", opened: float = NOW - 100, closed: float = 0.0, ends: float = 0.0) -> ConditionRow:
    return ConditionRow("k", "GlusterBrickDown", kind, LABELS, '{"summary": "s"}', opened, opened, closed, ends,
                        "BRICK_DISCONNECTED", "", "n1", "msg_1")


def ends(alert: dict[str, object]) -> str:
    return str(alert["endsAt"])


def test_re_sends_keep_open_ones_firing_and_resolutions_for_15_minutes() -> None:
    (firing,) = alerts.of_rows([row()], NOW, 60)
    assert firing["startsAt"] == alerts.timestamp(NOW - 100) and ends(firing) == alerts.timestamp(NOW + 240)
    (resolved,) = alerts.of_rows([row(closed=NOW - 50)], NOW, 60)
    assert ends(resolved) == alerts.timestamp(NOW - 50)
    assert alerts.of_rows([row(closed=NOW - 901)], NOW, 60) == []  # over for more than 15 minutes
    (expiring,) = alerts.of_rows([row(ends=NOW + 30)], NOW, 60)  # an expiry sooner than four periods
    assert ends(expiring) == alerts.timestamp(NOW + 30)
    (alarm,) = alerts.of_rows([row("alarm", ends=NOW + 3600)], NOW, 60)
    assert ends(alarm) == alerts.timestamp(NOW + 3600)
    (linked,) = alerts.of_rows([row()], NOW, 60, "https://logs/{node}/{event_id}/{event}")
    assert linked["generatorURL"] == "https://logs/n1/msg_1/BRICK_DISCONNECTED"


def test_an_event_posts_what_its_row_says() -> None:
    body = json.dumps({"nodeid": "n1", "ts": int(NOW), "event": "BRICK_CONNECTED",
                       "message": {"peer": "h", "volume": "gv0", "brick": "/b"}}).encode()
    close = Record(1, 1, "msg_2", 2, "BRICK_CONNECTED", int(NOW), NOW, body)
    assert alerts.of_event(close, None, True, NOW, 60) == []  # never opened here
    (resolved,) = alerts.of_event(close, row(closed=NOW), True, NOW, 60)
    assert ends(resolved) == alerts.timestamp(NOW) and resolved["startsAt"] == alerts.timestamp(NOW - 100)
    info = Record(2, 1, "msg_3", 3, "VOLUME_CREATE", int(NOW), NOW, b'{"message": {"name": "v"}}')
    assert alerts.of_event(info, None, True, NOW, 60) == []
    assert alerts.alert({"a": "b"}, {}, NOW, NOW - 5)["endsAt"] == alerts.timestamp(NOW)  # never before startsAt


def test_one_outcome_for_every_member() -> None:
    ok = Outcome(OutcomeKind.DELIVERED, "ok", 200)
    bad = Outcome(OutcomeKind.REJECT, "http_400", 400, None, "HTTP 400")
    down = Outcome(OutcomeKind.RETRY, "connect", 0, None, "refused")
    busy = Outcome(OutcomeKind.RETRY, "http_503", 503, 7.0, "HTTP 503")
    assert combine([down, ok]) is ok  # stored by one: the re-send tells the other
    assert combine([bad, bad]) == bad  # every member refused it: a dead letter
    assert combine([bad, down]).kind is OutcomeKind.RETRY  # one may take it yet
    assert combine([down, busy]).retry_after_secs == 7.0


def test_urls_of_a_cluster() -> None:
    text = "http://am1:9093, https://am2/prefix/"
    assert kinds.kind_of(text, "alertmanager") == kinds.ALERTMANAGER
    assert kinds.kind_of("http://am1:9093") == kinds.HTTP
    assert urls.canonical(text, "alertmanager") == "http://am1:9093,https://am2/prefix/"
    assert urls.display(text) == "http://am1:9093,https://am2/prefix/"
    assert urls.display("http://am1:9093/?token=x,http://am2:9093") == "http://am1:9093/,http://am2:9093"
    assert amurl.endpoint_url("https://am2/prefix/") == "https://am2/prefix/api/v2/alerts"
    for wrong, words in (("", "at least one"), ("http://a?x=1", "without a query"),
                         ("http://a:9093,http://a:9093", "twice"), ("ftp://a", "http:// or https://"),
                         ("http://u:p@a:9093", "credentials")):
        with pytest.raises(UrlError, match=words):
            amurl.parse(wrong)
