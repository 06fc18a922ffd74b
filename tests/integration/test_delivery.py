"""End to end over real UDP and real HTTP: catalog, body bytes, conversions, credentials, identity headers."""

from __future__ import annotations

import datetime
import json
import time

import jwt
from standardwebhooks.webhooks import Webhook as StandardWebhook

from eventtypes.emit import gf_event
from glustereventsd.sinks.http import probe
from glustereventsd.models import OutcomeKind, Destination
from tests.catalog_spec import SPEC_NAMES_3_9, SPEC_NAMES_3_10
from tests.secrets import JWT_SECRET, TOKEN, WHSEC
from tests.helpers import (DaemonProcess, InProcessDaemon, Receiver, event_log_lines, nodeid_of, send_lines,
                           wait_for)




def all_ids_then_unknown(inproc: InProcessDaemon, receiver: Receiver, names: list[str], unknown: list[int]) -> None:
    lines = [b"1468303352 %d name=id%d" % (i, i) for i in range(len(names))]
    lines += [b"1468303352 %d name=bad%d" % (i, n) for n, i in enumerate(unknown)]
    send_lines(inproc.port, lines)
    wait_for(lambda: receiver.count() >= len(names), timeout=20, what="all ids delivered")
    bad = len(unknown)
    wait_for(lambda: inproc.stats.total("parse_errors") >= bad, what="unknown ids counted")
    events = sorted(receiver.events(), key=lambda e: int(e["message"]["name"][2:]))
    assert [e["message"]["name"] for e in events] == [f"id{i}" for i in range(len(names))]
    assert [e["event"] for e in events] == names
    assert inproc.stats.total("received") == len(names)
    assert inproc.stats.total("parse_errors") == bad
    # Nothing more arrives: an unknown id is never mapped to some other event.
    send_lines(inproc.port, [b"1 0 name=marker"])
    wait_for(lambda: receiver.count() == len(names) + 1, what="marker")
    assert not [e for e in receiver.events() if e["message"]["name"].startswith("bad")]


def test_every_3_10_id_arrives_with_its_name(inproc: InProcessDaemon, receiver: Receiver) -> None:
    inproc.write_webhooks({receiver.url: {"concurrency": 4}})
    inproc.start()
    all_ids_then_unknown(inproc, receiver, SPEC_NAMES_3_10, [142, -1, 999999, 143])
    assert inproc.stats.get("parse_errors", "unknown_type") == 4


def test_every_3_9_id_arrives_with_its_name(inproc: InProcessDaemon, receiver: Receiver) -> None:
    inproc.write_webhooks({receiver.url: {"concurrency": 4}})
    inproc.write_config({"event-numbering": "3.9"})
    inproc.start()
    all_ids_then_unknown(inproc, receiver, SPEC_NAMES_3_9, [141, 142, -1])
    assert inproc.stats.get("parse_errors", "unknown_type") == 3


def test_exact_body_with_glusterd_info_nodeid(daemon: DaemonProcess, receiver: Receiver) -> None:
    wanted = "5a7e3c1b-0f0e-4d6a-9f3b-7c2d1e0a9b88"
    (daemon.root / "var/lib/glusterd").mkdir(parents=True)
    (daemon.root / "var/lib/glusterd/glusterd.info").write_text(f"UUID={wanted}\noperating-version=100000\n")
    daemon.write_webhooks({receiver.url: {"token": "", "secret": ""}})
    daemon.start()
    assert gf_event("VOLUME_SET", port=daemon.port, ts=1468303352, name="gv1",
                    options=",features.uss,on,auth.allow,10.0.0.1,10.0.0.2=x y,odd")
    wait_for(receiver.count, what="delivery")
    assert receiver.requests[0].body == (
        '{"event": "VOLUME_SET", "message": {"name": "gv1", "options": [["features.uss", "on"], '
        '["auth.allow", "10.0.0.1"], ["10.0.0.2=x y", "odd"]]}, "nodeid": "%s", "ts": 1468303352}' % wanted
    ).encode()
    assert receiver.requests[0].path == "/listen"
    assert receiver.requests[0].headers["content-type"] == "application/json"
    assert not (daemon.root / "var/lib/glustereventsd/node-id").exists()


def test_generated_nodeid_persists_across_restarts(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: ""})
    daemon.start()
    gf_event("VOLUME_START", port=daemon.port, ts=5, name="gv1", force="1")
    wait_for(lambda: receiver.count() == 1, what="first")
    first = receiver.events()[0]["nodeid"]
    assert first == nodeid_of(daemon.root)
    assert daemon.stop() == 0
    daemon.start()
    gf_event("VOLUME_STOP", port=daemon.port, ts=6, name="gv1", force="0")
    wait_for(lambda: receiver.count() == 2, what="second")
    assert [e["nodeid"] for e in receiver.events()] == [first, first]
    assert receiver.events()[1] == {"event": "VOLUME_STOP", "message": {"name": "gv1", "force": False},
                                    "nodeid": first, "ts": 6}


def test_conversions_over_the_wire(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    send_lines(daemon.port, [
        b"100 11 primary=gv1;secondary=h::gv2;force=1;push_pem=on;no_verify=YES;ssh_port=22",
        b"101 11 primary=gv1;force=no;push-pem=true;no-verify=0;ssh-port=2222",
        b"102 11 primary=gv1;ssh_port=twenty-two;ssh-port=",
        b"103 6 name=gv1;options=,a,1,b",
        b"104 6 name=gv1;options=,k,v=1 2,3",
        b"105 2 name=a=b c,d",
    ])
    wait_for(lambda: receiver.count() == 6, what="six events")
    by_ts = {e["ts"]: e["message"] for e in receiver.events()}
    assert by_ts == {
        100: {"primary": "gv1", "secondary": "h::gv2", "force": True, "push_pem": True, "no_verify": True,
              "ssh_port": 22},
        101: {"primary": "gv1", "force": False, "push-pem": True, "no-verify": False, "ssh-port": 2222},
        102: {"primary": "gv1", "ssh_port": "twenty-two", "ssh-port": ""},
        103: {"name": "gv1", "options": [["a", "1"], ["b"]]},
        104: {"name": "gv1", "options": [["k", "v=1 2"], ["3"]]},
        105: {"name": "a=b c,d"},
    }
    # Every published event is also in events.log, as the same body.
    wait_for(lambda: len(event_log_lines(daemon.event_log)) == 6, what="events.log")
    assert sorted(event_log_lines(daemon.event_log), key=lambda e: e["ts"]) == sorted(receiver.events(),
                                                                                       key=lambda e: e["ts"])


def test_bearer_token(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"token": TOKEN}})
    daemon.start()
    assert gf_event("PEER_ATTACH", port=daemon.port, ts=9, host="node2")  # 'host' is an attribute here
    wait_for(receiver.count, what="delivery")
    assert receiver.events()[0]["message"] == {"host": "node2"}
    assert receiver.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in daemon.log_text()


def test_jwt_checked_with_pyjwt(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"token": TOKEN, "secret": JWT_SECRET}})
    daemon.start()
    gf_event("VOLUME_DELETE", port=daemon.port, ts=1468303352, name="gv1")
    wait_for(receiver.count, what="delivery")
    request = receiver.requests[0]
    scheme, token = request.headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"], issuer="gluster",
                        options={"verify_exp": True, "verify_iat": False})
    assert (claims["iss"], claims["sub"], claims["iat"]) == ("gluster", "VOLUME_DELETE", 1468303352)
    assert abs(claims["exp"] - (request.at + 60)) <= 3
    assert JWT_SECRET not in daemon.log_text() and token not in daemon.log_text()


def test_legacy_webhooks_form(daemon: DaemonProcess, make_receiver) -> None:
    with_token, without = make_receiver(), make_receiver()
    daemon.events_dir.mkdir(parents=True)
    (daemon.events_dir / "webhooks.json").write_text(json.dumps({with_token.url: TOKEN, without.url: ""}))
    (daemon.events_dir / "webhooks.json").chmod(0o600)
    daemon.start()
    gf_event("VOLUME_CREATE", port=daemon.port, name="gv9")
    wait_for(lambda: with_token.count() == 1 and without.count() == 1, what="both")
    assert with_token.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert "authorization" not in without.requests[0].headers
    assert with_token.events()[0]["message"] == {"name": "gv9"}


def test_standard_webhooks_signature_and_identity_headers(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"signing-secret": WHSEC, "concurrency": 1}})
    daemon.start()
    for i in range(5):
        gf_event("VOLUME_CREATE", port=daemon.port, name=f"v{i}")
    wait_for(lambda: receiver.count() == 5, what="five")
    verifier = StandardWebhook(WHSEC)
    seqs = []
    for request in receiver.requests:
        assert verifier.verify(request.body, request.headers) == json.loads(request.body)
        assert request.headers["webhook-id"].startswith("msg_")
        seqs.append(int(request.headers["x-gluster-event-seq"]))
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == 5
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert receiver.names() == [f"v{i}" for i in range(5)]
    assert WHSEC not in daemon.log_text()


def test_sequence_increases_across_restart(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=a", b"1 2 name=b"])
    wait_for(lambda: receiver.count() == 2, what="two")
    daemon.stop()
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=c"])
    wait_for(lambda: receiver.count() == 3, what="three")
    seqs = [int(r.headers["x-gluster-event-seq"]) for r in receiver.requests]
    assert seqs[0] < seqs[1] < seqs[2]


def test_ipv6_sender_and_ipv6_webhook(daemon: DaemonProcess, make_receiver) -> None:
    v6 = make_receiver("::1")
    daemon.write_webhooks({v6.url: {}})
    daemon.start()
    assert gf_event("QUORUM_LOST", server="::1", port=daemon.port, ts=77, volume="gv1")
    send_lines(daemon.port, [b"78 81 volume=gv1"], host="::1")
    wait_for(lambda: v6.count() == 2, what="two over IPv6")
    assert sorted((e["event"], e["ts"]) for e in v6.events()) == [("QUORUM_LOST", 77), ("QUORUM_REGAINED", 78)]


def test_webhook_filter_by_event_name(daemon: DaemonProcess, make_receiver) -> None:
    everything, volumes = make_receiver(), make_receiver()
    daemon.write_webhooks({everything.url: {}, volumes.url: {"events": ["VOLUME_*"]}})
    daemon.start()
    send_lines(daemon.port, [b"1 0 host=h", b"1 2 name=v", b"1 80 volume=q"])
    wait_for(lambda: everything.count() == 3 and volumes.count() == 1, what="filtered")
    assert [e["event"] for e in volumes.events()] == ["VOLUME_CREATE"]


def test_post_test_sends_empty_json_object_with_test_jwt(receiver: Receiver) -> None:
    now = int(time.time())
    outcome = probe.send_test(Destination(receiver.url, token=TOKEN, secret=JWT_SECRET), now, timeout_secs=5)
    assert outcome.kind is OutcomeKind.DELIVERED and outcome.status == 200
    request = receiver.requests[0]
    assert request.body == b"{}"  # answered 2xx by Flask 2.1+, Express, FastAPI... (tests/receivers)
    assert request.headers["content-length"] == "2"
    assert request.headers["content-type"] == "application/json"
    claims = jwt.decode(request.headers["authorization"][7:], JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["iat"], claims["exp"], claims["iss"]) == ("TEST", now, now + 60, "gluster")


def test_post_test_outcomes(receiver: Receiver) -> None:
    receiver.behaviour.statuses = [503, 404]
    hook = Destination(receiver.url, token=TOKEN)
    assert probe.send_test(hook, 1).kind is OutcomeKind.RETRY
    rejected = probe.send_test(hook, 1)
    assert (rejected.kind, rejected.reason) == (OutcomeKind.REJECT, "http_404")
    assert receiver.attempts[0].headers["authorization"] == f"Bearer {TOKEN}"
    receiver.stop()
    down = probe.send_test(hook, 1, timeout_secs=2)
    assert (down.kind, down.reason) == (OutcomeKind.RETRY, "connect")


def test_post_test_is_signed_when_the_webhook_has_a_signing_secret(receiver: Receiver) -> None:
    now = int(time.time())
    outcome = probe.send_test(Destination(receiver.url, signing_secret=WHSEC), now)
    assert outcome.kind is OutcomeKind.DELIVERED
    request = receiver.requests[0]
    assert request.body == b"{}" and request.headers["webhook-id"].startswith("msg_test_")
    assert StandardWebhook(WHSEC).verify(request.body, dict(request.headers)) == {}
    sent_at = datetime.datetime.fromtimestamp(int(request.headers["webhook-timestamp"]), datetime.timezone.utc)
    expected = StandardWebhook(WHSEC).sign(request.headers["webhook-id"], sent_at, "{}")
    assert request.headers["webhook-signature"] == expected
    assert "x-gluster-event-seq" not in request.headers


def test_batch_wait_holds_a_stream_to_commit_it_together_and_a_reload_changes_it(
        inproc: InProcessDaemon, receiver: Receiver) -> None:
    """batch-wait-ms: within a stream, a turn waits that long for more; a lone event is not held."""
    import socket
    import statistics

    from glustereventsd.config.options import OPTIONS

    convert = OPTIONS["batch-wait-ms"].convert
    assert convert("3") == 3.0 and convert(0) == 0.0
    for bad in ("-1", "51", "nan", "soon", True):
        try:
            convert(bad)
        except ValueError as err:
            assert "from 0 to 50" in str(err)
        else:
            raise AssertionError(f"batch-wait-ms took {bad!r}")
    inproc.write_config({"batch-wait-ms": 50})
    inproc.write_webhooks({receiver.url: {}})
    inproc.start()
    pipeline = inproc.daemon.pipeline
    assert pipeline is not None and pipeline.settings.batch_wait_ms == 50
    send_lines(inproc.port, [b"1 2 name=lone"])
    wait_for(lambda: receiver.count() == 1, what="the lone event")
    # A stream, one every 2 ms: each turn after the first holds 50 ms of it.
    sent: dict[str, float] = {}
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index in range(60):
            sent[f"s{index}"] = time.time()
            sock.sendto(b"1 2 name=s%d" % index, ("127.0.0.1", inproc.port))
            time.sleep(0.002)
    wait_for(lambda: receiver.count() == 61, timeout=20, what="the stream delivered")
    waits = [r.at - sent[json.loads(r.body)["message"]["name"]] for r in receiver.requests[1:]]
    assert statistics.median(waits) >= 0.015, sorted(waits)  # as shipped (0.7 ms) about 0.002 s
    inproc.write_config({})
    inproc.reload()
    wait_for(lambda: pipeline.settings.batch_wait_ms == 0.7, what="the default after a reload")
