"""``webhook-test``: one test request through the webhook driver, run in the caller's thread.

It goes through exactly the code, proxy, TLS settings and signatures that deliver events,
so a test that passes means events will get through the same way.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Mapping

from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.models import Outcome, OutcomeKind, Destination
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.http import cloudevents, proxies
from glustereventsd.sinks.http.driver import DeliveryLoop
from glustereventsd.sinks.http.outcomes import failure
from glustereventsd.sinks.http.proxies import ProxyRules
from glustereventsd.sinks.http.request import DEFAULT_TIMEOUT_SECS, Endpoint
from glustereventsd.sinks.http.wire import RequestTimeout
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.spool.records import Record

# The body of the webhook-test request: an empty JSON object, sent as application/json. Upstream
# sends no body and no content type, which Flask 2.1+ (the seed's own example) answers 400/415,
# and `null` is refused by Express's express.json(); `{}` is answered 2xx by every framework of
# tests/receivers (see docs/COMPATIBILITY.md, "The test request"). Events are never empty objects.
TEST_BODY = b"{}"


def send_test(hook: Destination, now: int, timeout_secs: float | None = None,
              proxy_config: ProxyRules | None = None, environment: Mapping[str, str] | None = None,
              nodeid: str = "") -> Outcome:
    """Send the webhook-test request through the delivery engine and classify the answer.

    A POST of ``TEST_BODY`` (``{}``, application/json), with a JWT whose sub is TEST and iat
    now; with a signing secret it is signed like an event (over that body), so a receiver can
    check its secret with a test too. A CloudEvents webhook gets a valid CloudEvent (``ce-type``
    ``org.gluster.test``, source this node ``nodeid``), which a broker such as Knative's requires. Proxies come from ``proxy_config`` (the daemon's config keys) and
    ``environment`` (the daemon's environment variables), as for delivery.
    """
    if timeout_secs:
        hook = dataclasses.replace(hook, timeout_secs=timeout_secs)
    environment = os.environ if environment is None else environment
    try:
        Endpoint(hook, proxy_config or ProxyRules(), proxies.rules_from_environment(environment))
    except (ValueError, OSError) as err:
        return Outcome(OutcomeKind.REJECT, "config", 0, None, f"cannot use webhook settings: {err}")
    loop = DeliveryLoop(DriverContext(None, Stats(), RateLimitedLog(), threading.Event(), environment=environment,
                                      nodeid=nodeid))
    outlet = Outlet(hook, 0, durable=False, window=1, memory_limit=1, options=proxy_config)
    identified = hook.signing_secret or hook.format == cloudevents.FORMAT  # a CloudEvent needs an id
    message_id = f"msg_test_{os.urandom(12).hex()}" if identified else ""
    outlet.offer([Record(0, 0, message_id, 0, "TEST", now, time.time(), TEST_BODY)])
    loop.add(outlet)
    limit = (hook.timeout_secs or DEFAULT_TIMEOUT_SECS) + 1.0
    try:
        loop.run(until=lambda: outlet.last_outcome is not None, deadline=time.monotonic() + limit)
    finally:
        loop.release_all()
        loop.close()
    return outlet.last_outcome or failure(RequestTimeout(f"no answer within {limit:g}s"))
