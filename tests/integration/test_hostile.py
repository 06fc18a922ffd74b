"""Hostile and broken webhooks, TLS, spoofed senders and start-up faults (issue 5).

Real sockets throughout: an HTTPS receiver with a certificate made here by the test, raw
TCP servers that reset connections or stream endless bodies, a sender in a network
namespace the test creates, and the daemon as a real process.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.spool import admin as spool
from tests.helpers import REPO, DaemonProcess, Receiver, free_udp_port, send_raw, wait_for
from tests.secrets import KEPT_TOKEN
from tests.tls import HttpsReceiver, make_certificates

FAST_RETRY = {"retry-min-backoff-secs": 0.05, "retry-max-backoff-secs": 0.3, "webhook-timeout-secs": 1}


def status_of(daemon: DaemonProcess, url: str) -> spool.HookStatus | None:
    found = {s.url: s for s in spool.read_status(daemon.root / "var/lib/glustereventsd/spool.sqlite3")}
    return found.get(url)


# -- TLS -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_receiver(certificates: dict[str, Path]) -> Iterator[HttpsReceiver]:
    server = HttpsReceiver(certificates)
    yield server
    server.stop()


def test_self_signed_https_is_refused_by_default(daemon: DaemonProcess, https_receiver: HttpsReceiver) -> None:
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({https_receiver.url: {}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=tls")
    wait_for(lambda: (s := status_of(daemon, https_receiver.url)) and s.retried >= 2, what="TLS failures counted")
    status = status_of(daemon, https_receiver.url)
    assert status is not None and "not trusted" in status.last_error
    assert status.queued == 1  # kept, not lost, until the administrator fixes the trust
    assert https_receiver.bodies == []


def test_https_accepted_with_its_ca_bundle(daemon: DaemonProcess, https_receiver: HttpsReceiver,
                                           certificates: dict[str, Path]) -> None:
    daemon.write_webhooks({https_receiver.url: {"ca-bundle": str(certificates["ca"])}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=tls")
    wait_for(lambda: len(https_receiver.bodies) == 1, what="delivered over verified TLS")
    assert b'"name": "tls"' in https_receiver.bodies[0]


def test_https_accepted_with_the_explicit_insecure_opt_out(daemon: DaemonProcess,
                                                           https_receiver: HttpsReceiver) -> None:
    daemon.write_webhooks({https_receiver.url: {"insecure-tls": True}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=tls")
    wait_for(lambda: len(https_receiver.bodies) == 1, what="delivered without verification")


# -- broken webhooks ----------------------------------------------------------------------

class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by ``behave(conn)``."""

    def __init__(self, behave) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/listen"
        self.behave = behave
        self.connections = 0
        self.stopping = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            self.behave(conn, self.stopping)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()


def reset_connection(conn: socket.socket, stopping: threading.Event) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with RST


def endless_chunked_body(conn: socket.socket, stopping: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b"x" * 0x4000 + b"\r\n"
    for _ in range(10_000):  # bounded: 160 MB at most, far past the client's cap
        if stopping.is_set():
            return
        conn.sendall(chunk)


def endless_unframed_body(conn: socket.socket, stopping: threading.Event) -> None:
    conn.recv(65536)
    conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    for _ in range(10_000):
        if stopping.is_set():
            return
        conn.sendall(b"y" * 0x4000)


@pytest.mark.parametrize("behave, what", [(reset_connection, "connection"),
                                          (endless_chunked_body, None), (endless_unframed_body, None)])
def test_broken_webhook_never_stops_the_daemon_nor_delays_another(daemon: DaemonProcess, receiver: Receiver,
                                                                   behave, what) -> None:
    broken = RawServer(behave)
    try:
        daemon.write_config(FAST_RETRY)
        daemon.write_webhooks({broken.url: {"concurrency": 1}, receiver.url: {}})
        daemon.start()
        for i in range(5):
            send_raw(daemon.port, f"1468303352 2 name=v{i}".encode())
        wait_for(lambda: receiver.count() == 5, what="healthy webhook served")
        wait_for(lambda: broken.connections >= 1, what="broken webhook contacted")
        if what:  # resets are retried and the events kept
            wait_for(lambda: (s := status_of(daemon, broken.url)) and s.retried >= 2, what="retries counted")
            status = status_of(daemon, broken.url)
            assert status is not None and what in status.last_error and status.queued == 5
        else:  # a 200 with a body it will not read to the end is still a delivery
            wait_for(lambda: (s := status_of(daemon, broken.url)) and s.delivered == 5, what="delivered")
        assert daemon.proc is not None and daemon.proc.poll() is None
        assert "Traceback" not in daemon.log_text()
    finally:
        broken.stop()


def answer_then_close_when_idle(bodies: list[bytes]):
    """One answer per connection, then close it without saying so (a short keep-alive timeout)."""
    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        read_request(conn, bodies)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        time.sleep(0.05)
    return behave


def no_content_kept_open(bodies: list[bytes]):
    """204 with no Content-Length on a connection kept open, as Go's net/http answers."""
    def behave(conn: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set() and read_request(conn, bodies):
            conn.sendall(b"HTTP/1.1 204 No Content\r\nDate: Fri, 27 Nov 2026 15:00:00 GMT\r\n\r\n")
    return behave


def read_request(conn: socket.socket, bodies: list[bytes]) -> bool:
    """Read one whole POST into ``bodies``; False when the client closed the connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)
    bodies.append(body)
    return True


@pytest.mark.parametrize("make_behaviour", [answer_then_close_when_idle, no_content_kept_open])
def test_quirky_but_valid_webhooks_get_each_event_once(daemon: DaemonProcess, make_behaviour) -> None:
    bodies: list[bytes] = []
    server = RawServer(make_behaviour(bodies))
    try:
        daemon.write_config(FAST_RETRY)
        daemon.write_webhooks({server.url: {}})
        daemon.start()
        for i in range(5):
            send_raw(daemon.port, f"1468303352 2 name=q{i}".encode())
            time.sleep(0.2)  # the connection is idle (and closed, for the first server) in between
        wait_for(lambda: (s := status_of(daemon, server.url)) and s.delivered == 5, what="5 delivered")
        assert sorted(json.loads(b)["message"]["name"] for b in bodies) == [f"q{i}" for i in range(5)]
        status = status_of(daemon, server.url)
        assert status is not None and status.retried == 0 and status.queued == 0
    finally:
        server.stop()


def test_unresolvable_webhook_name_is_a_retryable_dns_error() -> None:
    """Run in a network namespace with only loopback, so the lookup cannot leave the machine."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    code = ("from glustereventsd.sinks.http.probe import send_test\n"
            "from glustereventsd.models import Destination\n"
            "o = send_test(Destination('http://webhook.invalid:9000/listen'), 0, 3)\n"
            "print(o.kind.value, o.reason)\n")
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    if result.returncode != 0 and "Operation not permitted" in result.stderr:
        pytest.skip("creating a network namespace is not permitted here")
    assert result.stdout.split() == ["retry", "dns"], result.stderr


# -- senders ------------------------------------------------------------------------------

@pytest.fixture
def outside_sender() -> Iterator[str]:
    """A network namespace linked to this one by a veth pair: a sender at 10.213.0.2."""
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is not installed")
    name = f"gev{free_udp_port()}"
    def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)
    created = ip("netns", "add", name, check=False)
    if created.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {created.stderr.strip()}")
    try:
        host_end, ns_end = f"{name}h", f"{name}n"
        ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        ip("link", "set", ns_end, "netns", name)
        ip("addr", "add", "10.213.0.1/30", "dev", host_end)
        ip("link", "set", host_end, "up")
        ip("-n", name, "addr", "add", "10.213.0.2/30", "dev", ns_end)
        ip("-n", name, "link", "set", ns_end, "up")
        ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        ip("link", "del", f"{name}h", check=False)
        ip("netns", "del", name, check=False)


def send_from_namespace(namespace: str, port: int, payload: bytes) -> None:
    code = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.sendto(sys.argv[1].encode(), ('10.213.0.1', int(sys.argv[2])))")
    subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", code, payload.decode(), str(port)],
                   check=True, timeout=30)


def test_allowed_senders_drops_outsiders_and_keeps_loopback(daemon: DaemonProcess, receiver: Receiver,
                                                             outside_sender: str) -> None:
    daemon.listen = ("0.0.0.0",)
    daemon.write_config({"allowed-senders": "192.0.2.0/24"})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_from_namespace(outside_sender, daemon.port, b"1468303352 80 volume=spoofed")
    send_raw(daemon.port, b"1468303352 80 volume=local")
    wait_for(lambda: receiver.count() == 1, what="loopback event delivered")
    wait_for(lambda: "outside allowed-senders sender=10.213.0.2" in daemon.log_text(), what="drop logged")
    assert [e["message"]["volume"] for e in receiver.events()] == ["local"]


def test_allowed_senders_admits_its_networks(daemon: DaemonProcess, receiver: Receiver, outside_sender: str) -> None:
    daemon.listen = ("0.0.0.0",)
    daemon.write_config({"allowed-senders": "10.213.0.0/30"})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_from_namespace(outside_sender, daemon.port, b"1468303352 80 volume=storage-net")
    wait_for(lambda: receiver.count() == 1, what="allowed network delivered")


def test_sender_rate_limit_drops_a_flood(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config({"sender-rate-limit": 20})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(500):  # far faster than 20/s
            sock.sendto(f"1468303352 2 name=v{i}".encode(), ("127.0.0.1", daemon.port))
    wait_for(lambda: "over sender-rate-limit sender=127.0.0.1" in daemon.log_text(), what="flood logged")
    wait_for(lambda: receiver.count() >= 20, what="the burst allowance delivered")
    assert receiver.count() < 100


# -- start-up faults ----------------------------------------------------------------------

def test_port_in_use_is_a_clear_error(daemon: DaemonProcess) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", daemon.port))
        daemon.listen = ("127.0.0.1",)
        daemon.start(wait=False)
        assert daemon.proc is not None
        code = daemon.proc.wait(30)
        stderr = daemon.stderr_text()
    assert code == 1
    assert f"cannot listen on UDP 127.0.0.1 port {daemon.port}: already in use" in stderr
    assert "Traceback" not in stderr


def test_stale_pid_file_does_not_block_start(daemon: DaemonProcess, receiver: Receiver) -> None:
    pid_file = daemon.root / "var/run/glustereventsd.pid"
    pid_file.parent.mkdir(parents=True)
    pid_file.write_text("999999\n")  # left by a daemon that died: nobody holds its lock
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    assert pid_file.read_text().strip() == str(daemon.proc.pid)


def test_second_daemon_on_the_same_pid_file_refuses_to_start(daemon: DaemonProcess) -> None:
    daemon.start()
    second = DaemonProcess(daemon.root, free_udp_port())
    second.start(wait=False)
    assert second.proc is not None
    assert second.proc.wait(30) == 1
    assert "locked by a running glustereventsd" in second.stderr_text()
    second.stop()


def test_config_value_of_the_wrong_type_refuses_start_naming_the_file(daemon: DaemonProcess) -> None:
    daemon.write_config({"port": "not-a-port"})
    daemon.start(wait=False)
    assert daemon.proc is not None
    assert daemon.proc.wait(30) == 1
    stderr = daemon.stderr_text()
    assert "config.json" in stderr and "port" in stderr and "Traceback" not in stderr


def test_config_value_of_the_wrong_type_on_reload_keeps_the_last_good(daemon: DaemonProcess,
                                                                     receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    daemon.write_config({"log-level": 42})
    wait_for(lambda: "Reload failed, keeping the last good configuration" in daemon.log_text(),
             what="bad reload logged")
    send_raw(daemon.port, b"1468303352 2 name=still-working")
    wait_for(lambda: receiver.count() == 1, what="still delivering")


def restart_after_a_torn_webhooks_file(daemon: DaemonProcess, webhooks: dict[str, object]) -> None:
    """Start with ``webhooks`` (kept as last good), stop, tear the file, start again from last-good."""
    daemon.write_webhooks(webhooks)
    daemon.start()
    daemon.stop()
    (daemon.events_dir / "webhooks.json").write_text('{"http://half-written')  # a torn edit
    daemon.start()
    assert "Starting with the last configuration that loaded" in daemon.log_text()
    assert "webhooks.json" in daemon.log_text()


def test_corrupt_webhooks_file_at_start_uses_the_last_good_copy(daemon: DaemonProcess, receiver: Receiver) -> None:
    restart_after_a_torn_webhooks_file(daemon, {receiver.url: {"token": KEPT_TOKEN}})
    send_raw(daemon.port, b"1468303352 2 name=still-delivered")
    wait_for(lambda: receiver.count() == 1, what="delivered with the last good webhooks")
    assert receiver.requests[0].headers["authorization"] == f"Bearer {KEPT_TOKEN}"
    assert KEPT_TOKEN not in daemon.log_text()


def test_last_good_copy_finds_the_synced_ca_bundle(daemon: DaemonProcess, https_receiver: HttpsReceiver,
                                                    certificates: dict[str, Path]) -> None:
    """A relative ca-bundle (the CLI's synced copy) still resolves when starting from last-good."""
    pem = certificates["ca"].read_bytes()
    name = f"ca/{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    (daemon.events_dir / "ca").mkdir(parents=True)
    (daemon.events_dir / name).write_bytes(pem)
    restart_after_a_torn_webhooks_file(daemon, {https_receiver.url: {"ca-bundle": name}})
    send_raw(daemon.port, b"1468303352 2 name=tls-after-fallback")
    wait_for(lambda: len(https_receiver.bodies) == 1, what="delivered over verified TLS from last-good")


def test_redirects_are_never_followed(daemon: DaemonProcess, make_receiver) -> None:
    redirecting, target = make_receiver(), make_receiver()
    redirecting.behaviour.default = 307
    redirecting.behaviour.headers = {"Location": target.url}
    daemon.write_webhooks({redirecting.url: {}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 80 volume=gv1")
    wait_for(lambda: (s := status_of(daemon, redirecting.url)) and s.dead_letters == 1, what="dead letter")
    status = status_of(daemon, redirecting.url)
    assert status is not None and "307" in status.last_error and "not followed" in status.last_error
    assert target.count() == 0 and target.attempts == []  # the POST never went anywhere else


@pytest.mark.parametrize(("host", "said"), [("999.1.1.1", "Name or service not known"),
                                             ("10.255.254.253", "Cannot assign requested address")])
def test_an_address_not_of_this_machine_is_refused_with_the_right_advice(host: str, said: str) -> None:
    from glustereventsd.sources.udp import BindError, open_sockets

    with pytest.raises(BindError) as caught:
        open_sockets(0, (host,))
    message = caught.value.args[-1]
    assert message == f"cannot listen on UDP {host} port 0: {said}; give an address of this machine with --listen"
