"""CloudEvents webhooks (``--format cloudevents``): every POST parsed by the CloudEvents SDK, as a receiver would.

The SDK (``cloudevents`` on PyPI, ``cloudevents.http.from_http``) is the independent check:
it refuses a request whose binary-mode headers are not a valid CloudEvent 1.0.
"""

from __future__ import annotations

import datetime
import json
import time
import urllib.parse

import pytest
from cloudevents.http import from_http

from eventtypes.emit import gf_event
from glustereventsd.models import Destination
from glustereventsd.sinks.http import cloudevents, probe
from tests.helpers import DaemonProcess, Receiver, nodeid_of, wait_for


def parse(request: object) -> object:
    """The request as the SDK reads it (raises for anything that is not a valid binary-mode CloudEvent)."""
    return from_http(dict(request.headers), request.body)  # type: ignore[attr-defined]


def test_each_event_is_a_cloudevent_with_the_gluster_body_as_data(daemon: DaemonProcess, receiver: Receiver) -> None:
    receiver.behaviour.statuses = [503]  # the first attempt fails: the retry carries the same ce-id
    daemon.write_webhooks({receiver.url: {"format": "cloudevents", "concurrency": 1}})
    daemon.write_config({"retry-min-backoff-secs": 0.1})
    daemon.start()
    before = int(time.time())
    gf_event("BRICK_DISCONNECTED", port=daemon.port, peer="server 2", volume="gv0", brick="/bricks/b1")
    gf_event("VOLUME_CREATE", port=daemon.port, name="gv1")
    wait_for(lambda: receiver.count() == 2, what="both delivered")
    node = nodeid_of(daemon.root)
    events = [parse(request) for request in receiver.requests]
    first, second = events
    assert first["specversion"] == "1.0"
    assert first["type"] == "org.gluster.brick.disconnected" and second["type"] == "org.gluster.volume.create"
    assert first["source"] == f"urn:gluster:node:{node}" == second["source"]
    assert first["id"] == receiver.requests[0].headers["webhook-id"] and first["id"].startswith("msg_")
    assert first["id"] != second["id"]
    when = datetime.datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert before - 1 <= when.timestamp() <= time.time() + 1
    assert receiver.requests[0].headers["ce-time"].endswith("Z")
    # The body is the Gluster body, byte for byte, and the SDK hands it over as JSON data.
    body = json.loads(receiver.requests[0].body)
    assert first.data == body and body["event"] == "BRICK_DISCONNECTED"
    assert body["message"] == {"peer": "server 2", "volume": "gv0", "brick": "/bricks/b1"}
    assert receiver.requests[0].headers["content-type"] == "application/json"
    assert "ce-datacontenttype" not in receiver.requests[0].headers
    # The failed first attempt and its retry: one event, one id.
    failed = [a for a in receiver.attempts if a.status == 503]
    assert len(failed) == 1 and failed[0].headers["ce-id"] == first["id"]


def test_webhook_test_sends_a_valid_cloudevent(receiver: Receiver) -> None:
    outcome = probe.send_test(Destination(receiver.url, format="cloudevents"), int(time.time()),
                              nodeid="5a7e3c1b-0f0e-4d6a-9f3b-7c2d1e0a9b88")
    assert outcome.ok, outcome
    event = parse(receiver.requests[0])
    assert event["type"] == "org.gluster.test" and event["id"].startswith("msg_test_")
    assert event["source"] == "urn:gluster:node:5a7e3c1b-0f0e-4d6a-9f3b-7c2d1e0a9b88"
    assert receiver.requests[0].body == b"{}"


def test_plain_webhooks_carry_no_ce_headers(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    gf_event("VOLUME_CREATE", port=daemon.port, name="gv1")
    wait_for(lambda: receiver.count() == 1, what="delivered")
    assert not [name for name in receiver.requests[0].headers if name.startswith("ce-")]


@pytest.mark.parametrize(("text", "encoded"), [
    ("urn:gluster:node:a b", "urn:gluster:node:a%20b"),
    ('say "hi" 100%', "say%20%22hi%22%20100%25"),
    ("café\x01", "caf%C3%A9%01"),
    ("org.gluster.brick.disconnected", "org.gluster.brick.disconnected"),
])
def test_header_values_are_percent_encoded_as_the_spec_says(text: str, encoded: str) -> None:
    assert cloudevents.header_value(text) == encoded
    assert urllib.parse.unquote(encoded, errors="strict") == text  # decodes back (the SDK 1.x leaves it as sent)
    headers = {"ce-specversion": "1.0", "ce-id": "1", "ce-type": "t", "ce-source": encoded,
               "content-type": "application/json"}
    assert from_http(headers, b"{}")["source"] == encoded  # a value the SDK accepts


def test_event_type_and_time() -> None:
    assert cloudevents.event_type("EC_MIN_BRICKS_NOT_UP") == "org.gluster.ec.min.bricks.not.up"
    assert cloudevents.rfc3339(0) == "1970-01-01T00:00:00Z"
    assert cloudevents.rfc3339(10 ** 20) == "1970-01-01T00:00:00Z"  # absurd: never raises
