"""Delivery through the networks real sites have: a forward proxy (Debian's tinyproxy), client
certificates, encoded and international URLs, and odd but legal servers.

Every server here is real and local: tinyproxy, ``http.server`` receivers (plain and TLS,
with and without client certificates) and raw TCP servers for answers no framework sends.
The daemon runs as a real process.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.spool import admin as spool
from gluster_eventsapi.__main__ import main as cli_main
from gluster_eventsapi.context import Context
from tests.helpers import DaemonProcess, Receiver, free_udp_port, send_raw, wait_for
from tests.proxy import VIA_PREFIX, TinyProxy
from tests.tls import HttpsReceiver, make_certificates

FAST_RETRY = {"retry-min-backoff-secs": 0.1, "retry-max-backoff-secs": 0.5}
needs_tinyproxy = pytest.mark.skipif(shutil.which("tinyproxy") is None and not Path("/usr/bin/tinyproxy").exists(),
                                     reason="tinyproxy is not installed (apt-get install tinyproxy; .ci/run does)")


def send_events(daemon: DaemonProcess, prefix: str, count: int) -> None:
    for index in range(count):
        send_raw(daemon.port, f"{int(time.time())} 2 name={prefix}{index}".encode())


def status_of(daemon: DaemonProcess, url: str) -> spool.HookStatus | None:
    return {s.url: s for s in spool.read_status(daemon.root / "var/lib/glustereventsd/spool.sqlite3")}.get(url)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[TinyProxy]:
    server = TinyProxy(tmp_path / "proxy")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"), dns_names=("localhost", "xn--bcher-kva.example"))


# -- proxies --------------------------------------------------------------------------------

@needs_tinyproxy
def test_http_and_https_through_the_proxy_from_the_environment(make_daemon, receiver: Receiver,
                                                               proxy: TinyProxy,
                                                               certificates: dict[str, Path]) -> None:
    proxy.start()
    secure = HttpsReceiver(certificates)
    try:
        daemon = make_daemon(extra_env={"http_proxy": proxy.url, "HTTPS_PROXY": proxy.url})
        daemon.write_webhooks({receiver.url: {}, secure.url: {"ca-bundle": str(certificates["ca"])}})
        daemon.start()
        send_events(daemon, "p", 20)
        wait_for(lambda: receiver.count() == 20 and len(secure.bodies) == 20, timeout=20, what="all through the proxy")
        assert all(r.headers.get("via", "").startswith(VIA_PREFIX) for r in receiver.requests)  # tinyproxy forwarded each
        lines = proxy.requests()
        assert any(line.startswith(f"POST {receiver.url} HTTP/1.1") for line in lines)  # absolute form
        assert any(line.startswith(f"CONNECT 127.0.0.1:{secure.url.split(':')[2].split('/')[0]} ") for line in lines)
    finally:
        secure.stop()


@needs_tinyproxy
def test_no_proxy_goes_direct(make_daemon, receiver: Receiver, proxy: TinyProxy) -> None:
    proxy.start()
    daemon = make_daemon(extra_env={"HTTP_PROXY": proxy.url, "NO_PROXY": "localhost,127.0.0.0/8"})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_events(daemon, "d", 5)
    wait_for(lambda: receiver.count() == 5, what="direct deliveries")
    assert not any("via" in r.headers for r in receiver.requests) and proxy.requests() == []


@needs_tinyproxy
def test_proxy_down_then_up_keeps_every_event_and_says_why(make_daemon, receiver: Receiver,
                                                          proxy: TinyProxy) -> None:
    daemon = make_daemon(extra_env={"HTTP_PROXY": proxy.url})  # nothing listens there yet
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_events(daemon, "w", 10)
    status = wait_for(lambda: (s := status_of(daemon, receiver.url)) and s.retried >= 2 and s, what="retries")
    assert f"cannot connect to proxy http://127.0.0.1:{proxy.port}" in status.last_error
    assert receiver.count() == 0
    proxy.start()
    wait_for(lambda: receiver.count() == 10, timeout=20, what="delivered once the proxy is up")
    assert sorted(receiver.names()) == sorted(f"w{i}" for i in range(10))


@needs_tinyproxy
def test_proxy_credentials_407_and_never_logged(make_daemon, tmp_path: Path, certificates: dict[str, Path]) -> None:
    """Without credentials the proxy answers CONNECT with 407, which webhook-status shows; with them, delivered.

    (Through CONNECT, because tinyproxy answers a plain POST's 407 before reading its body
    and closes: the kernel then resets the connection and the 407 may never be read.)
    """
    password = "pr0xy-s3cret-word"
    proxy = TinyProxy(tmp_path / "authproxy", user="gluster", password=password).start()
    secure = HttpsReceiver(certificates)
    try:
        daemon = make_daemon()
        daemon.write_config({**FAST_RETRY, "webhook-proxy": proxy.url})  # no credentials: 407
        daemon.write_webhooks({secure.url: {"ca-bundle": str(certificates["ca"])}})
        daemon.start()
        send_events(daemon, "a", 3)
        status = wait_for(lambda: (s := status_of(daemon, secure.url)) and s.retried and s, what="407")
        assert "407" in status.last_error and "credentials" in status.last_error
        daemon.write_webhooks({secure.url: {"ca-bundle": str(certificates["ca"]),
                                            "proxy": f"http://gluster:{password}@127.0.0.1:{proxy.port}"}})
        daemon.reload()
        wait_for(lambda: len(secure.bodies) == 3, timeout=20, what="delivered with the proxy credentials")
        assert password not in daemon.log_text() and password not in daemon.stderr_text()
    finally:
        secure.stop()
        proxy.stop()


@needs_tinyproxy
def test_webhook_test_goes_through_the_daemons_proxy(make_daemon, receiver: Receiver, proxy: TinyProxy) -> None:
    """Run over SSH, webhook-test still uses the proxy set in the daemon's own environment."""
    proxy.start()
    daemon = make_daemon(extra_env={"HTTP_PROXY": proxy.url})
    daemon.start()
    out, err = io.StringIO(), io.StringIO()
    env = {"GLUSTER_EVENTS_ROOT": str(daemon.root), "PATH": "/usr/bin:/bin"}  # no proxy in the CLI's own env
    status = cli_main(["webhook-test", receiver.url], Context(environ=env, stdin=io.StringIO(), stdout=out,
                                                                 stderr=err))
    assert status == 0, out.getvalue() + err.getvalue()
    wait_for(lambda: receiver.requests, what="the test request")
    assert receiver.requests[0].body == b"{}" and receiver.requests[0].headers.get("via", "").startswith(VIA_PREFIX)


# -- client certificates ----------------------------------------------------------------------

def test_client_certificate_for_a_webhook_that_requires_one(make_daemon, certificates: dict[str, Path]) -> None:
    secure = HttpsReceiver(certificates, require_client_cert=True)
    try:
        daemon = make_daemon()
        daemon.write_config(FAST_RETRY)
        daemon.write_webhooks({secure.url: {"ca-bundle": str(certificates["ca"])}})  # no client certificate
        daemon.start()
        send_events(daemon, "m", 2)
        status = wait_for(lambda: (s := status_of(daemon, secure.url)) and s.retried and s, what="refused")
        assert status.last_error and secure.bodies == []
        daemon.write_webhooks({secure.url: {"ca-bundle": str(certificates["ca"]),
                                            "client-cert": str(certificates["client_cert"]),
                                            "client-key": str(certificates["client_key"])}})
        daemon.reload()
        wait_for(lambda: len(secure.bodies) == 2, timeout=20, what="delivered over mTLS")
        assert set(secure.peers) == {"glustereventsd test client"}
    finally:
        secure.stop()


def test_webhook_add_keeps_the_client_certificate_0600_and_uses_it(make_daemon, certificates: dict[str, Path]) -> None:
    secure = HttpsReceiver(certificates, require_client_cert=True)
    try:
        daemon = make_daemon()
        daemon.start()
        env = {"GLUSTER_EVENTS_ROOT": str(daemon.root), "PATH": "/usr/bin:/bin"}
        out, err = io.StringIO(), io.StringIO()
        status = cli_main(["webhook-add", secure.url, "--ca-bundle", str(certificates["ca"]),
                           "--client-cert", str(certificates["client_both"])],
                          Context(environ=env, stdin=io.StringIO(), stdout=out, stderr=err))
        assert status == 0, out.getvalue() + err.getvalue()
        entry = json.loads(daemon.events_dir.joinpath("webhooks.json").read_text())[secure.url]
        kept = daemon.events_dir / entry["client-cert"]
        assert entry["client-cert"].startswith("tls/") and kept.stat().st_mode & 0o777 == 0o600
        assert b"PRIVATE KEY" not in (out.getvalue() + err.getvalue()).encode()
        wait_for(lambda: "Webhook added" in daemon.log_text(), what="the daemon applied the change")
        send_events(daemon, "c", 1)
        wait_for(lambda: len(secure.bodies) == 1, timeout=20, what="delivered with the kept certificate")
        status = cli_main(["webhook-test", secure.url], Context(environ=env, stdin=io.StringIO(),
                                                                stdout=io.StringIO(), stderr=io.StringIO()))
        assert status == 0 and secure.peers.count("glustereventsd test client") == 2
    finally:
        secure.stop()


# -- URLs -----------------------------------------------------------------------------------------

def test_paths_with_space_umlaut_and_euro_go_out_percent_encoded(make_daemon, receiver: Receiver) -> None:
    base = f"http://127.0.0.1:{receiver.port}"
    urls = [f"{base}/a b", f"{base}/ä?q=ä", f"{base}/€"]
    daemon = make_daemon()
    daemon.write_webhooks({url: {} for url in urls})
    daemon.start()
    send_events(daemon, "u", 1)
    wait_for(lambda: receiver.count() == 3, what="one event to each")
    assert sorted(r.path for r in receiver.requests) == sorted(["/a%20b", "/%C3%A4?q=%C3%A4", "/%E2%82%AC"])
    assert daemon.log_text().count("Webhook delivery failed") == 0


def test_an_international_host_goes_out_as_punycode(tmp_path: Path, certificates: dict[str, Path]) -> None:
    """The daemon runs in a private mount namespace whose /etc/hosts maps the IDN to 127.0.0.1."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost xn--bcher-kva.example\n")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        wrapper = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                   'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts)]
        root = tmp_path / "node"
        root.mkdir()
        daemon = DaemonProcess(root, free_udp_port(), argv_prefix=wrapper)
        daemon.write_webhooks({f"http://bücher.example:{port}/Straße": {}})
        try:
            daemon.start()
        except AssertionError as err:
            if "Operation not permitted" in str(err) or "unshare failed" in str(err):
                pytest.skip("mount namespaces are not permitted here")
            raise
        try:
            send_events(daemon, "i", 1)
            server.settimeout(15)
            connection, _ = server.accept()
            connection.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                head += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            connection.close()
        finally:
            daemon.stop()
    request_line, *lines = head.split(b"\r\n")
    assert request_line == b"POST /Stra%C3%9Fe HTTP/1.1"
    assert f"Host: xn--bcher-kva.example:{port}".encode() in lines


def test_urls_with_control_characters_are_refused(make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    env = {"GLUSTER_EVENTS_ROOT": str(daemon.root), "PATH": "/usr/bin:/bin"}
    err = io.StringIO()
    status = cli_main(["webhook-add", "http://h/a\r\nX-Injected: 1"], Context(environ=env, stdin=io.StringIO(),
                                                                             stdout=io.StringIO(), stderr=err))
    assert status != 0 and "control characters" in err.getvalue() and "\r" not in err.getvalue()
    daemon.write_webhooks({"http://127.0.0.1:1/x\r\nX-Injected: 1": {}})  # written by hand
    result = subprocess.run([*daemon.command(), "--check-config"], env=daemon.env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 1 and "control characters" in result.stderr and "Traceback" not in result.stderr


# -- odd but legal servers --------------------------------------------------------------------------

class RawServer:
    """Answers every request with fixed bytes, counting the requests (one per connection or keep-alive)."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.requests = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(connection,), daemon=True).start()

    def _handle(self, connection: socket.socket) -> None:
        data = b""
        connection.settimeout(30)
        with connection:
            while True:
                try:
                    chunk = connection.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                data += chunk
                while (end := data.find(b"\r\n\r\n")) >= 0:
                    length = int(data[:end].split(b"Content-Length: ")[1].split(b"\r\n")[0])
                    if len(data) < end + 4 + length:
                        break
                    data = data[end + 4 + length:]
                    with self.lock:
                        self.requests += 1
                    connection.sendall(self.answer)

    def stop(self) -> None:
        self.stopped = True
        self.sock.close()


def test_a_bare_lf_webhook_is_understood_and_never_sent_twice(make_daemon) -> None:
    server = RawServer(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
    try:
        daemon = make_daemon()
        url = f"http://127.0.0.1:{server.port}/lf"
        daemon.write_webhooks({url: {"timeout-secs": 2}})
        daemon.start()
        send_events(daemon, "lf", 10)
        wait_for(lambda: (s := status_of(daemon, url)) and s.delivered == 10, timeout=15, what="delivered")
        time.sleep(2.5)  # longer than the timeout: a misread answer would have been sent again by now
        assert server.requests == 10
    finally:
        server.stop()


def test_two_content_lengths_are_refused_and_retried(make_daemon) -> None:
    server = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 7\r\n\r\nokHTTP/1")
    try:
        daemon = make_daemon()
        daemon.write_config(FAST_RETRY)
        url = f"http://127.0.0.1:{server.port}/dup"
        daemon.write_webhooks({url: {}})
        daemon.start()
        send_events(daemon, "dup", 1)
        status = wait_for(lambda: (s := status_of(daemon, url)) and s.retried >= 2 and s, what="retried")
        assert "Content-Length" in status.last_error and status.delivered == 0
    finally:
        server.stop()


def test_sigterm_returns_within_a_second_while_connects_hang(make_daemon) -> None:
    """A webhook whose connect never completes (a full accept queue) must not hold up the stop."""
    with socket.create_server(("127.0.0.1", 0), backlog=0) as blackhole:
        port = blackhole.getsockname()[1]
        fillers = []
        for _ in range(4):  # fill the accept queue: further SYNs go unanswered
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        daemon = make_daemon()
        daemon.write_webhooks({f"http://127.0.0.1:{port}/x": {"timeout-secs": 30}})
        daemon.start()
        send_events(daemon, "s", 5)
        time.sleep(1.0)
        assert daemon.proc is not None
        began = time.monotonic()
        daemon.signal(signal.SIGTERM)
        daemon.proc.wait(10)
        took = time.monotonic() - began
        for filler in fillers:
            filler.close()
    assert took < 1.0, took
    assert "glustereventsd stopped" in daemon.log_text()
    assert status_of(daemon, f"http://127.0.0.1:{port}/x").queued == 5  # every event kept in the spool
