"""``webhook-test`` of an Alertmanager sink: one test alert, resolved at once, posted to every member.

The alert (``alertname`` GlusterEventsTest, ``severity`` info, this node's id as ``node``)
has ``endsAt`` = ``startsAt`` = now, so Alertmanager stores it as resolved and notifies no
one, yet the POST goes through exactly what alerts use (URL, proxy, TLS, credentials) and
Alertmanager validates it as it will validate them. Every member must accept it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.models import Destination, Outcome, OutcomeKind
from glustereventsd.sinks.alertmanager import alerts, url as amurl
from glustereventsd.sinks.alertmanager.driver import member_hook, post
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.http.driver import DeliveryLoop
from glustereventsd.sinks.http.proxies import ProxyRules
from glustereventsd.sinks.http.request import DEFAULT_TIMEOUT_SECS
from glustereventsd.sinks.outlet import Limit, Outlet
from glustereventsd.spool.records import Record

TEST_ALERTNAME = "GlusterEventsTest"


def test_alert(now: float, nodeid: str) -> bytes:
    """The body of the test POST: one alert that is over as soon as it starts."""
    return alerts.body([alerts.alert(
        {"alertname": TEST_ALERTNAME, "severity": "info", "node": nodeid or "unknown"},
        {"summary": "gluster-eventsapi webhook-test: this node reaches this Alertmanager",
         "description": "A test alert, resolved when sent: it notifies no one."}, now, now)])


def send_test(hook: Destination, now: int, timeout_secs: float | None = None,
              proxy_config: ProxyRules | None = None, environment: Mapping[str, str] | None = None,
              nodeid: str = "") -> Outcome:
    """POST the test alert to every member; OK only when every member stored it, else the first failure."""
    environment = os.environ if environment is None else environment
    timeout = timeout_secs or hook.timeout_secs or DEFAULT_TIMEOUT_SECS
    loop = DeliveryLoop(DriverContext(None, Stats(), RateLimitedLog(), threading.Event(), environment=environment,
                                      nodeid=nodeid))
    members = []
    for number, member in enumerate(amurl.split(hook.url), 1):
        outlet = Outlet(member_hook(hook, member), number, durable=False, window=Limit(1, 1 << 30),
                        memory_limit=Limit(1, 1 << 30), options=proxy_config)
        loop.add(outlet)
        members.append(outlet)
    record = Record(0, 0, "", 0, TEST_ALERTNAME, now, float(now), test_alert(float(now), nodeid))
    try:
        outcomes = post(loop, members, record, timeout)
    finally:
        loop.release_all()
        loop.close()
    for one, outcome in zip(members, outcomes):
        if not outcome.ok:
            return outcome._replace(detail=f"{one.label}: {outcome.detail or outcome.reason}")
    return outcomes[0] if outcomes else Outcome(OutcomeKind.REJECT, "config", 0, None, "no Alertmanager URL")
