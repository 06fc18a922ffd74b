"""``listen --web`` over real HTTP: stuck browsers never hold up POSTs, bounds, headers, options.

No browser here: raw sockets stand in for pages that stop reading, so the server's own
bounds (per-page buffer, write timeout, number of pages) are what is tested.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from gluster_eventsapi.listen.feed import CLIENT_BUFFER, MAX_CLIENTS, MAX_EVENTS_HELD
from tests.browser import WebListener
from tests.helpers import REPO, wait_for


@pytest.fixture
def web():
    listener = WebListener()
    yield listener
    assert listener.stop() == 0, listener.err


def get(port: int, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers={"Host": host} if host else {})
    answer = connection.getresponse()
    result = answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    connection.close()
    return result


def state(port: int) -> dict:
    return json.loads(get(port, "/state")[2])


def event_body(i: int, padding: int = 0) -> bytes:
    return json.dumps({"event": "VOLUME_CREATE", "nodeid": f"node-{i % 3}", "ts": 1468303352 + i,
                       "message": {"name": f"v{i}", "pad": "x" * padding}}).encode()


class StuckPage:
    """An /events client that reads its headers and then never reads again."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.sock.settimeout(10)
        self.head = self.sock.recv(256)

    def close(self) -> None:
        self.sock.close()


class ReadingPage:
    """An /events client that reads everything and counts the row messages."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.data = bytearray()
        self.closed = False
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.data += chunk
        except OSError:
            pass
        self.closed = True

    def rows(self) -> list[dict]:
        messages = bytes(self.data).split(b"\n\n")
        return [json.loads(m.split(b"\ndata: ", 1)[1]) for m in messages if m.startswith(b"event: row\n")]

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)


def test_stuck_pages_never_delay_posts_and_are_dropped(web: WebListener) -> None:
    stuck = [StuckPage(web.port) for _ in range(MAX_CLIENTS - 1)]
    reader = ReadingPage(web.port)
    try:
        assert all(page.head.startswith(b"HTTP/1.1 200") for page in stuck)
        wait_for(lambda: state(web.port)["stats"]["clients"] == MAX_CLIENTS, 5, what="every page subscribed")
        status, _, body = get(web.port, "/events")  # one page too many
        assert status == 503 and b"too many pages open" in body

        count = CLIENT_BUFFER + 500  # more than a stuck page may have waiting
        connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
        slowest = 0.0
        started = time.monotonic()
        for i in range(count):
            began = time.monotonic()
            connection.request("POST", "/listen", body=event_body(i, 2000),
                               headers={"Content-Type": "application/json"})
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
            slowest = max(slowest, time.monotonic() - began)
        took = time.monotonic() - started
        connection.close()
        # A POST never waits for a page: not for a full socket (5 s write timeout) nor a full buffer.
        assert slowest < 2.0, f"a POST took {slowest:.2f}s with stuck pages connected"
        wait_for(lambda: state(web.port)["stats"]["clients"] == 1, 15, what="the stuck pages dropped")
        wait_for(lambda: len(reader.rows()) == count, 30, what="every row at the reading page")
        assert [row["message"]["name"] for row in reader.rows()] == [f"v{i}" for i in range(count)]
        assert not reader.closed
        # room again for a new page
        again = StuckPage(web.port)
        assert again.head.startswith(b"HTTP/1.1 200")
        again.close()
        print(f"{count} POSTs in {took:.2f}s with {len(stuck)} stuck pages; slowest {slowest * 1000:.1f} ms")
    finally:
        for page in stuck:
            page.close()
        reader.close()


def test_holds_the_newest_requests_only(web: WebListener) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    total = MAX_EVENTS_HELD + 150
    for i in range(total):
        connection.request("POST", "/", body=event_body(i))
        connection.getresponse().read()
    connection.close()
    held = state(web.port)
    assert held["max_events"] == MAX_EVENTS_HELD
    names = [row["message"]["name"] for row in held["rows"]]
    assert names == [f"v{i}" for i in range(150, total)]  # the oldest forgotten, order kept
    assert held["stats"]["events"] == {"VOLUME_CREATE": total}  # counts are since the start
    assert held["stats"]["nodes"] == {"node-0": 384, "node-1": 383, "node-2": 383}
    assert sum(held["stats"]["timeline"]["counts"]) == total


def test_page_assets_headers_and_host_check(web: WebListener) -> None:
    for path, kind in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css"),
                       ("/favicon.svg", "image/svg+xml"), ("/state", "application/json")):
        status, headers, body = get(web.port, path)
        assert status == 200 and headers["content-type"].startswith(kind), (path, headers)
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert body
    page = get(web.port, "/")[2].decode()
    head = page.split("<body>")[0]
    assert "<script src=\"app.js\"" in head and "http" not in head  # nothing from another site
    # A page bound to loopback answers only loopback names (no DNS rebinding).
    status, _, body = get(web.port, "/state", host="attacker.example:80")
    assert status == 403 and b"bound to loopback" in body
    assert get(web.port, "/", host="localhost:1")[0] == 200
    assert get(web.port, "/", host="[::1]:1")[0] == 200
    status, _, body = get(web.port, "/nothing-here")
    assert status == 404 and b"open /" in body
    # POSTs still go anywhere, as without --web
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    connection.request("POST", "/any/path", body=b"")
    assert connection.getresponse().status == 200
    connection.close()
    assert [row["kind"] for row in state(web.port)["rows"]] == ["test"]


def run_cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gluster_eventsapi", *argv], capture_output=True,
                          text=True, timeout=30, cwd=REPO, stdin=subprocess.DEVNULL)


def test_pool_needs_web() -> None:
    done = run_cli("listen", "--pool", "--port", "0")
    assert done.returncode == 1 and "give --web too" in done.stderr and "Traceback" not in done.stderr


def test_bound_wider_it_warns_and_serves_other_host_names() -> None:
    listener = WebListener("--host", "0.0.0.0")
    try:
        warning = next(line for line in listener.err if line.startswith("WARNING"))
        assert "not only on loopback" in warning and "web page" in warning
        assert any("Live page: open http://127.0.0.1:" in line for line in listener.err)
        assert get(listener.port, "/", host="storage-monitor.example:9000")[0] == 200
    finally:
        assert listener.stop() == 0
    plain = subprocess.Popen([sys.executable, "-m", "gluster_eventsapi", "listen", "--host", "0.0.0.0",
                              "--port", "0"], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                             cwd=REPO)
    try:
        assert plain.stderr is not None
        lines = [plain.stderr.readline(), plain.stderr.readline()]
        assert lines[1].startswith("WARNING: listening on 0.0.0.0") and "web page" not in lines[1]
    finally:
        plain.terminate()
        plain.wait(10)


def test_listens_on_ipv6_loopback_without_a_warning() -> None:
    listener = WebListener("--host", "::1")
    try:
        assert listener.host == "[::1]" and not any(line.startswith("WARNING") for line in listener.err)
        connection = http.client.HTTPConnection("::1", listener.port, timeout=10)
        connection.request("GET", "/state")
        answer = connection.getresponse()
        assert answer.status == 200 and json.loads(answer.read())["rows"] == []
        connection.request("POST", "/listen", body=event_body(1))
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        assert listener.stop() == 0
