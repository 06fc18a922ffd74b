"""NATS JetStream sinks against real nats-server processes (Debian's, with JetStream), the daemon as a real process.

What is stored is read back with a JetStream consumer (tests/nats.py), as the sink's
consumers would read it. Servers run on kernel-chosen ports of 127.0.0.1 and are ended by
pid; each test is bounded by its own deadlines and pytest's timeout.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glustereventsd.spool import admin as spool
from gluster_eventsapi.__main__ import main as cli_main
from gluster_eventsapi.context import Context
from tests import nats as natstest
from tests import secrets
from tests.helpers import REPO, DaemonProcess, Stream, emit_many, nodeid_of, send_raw, wait_for
from tests.nats import NatsCluster, NatsServer
from tests.tls import make_certificates

pytestmark = pytest.mark.skipif(not natstest.available(),
                                reason="nats-server is not installed (apt-get install nats-server; .ci/run does)")

FAST_RETRY = {"retry-min-backoff-secs": 0.1, "retry-max-backoff-secs": 1.0}
PREFIX = "gluster.events"
STREAM = "GLUSTER_EVENTS"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    nats_server = NatsServer(tmp_path / "nats").start()
    yield nats_server
    nats_server.kill()


def status_of(daemon: DaemonProcess, url: str) -> spool.HookStatus | None:
    return {s.url: s for s in spool.read_status(daemon.root / "var/lib/glustereventsd/spool.sqlite3")}.get(url)


def names(stored: list[natstest.Stored]) -> list[str]:
    return [message.json()["message"]["name"] for message in stored]


def cli_for(daemon: DaemonProcess) -> Any:
    """The CLI in-process on the daemon's node (a one-node pool)."""
    daemon.events_dir.mkdir(parents=True, exist_ok=True)
    (daemon.events_dir / "peers.json").write_text("{}")

    def cli(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        ctx = Context(environ={"GLUSTER_EVENTS_ROOT": str(daemon.root), "PATH": "/nonexistent"},
                      stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return cli_main(list(argv), ctx), out.getvalue(), err.getvalue()

    return cli


def settled(daemon: DaemonProcess, url: str, delivered: int) -> bool:
    """True once the spool holds nothing for ``url`` and counts ``delivered`` deliveries."""
    state = status_of(daemon, url)
    return state is not None and state.queued == 0 and state.delivered == delivered


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return answer.read().decode()


# -- one server ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spool_kind", ["disk", "memory"])
def test_every_event_stored_once_in_order_with_the_webhook_body_and_headers(server: NatsServer, daemon, receiver,
                                                                          spool_kind: str):
    natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"])
    sink = f"{server.url}/{PREFIX}"
    daemon.write_webhooks({sink: {}, receiver.url: {}})
    daemon.write_config({**FAST_RETRY, "spool": spool_kind})
    daemon.start()
    count = 400
    for _ in emit_many(daemon.port, count):
        pass
    stored = natstest.read_stream(server.url, STREAM, expect=count, timeout=60)
    wait_for(lambda: receiver.count() >= count, timeout=30, what="the webhook got every event too")
    nodeid = nodeid_of(daemon.root)
    assert names(stored) == [f"v{i}" for i in range(count)]  # every event, once, in order
    assert {message.subject for message in stored} == {f"{PREFIX}.{nodeid}.VOLUME_CREATE"}
    posted = {request.headers["webhook-id"]: request for request in receiver.requests}
    for message in stored:
        request = posted[message.headers["Nats-Msg-Id"]]  # Nats-Msg-Id is the event's webhook-id
        assert message.data == request.body  # the payload is exactly the webhook body
        assert message.headers["Gluster-Event-Seq"] == request.headers["x-gluster-event-seq"]
        assert message.headers["Gluster-Node-Id"] == nodeid
    seqs = [int(message.headers["Gluster-Event-Seq"]) for message in stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == count
    wait_for(lambda: settled(daemon, sink, count), timeout=10, what="the spool emptied")
    state = status_of(daemon, sink)
    assert state is not None and state.dead_letters == 0 and state.duplicates == 0


def test_server_killed_and_restarted_mid_stream_loses_nothing_and_stores_nothing_twice(server: NatsServer,
                                                                                       daemon) -> None:
    natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"])
    sink = f"{server.url}/{PREFIX}"
    metrics_port = natstest.free_tcp_port()
    daemon.write_webhooks({sink: {"timeout-secs": 2}})
    daemon.write_config({**FAST_RETRY, "metrics-port": metrics_port})
    daemon.start()
    stream = Stream(daemon.port, 3000, 500).start()
    stream.wait_sent(1000)
    server.kill()  # SIGKILL: PubAcks in flight are lost, some of those events are stored already
    stream.wait_sent(1500)
    server.start()
    stream.join()
    stored = natstest.read_stream(server.url, STREAM, expect=3000, timeout=90)
    got = names(stored)
    assert len(got) == len(set(got)), "an event was stored twice"
    assert sorted(got) == sorted(f"v{i}" for i in range(3000)), "an event was lost"
    wait_for(lambda: settled(daemon, sink, 3000), timeout=30, what="every event acknowledged")
    state = status_of(daemon, sink)
    assert state is not None and state.dead_letters == 0
    text = scrape(metrics_port)
    assert re.search(rf'gluster_events_delivered_total{{webhook="{re.escape(sink)}"}} 3000\.0', text)
    log = daemon.log_text()
    assert "disconnected from the server; reconnecting" in log and f"reconnected to {server.address}" in log


def test_a_retry_of_a_stored_event_is_stored_once_and_counted_as_duplicate(server: NatsServer, daemon) -> None:
    natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"])
    relay = natstest.AckHoldingRelay(server.port)
    metrics_port = natstest.free_tcp_port()
    try:
        sink = f"nats://127.0.0.1:{relay.port}/{PREFIX}"
        daemon.write_webhooks({sink: {"timeout-secs": 1}})
        daemon.write_config({**FAST_RETRY, "metrics-port": metrics_port})
        daemon.start()
        send_raw(daemon.port, b"1468303352 2 name=first")
        natstest.read_stream(server.url, STREAM, expect=1, timeout=30)
        relay.hold()  # the server still gets and stores what the daemon publishes; its PubAcks do not come back
        send_raw(daemon.port, b"1468303352 2 name=second")
        natstest.read_stream(server.url, STREAM, expect=2, timeout=30)
        wait_for(lambda: (state := status_of(daemon, sink)) is not None and state.retried >= 1, timeout=30,
                 what=f"the publication timed out and was retried: {daemon.log_text()[-2000:]}")
        relay.cut()
        relay.release()
        wait_for(lambda: (state := status_of(daemon, sink)) is not None and state.delivered == 2, timeout=30,
                 what="the retry acknowledged")
        stored = natstest.read_stream(server.url, STREAM)
        assert names(stored) == ["first", "second"]  # stored once
        state = status_of(daemon, sink)
        assert state is not None and state.duplicates == 1
        assert f'gluster_events_duplicates_total{{webhook="{sink}"}} 1.0' in scrape(metrics_port)
        assert "no PubAck within 1s" in state.last_error
    finally:
        relay.close()


def test_no_stream_says_which_subject_and_how_then_delivers_once_created(server: NatsServer, daemon) -> None:
    sink = f"{server.url}/{PREFIX}"
    daemon.write_config(FAST_RETRY)
    daemon.start()
    cli = cli_for(daemon)
    status, out, err = cli("webhook-add", sink)
    assert status == 0, out + err
    assert f"nats-stream-add {sink}" in out  # the note after adding
    wait_for(lambda: "NATS sink added" in daemon.log_text(), timeout=10, what="the daemon took the sink")
    for index in range(5):
        send_raw(daemon.port, f"1468303352 2 name=early{index}".encode())
    nodeid = nodeid_of(daemon.root)
    subject = f"{PREFIX}.{nodeid}.VOLUME_CREATE"
    wait_for(lambda: (state := status_of(daemon, sink)) is not None and subject in state.last_error, timeout=20,
             what="the error naming the subject")
    state = status_of(daemon, sink)
    assert state is not None and f"gluster-eventsapi nats-stream-add {sink}" in state.last_error
    status, out, err = cli("webhook-status", "--json")
    assert status == 0 and subject in out
    status, out, err = cli("webhook-test", sink)
    assert status != 0 and f"no JetStream stream captures {PREFIX}.{nodeid}." in out + err
    assert "nats-stream-add" in out + err
    status, out, err = cli("nats-stream-add", sink)
    assert status == 0, out + err
    assert f"Created stream {STREAM} (subjects {PREFIX}.>, file storage, 1 replica, duplicate window 10m" in out
    stored = natstest.read_stream(server.url, STREAM, expect=5, timeout=30)
    assert sorted(names(stored)) == [f"early{i}" for i in range(5)]
    status, out, err = cli("webhook-test", sink)
    assert status == 0 and f"OK: stream {STREAM} (file, R1, duplicate window 10m)" in out, out + err
    status, out, err = cli("nats-stream-add", sink)
    assert status == 0 and "already exists" in out
    status, out, err = cli("status")
    assert sink in out


@pytest.mark.parametrize("method", ["token", "user", "nkey", "creds"])
def test_each_way_to_authenticate_delivers_and_never_shows_the_secret(tmp_path: Path, daemon, method: str) -> None:
    user_public = natstest.user_keypair(secrets.NKEY_SEED).public_key.decode()
    config, creds = natstest.operator_mode(secrets.CREDS_SEED)
    server_config = {
        "token": f"authorization {{ token: \"{secrets.NATS_TOKEN}\" }}",
        "user": f"authorization {{ users: [ {{ user: gluster, password: \"{secrets.NATS_PASSWORD}\" }} ] }}",
        "nkey": f"authorization {{ users: [ {{ nkey: {user_public} }} ] }}",
        "creds": config,
    }[method]
    server = NatsServer(tmp_path / "nats", config=server_config).start()
    try:
        files = tmp_path / "files"
        files.mkdir()
        (files / "user.nk").write_text(secrets.NKEY_SEED + "\n")
        (files / "user.creds").write_text(creds)
        (files / "nats-password").write_text(secrets.NATS_PASSWORD + "\n")
        connect: dict[str, Any] = {
            "token": {"token": secrets.NATS_TOKEN}, "user": {"user": "gluster", "password": secrets.NATS_PASSWORD},
            "nkey": {"nkeys_seed": str(files / "user.nk")}, "creds": {"user_credentials": str(files / "user.creds")},
        }[method]
        natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"], **connect)
        flags, stdin = {
            "token": (["--nats-token", "-"], secrets.NATS_TOKEN + "\n"),
            "user": (["--nats-user", "gluster", "--nats-password", str(files / "nats-password")], ""),
            "nkey": (["--nats-nkey", str(files / "user.nk")], ""),
            "creds": (["--nats-creds", str(files / "user.creds")], ""),
        }[method]
        daemon.write_config(FAST_RETRY)
        daemon.start()
        cli = cli_for(daemon)
        sink = f"{server.url}/{PREFIX}"
        status, out, err = cli("webhook-add", sink, *flags, stdin=stdin)
        assert status == 0, out + err
        entry = json.loads((daemon.events_dir / "webhooks.json").read_text())[sink]
        if method in ("nkey", "creds"):  # kept 0600 in the events folder, synced like CA bundles
            kept = daemon.events_dir / entry[f"nats-{method}"]
            assert entry[f"nats-{method}"].startswith("nats/") and kept.stat().st_mode & 0o777 == 0o600
        wait_for(lambda: "NATS sink added" in daemon.log_text(), timeout=10, what="the daemon took the sink")
        for index in range(3):
            send_raw(daemon.port, f"1468303352 2 name={method}{index}".encode())
        stored = natstest.read_stream(server.url, STREAM, expect=3, timeout=30, **connect)
        assert names(stored) == [f"{method}{i}" for i in range(3)]
        status, out, err = cli("webhook-test", sink)
        assert status == 0 and "OK: stream" in out, out + err
        assert f"auth=nats-{method}" in daemon.log_text()
    finally:
        server.kill()


def test_wrong_credentials_give_a_clear_error_then_the_fix_delivers(tmp_path: Path, daemon) -> None:
    server = NatsServer(tmp_path / "nats", config=f"authorization {{ users: [ {{ user: gluster, password: "
                                                  f"\"{secrets.NATS_PASSWORD}\" }} ] }}").start()
    try:
        natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"], user="gluster", password=secrets.NATS_PASSWORD)
        daemon.write_config(FAST_RETRY)
        daemon.start()
        cli = cli_for(daemon)
        sink = f"{server.url}/{PREFIX}"
        status, out, err = cli("webhook-add", sink, "--nats-user", "gluster", "--nats-password", "-",
                               stdin=secrets.NATS_TOKEN + "\n")  # the wrong secret
        assert status == 0, out + err
        wait_for(lambda: "NATS sink added" in daemon.log_text(), timeout=10, what="the daemon took the sink")
        send_raw(daemon.port, b"1468303352 2 name=waiting")
        wait_for(lambda: (state := status_of(daemon, sink)) is not None and "refused the credentials" in
                 state.last_error, timeout=20, what="the credentials error")
        state = status_of(daemon, sink)
        assert state is not None and "Authorization Violation" in state.last_error
        assert "user 'gluster' and a password" in state.last_error
        tries = []  # nats-server may reset the connection before its -ERR is read (seen on a loaded machine)
        for _ in range(3):
            tries.append(cli("webhook-test", sink))
            if "refused the credentials" in tries[-1][1] + tries[-1][2]:
                break
        assert all(status != 0 for status, _, _ in tries)
        assert "refused the credentials" in tries[-1][1] + tries[-1][2], tries
        wait_for(lambda: "refused the credentials" in daemon.log_text(), timeout=15, what="the error in the log")
        password = tmp_path / "nats-password"
        password.write_text(secrets.NATS_PASSWORD + "\n")
        status, out, err = cli("webhook-mod", sink, "--nats-password", str(password))
        assert status == 0, out + err
        stored = natstest.read_stream(server.url, STREAM, expect=1, timeout=30, user="gluster",
                                      password=secrets.NATS_PASSWORD)
        assert names(stored) == ["waiting"]
    finally:
        server.kill()


def test_tls_with_a_ca_bundle_and_a_client_certificate(tmp_path: Path, daemon) -> None:
    (tmp_path / "tls").mkdir()
    certificates = make_certificates(tmp_path / "tls")
    tls = (f"tls {{ cert_file: \"{certificates['cert']}\"\n key_file: \"{certificates['key']}\"\n"
           f" ca_file: \"{certificates['ca']}\"\n verify: true }}")
    server = NatsServer(tmp_path / "nats", config=tls).start()
    plain = NatsServer(tmp_path / "plain").start()
    try:
        import ssl

        context = ssl.create_default_context(cafile=str(certificates["ca"]))
        context.load_cert_chain(str(certificates["client_cert"]), str(certificates["client_key"]))
        natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"], tls=context)
        daemon.write_config(FAST_RETRY)
        daemon.start()
        cli = cli_for(daemon)
        sink = f"tls://127.0.0.1:{server.port}/{PREFIX}"
        status, out, err = cli("webhook-test", sink, "--json")  # unregistered: no CA bundle, no client certificate
        assert status != 0 and "TLS certificate not trusted" in out, out + err
        status, out, err = cli("webhook-add", sink, "--ca-bundle", str(certificates["ca"]))
        assert status == 0, out + err
        status, out, err = cli("webhook-test", sink)
        assert status != 0 and "client certificate" in out + err, out + err
        reloads = daemon.log_text().count("Configuration reloaded")
        status, out, err = cli("webhook-mod", sink, "--client-cert", str(certificates["client_cert"]),
                               "--client-key", str(certificates["client_key"]))
        assert status == 0, out + err
        wait_for(lambda: daemon.log_text().count("Configuration reloaded") > reloads, timeout=10, what="reloaded")
        send_raw(daemon.port, b"1468303352 2 name=over-tls")
        stored = natstest.read_stream(server.url, STREAM, expect=1, timeout=30, tls=context)
        assert names(stored) == ["over-tls"]
        assert b"PRIVATE KEY" not in (out + err).encode()
        # tls:// to a server without TLS: refused before any credential is sent.
        status, out, err = cli("webhook-test", f"tls://127.0.0.1:{plain.port}/{PREFIX}")
        assert status != 0 and "did not upgrade the connection to TLS" in out + err
    finally:
        server.kill()
        plain.kill()


def test_filters_dead_letters_redeliver_and_reload(tmp_path: Path, daemon) -> None:
    server = NatsServer(tmp_path / "nats", config="max_payload: 2048").start()
    try:
        natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"])
        sink = f"{server.url}/{PREFIX}"
        daemon.write_config(FAST_RETRY)
        daemon.start()
        cli = cli_for(daemon)
        status, out, err = cli("webhook-add", sink, "--events", "VOLUME_*")
        assert status == 0, out + err
        wait_for(lambda: "NATS sink added" in daemon.log_text(), timeout=10, what="the daemon took the sink")
        send_raw(daemon.port, b"1468303352 0 host=peer1")  # PEER_ATTACH: not VOLUME_*, not sent
        send_raw(daemon.port, b"1468303352 2 name=small")
        send_raw(daemon.port, b"1468303352 2 name=big;comment=" + b"x" * 3000)  # over the server's max_payload
        send_raw(daemon.port, b"1468303352 3 name=after")  # VOLUME_START
        stored = natstest.read_stream(server.url, STREAM, expect=2, timeout=30)
        wait_for(lambda: (state := status_of(daemon, sink)) is not None and state.dead_letters == 1, timeout=20,
                 what="the oversized event in the dead letters")
        assert names(stored) == ["small", "after"]
        assert [message.subject.rsplit(".", 1)[1] for message in stored] == ["VOLUME_CREATE", "VOLUME_START"]
        status, out, err = cli("webhook-redeliver", sink, "--list")
        assert status == 0 and "over the server's max_payload (3" in out, out + err
        server.stop()
        server.extra = ""  # the default max_payload (1 MB)
        server.start()
        status, out, err = cli("webhook-redeliver", sink)
        assert status == 0 and "1 dead letter(s) re-queued" in out, out + err
        stored = natstest.read_stream(server.url, STREAM, expect=3, timeout=30)
        assert names(stored)[2:] == ["big"], daemon.log_text()[-3000:] + str(status_of(daemon, sink))
        # Reload: the filter widened, the sink then removed.
        reloads = daemon.log_text().count("Configuration reloaded")
        status, out, err = cli("webhook-mod", sink, "--events", "")
        assert status == 0, out + err
        wait_for(lambda: daemon.log_text().count("Configuration reloaded") > reloads, timeout=10, what="reloaded")
        send_raw(daemon.port, b"1468303352 0 host=peer2")
        stored = natstest.read_stream(server.url, STREAM, expect=4, timeout=30)
        assert stored[3].subject.endswith(".PEER_ATTACH")
        assert cli("webhook-del", sink)[0] == 0
        wait_for(lambda: "Webhook removed" in daemon.log_text(), timeout=10, what="the sink removed")
        send_raw(daemon.port, b"1468303352 2 name=gone")
        time.sleep(1.0)
        assert natstest.stream_info(server.url, STREAM).state.messages == 4
    finally:
        server.kill()


def test_emit_on_a_node_then_a_consumer_receives_the_body(server: NatsServer, daemon) -> None:
    natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"])
    sink = f"{server.url}/{PREFIX}"
    daemon.write_webhooks({sink: {}})
    daemon.start()
    env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(daemon.root)}
    done = subprocess.run([sys.executable, "-m", "gluster_eventsapi", "emit", "BRICK_DISCONNECTED",
                           "peer=node2", "volume=gv1", "brick=/bricks/b1", "--port", str(daemon.port)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    stored = natstest.read_stream(server.url, STREAM, subject=f"{PREFIX}.*.BRICK_DISCONNECTED", expect=1,
                                  timeout=30)
    assert len(stored) == 1
    body = stored[0].json()
    assert body["event"] == "BRICK_DISCONNECTED" and body["nodeid"] == nodeid_of(daemon.root)
    assert body["message"] == {"peer": "node2", "volume": "gv1", "brick": "/bricks/b1"}
    assert set(body) == {"event", "message", "nodeid", "ts"}


# -- a 3-node cluster -----------------------------------------------------------------------------

def _leader(servers: str) -> str:
    info = natstest.stream_info(servers, STREAM)
    return str(info.cluster.leader) if info.cluster else ""


def _step_down_to(servers: str, wanted: str) -> str:
    """Move the stream's leader until it is ``wanted`` (bounded); return the leader."""
    async def step(client: Any) -> None:
        await client.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{STREAM}", b"", timeout=5)

    leader = _leader(servers)
    for _ in range(12):
        if leader == wanted:
            break
        natstest.run(step, servers)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                leader = _leader(servers)
            except Exception:  # noqa: BLE001 - no leader for a moment
                continue
            if leader:
                break
    return leader


def test_cluster_server_killed_mid_stream_at_2000_per_second_loses_nothing_and_stores_nothing_twice(
        tmp_path: Path, daemon) -> None:
    cluster = NatsCluster(tmp_path / "cluster").start()
    try:
        servers = [server.url for server in cluster.servers]
        natstest.add_stream(servers, STREAM, [f"{PREFIX}.>"], replicas=3)
        sink = f"{cluster.url}/{PREFIX}"
        daemon.write_webhooks({sink: {"timeout-secs": 2}})
        daemon.write_config({**FAST_RETRY, "max-event-age-secs": 3600})
        daemon.start()
        send_raw(daemon.port, b"1468303352 2 name=warm-up")
        natstest.read_stream(servers, STREAM, expect=1, timeout=30)

        def connected_to() -> str:
            for server in cluster.servers:
                if any(conn.get("name") == "glustereventsd" for conn in server.connections()):
                    return server.name
            return ""

        target = wait_for(connected_to, timeout=10, what="the daemon's server")
        leader = _step_down_to(servers, target)  # the daemon's server leads the stream: kill both at once
        stream = Stream(daemon.port, 20_000, 2000).start()  # 2,000 events/s for 10 s
        stream.wait_sent(6000, timeout=30)
        cluster.by_name(target).kill()
        remaining = [server.url for server in cluster.servers if server.name != target]
        stream.join(120)
        stored = natstest.read_stream(remaining, STREAM, expect=20_001, timeout=120)
        got = names(stored)[1:]
        assert len(got) == len(set(got)), f"{len(got) - len(set(got))} events stored twice"
        assert sorted(got) == sorted(f"v{i}" for i in range(20_000)), \
            f"{20_000 - len(set(got))} events lost"
        wait_for(lambda: settled(daemon, sink, 20_001), timeout=30, what="the spool emptied")
        state = status_of(daemon, sink)
        assert state is not None and state.dead_letters == 0
        assert _leader(remaining) != target
        print(f"killed {target} (stream leader: {leader == target}); retried {state.retried}, "
              f"duplicates {state.duplicates}")
    finally:
        cluster.close()


def test_the_readme_consumer_receives_the_event(tmp_path: Path, daemon) -> None:
    """The consumer the README shows, run as it is (only the server address and creds path changed)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- nats-consumer:start -->", 1)[1].split("<!-- nats-consumer:end -->", 1)[0]
    code = block.split("```python\n", 1)[1].split("```", 1)[0]
    config, creds = natstest.operator_mode(secrets.CREDS_SEED)
    server = NatsServer(tmp_path / "nats", config=config).start()
    consumer = None
    try:
        creds_file = tmp_path / "alerting.creds"
        creds_file.write_text(creds)
        natstest.add_stream(server.url, STREAM, [f"{PREFIX}.>"], user_credentials=str(creds_file))
        daemon.write_webhooks({f"{server.url}/{PREFIX}": {"nats-creds": str(creds_file)}})
        daemon.start()
        send_raw(daemon.port, b"1468303352 2 name=not-this-one")
        send_raw(daemon.port, b"1468303352 76 peer=node2;volume=gv1;brick=/b1")  # BRICK_DISCONNECTED
        assert code.count("nats://nats1:4222") == 1 and code.count("/etc/nats/alerting.creds") == 1
        code = code.replace("nats://nats1:4222", server.url).replace("/etc/nats/alerting.creds", str(creds_file))
        consumer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        assert consumer.stdout is not None
        ready, _, _ = select.select([consumer.stdout], [], [], 30)
        assert ready, f"the README consumer printed nothing in 30 s: {consumer.poll()}"
        line = consumer.stdout.readline()  # the first event it prints
        assert line.split(" ", 2)[:2] == [nodeid_of(daemon.root), "BRICK_DISCONNECTED"], line
        assert "'volume': 'gv1'" in line
    finally:
        if consumer is not None:
            consumer.kill()
            consumer.wait(10)
        server.kill()
