"""The delivery loop on a fake clock, over socket pairs the test answers itself.

Deterministic: the loop's clock is a number the test moves, each turn waits for nothing
(``step(max_wait=0)``), and every connection the loop opens is one end of a socket pair
whose other end the test reads and answers. So backoff, Retry-After, timeouts and the
stale keep-alive resend are checked to the second and to the request.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from glustereventsd.sinks.http.connection import Connection, Route
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.http.driver import DeliveryLoop, HttpSink
from glustereventsd.sinks.http.request import Endpoint
from glustereventsd.models import Destination
from glustereventsd.sinks.retry import RetryPolicy
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.spool.acks import Dead, Delivered, ResultChannel
from glustereventsd.spool.records import Record
from glustereventsd.base.stats import RateLimitedLog, Stats

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class FakeSpool:
    """The rows the pipeline committed, read back the way ``SpoolReader.load`` does."""

    def __init__(self) -> None:
        self.rows: list[Record] = []
        self.closed = False

    def load(self, hook_id: int, after_id: int, limit: int) -> list[Record]:
        assert not self.closed
        return [row for row in self.rows if row.hook_id == hook_id and row.id > after_id][:limit]

    def close(self) -> None:
        self.closed = True


class Harness:
    def __init__(self, concurrency: int = 1, timeout_secs: float = 10.0) -> None:
        self.now = 1000.0
        self.results = ResultChannel(10_000)
        self.spool = FakeSpool()
        self.loop = DeliveryLoop(DriverContext(self.results, Stats(), RateLimitedLog(), threading.Event(),
                                               self.spool,  # type: ignore[arg-type]
                                               clock=lambda: self.now))
        self.loop.policy = RetryPolicy(min_backoff_secs=1.0, max_backoff_secs=60.0)
        self.servers: list[socket.socket] = []
        self.loop.connect = self._connect
        hook = Destination(url="http://hook.test:9/x", timeout_secs=timeout_secs, concurrency=concurrency)
        self.outlet = Outlet(hook, 1, durable=True, window=100, memory_limit=100)
        self.loop.add(self.outlet)
        self.buffers: dict[socket.socket, bytes] = {}

    def _connect(self, route: Route) -> Connection:
        client, server = socket.socketpair()
        server.setblocking(False)
        self.servers.append(server)
        connection = Connection(route)
        connection.adopt(client)
        return connection

    def offer(self, *seqs: int) -> None:
        """Commit records to the spool, then hand them over, as the pipeline does."""
        records = [Record(seq, 1, f"msg_{seq}", seq, "VOLUME_CREATE", 1, time.time(), b"{}") for seq in seqs]
        self.spool.rows.extend(records)
        self.outlet.offer(records)

    def spin(self, turns: int = 6) -> None:
        for _ in range(turns):
            self.loop.step(max_wait=0)

    def requests(self, server: socket.socket) -> list[int]:
        """The X-Gluster-Event-Seq of every complete request that arrived on ``server`` since last asked."""
        data = self.buffers.get(server, b"")
        try:
            while chunk := server.recv(65536):
                data += chunk
        except BlockingIOError:
            pass
        seqs = []
        while (end := data.find(b"\r\n\r\n")) >= 0:
            head = data[:end]
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
            if len(data) < end + 4 + length:
                break
            seqs.append(int(re.search(rb"X-Gluster-Event-Seq: (\d+)", head).group(1)))  # type: ignore[union-attr]
            data = data[end + 4 + length:]
        self.buffers[server] = data
        return seqs

    def all_requests(self) -> list[tuple[int, int]]:
        return [(index, seq) for index, server in enumerate(self.servers) for seq in self.requests(server)]

    def delivered(self) -> list[int]:
        return sorted(r.record_id for r in self.results.drain(10_000) if isinstance(r, Delivered))

    def close(self) -> None:
        self.loop.release_all()
        self.loop.close()
        for server in self.servers:
            server.close()


@pytest.fixture
def harness() -> Iterator[Harness]:
    made: list[Harness] = []

    def make(**kwargs: object) -> Harness:
        made.append(Harness(**kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make  # type: ignore[misc]
    for each in made:
        each.close()


def test_retry_after_holds_the_next_try_to_the_second(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.offer(1)
    h.spin()
    assert h.all_requests() == [(0, 1)]
    h.servers[0].sendall(b"HTTP/1.1 503 Busy\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n")
    h.spin()
    assert h.outlet.failures == 1 and h.outlet.blocked_until == pytest.approx(1030.0)
    h.now += 29.9
    h.spin()
    assert h.all_requests() == []  # not before the server said
    h.now += 0.2
    h.spin()
    assert h.all_requests() == [(0, 1)]  # the same event, on the same keep-alive connection
    h.servers[0].sendall(OK)
    h.spin()
    assert h.delivered() == [1] and h.outlet.failures == 0


def test_backoff_doubles_with_jitter_and_one_request_while_failing(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(concurrency=4)
    h.offer(1, 2, 3, 4, 5, 6)
    h.spin()
    in_flight = h.all_requests()
    assert sorted(seq for _, seq in in_flight) == [1, 2, 3, 4]  # the backlog uses 4 connections
    for index, _ in in_flight:
        h.servers[index].sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    h.spin()
    assert h.outlet.failures == 1  # four requests failing together are one outage, not four in a row
    assert 1000 + 0.5 <= h.outlet.blocked_until <= 1000 + 1.0
    h.now = h.outlet.blocked_until + 0.01
    h.spin()
    retried = h.all_requests()
    assert [seq for _, seq in retried] == [1]  # one at a time, the oldest first
    h.servers[retried[0][0]].sendall(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n")
    h.spin()
    assert h.outlet.failures == 2  # the probe failed: now the backoff doubles
    assert h.now + 1.0 <= h.outlet.blocked_until <= h.now + 2.0
    h.now = h.outlet.blocked_until + 0.01
    h.spin()
    retried = h.all_requests()
    assert [seq for _, seq in retried] == [1]
    h.servers[retried[0][0]].sendall(OK)
    h.spin()
    assert sorted(seq for _, seq in h.all_requests()) == [2, 3, 4, 5]  # recovered: full concurrency again
    assert h.delivered() == [1]


def test_a_request_past_its_deadline_is_a_timeout_and_retried(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(timeout_secs=10.0)
    h.offer(7)
    h.spin()
    assert h.all_requests() == [(0, 7)]
    h.now += 9.9
    h.spin()
    assert h.outlet.failures == 0
    h.now += 0.2
    h.spin()
    assert h.outlet.failures == 1 and [r.seq for r in h.outlet.retry] == [7]
    assert h.servers[0].recv(10) == b""  # the loop closed the connection it gave up on
    counters = h.outlet.take_counters()
    assert counters.retried == 1 and "no answer within 10s" in counters.last_error


def test_a_stale_keep_alive_is_sent_again_once_on_a_new_connection(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.offer(1)
    h.spin()
    assert h.all_requests() == [(0, 1)]
    h.servers[0].sendall(OK)
    h.spin()
    h.offer(2)
    h.spin()
    assert h.all_requests() == [(0, 2)]  # reused the keep-alive connection
    h.servers[0].shutdown(socket.SHUT_WR)  # ...which the server had just given up on
    h.spin()
    assert h.all_requests() == [(1, 2)]  # sent again at once, on a new connection
    h.servers[1].sendall(OK)
    h.spin()
    assert h.delivered() == [1, 2]
    assert h.outlet.take_counters().retried == 0 and h.outlet.failures == 0


def test_a_reject_is_a_dead_letter_with_the_status(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.offer(3)
    h.spin()
    h.requests(h.servers[0])
    h.servers[0].sendall(b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n")
    h.spin()
    dead = [r for r in h.results.drain(10) if isinstance(r, Dead)]
    assert [(r.record.seq, r.reason) for r in dead] == [(3, "HTTP 410")]


def test_an_unforeseen_error_fails_one_step_and_keeps_the_events(harness, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    calls = {"n": 0}
    original = Endpoint.request

    def flaky(self: Endpoint, record: Record, now: int) -> bytes:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("unforeseen")
        return original(self, record, now)

    monkeypatch.setattr(Endpoint, "request", flaky)
    h.offer(1, 2)
    h.spin()
    assert h.all_requests() == [] and h.outlet.failures == 1  # backed off, the loop lives
    h.now = h.outlet.blocked_until + 0.01
    h.spin()
    assert [seq for _, seq in h.all_requests()] == [1]  # nothing lost, order kept


def test_a_record_offered_while_the_loop_pumps_is_not_forgotten(harness) -> None:  # type: ignore[no-untyped-def]
    """The pipeline hands over a record in the middle of a pass: the next turn sends it, without another event."""
    h = harness()
    other = Outlet(Destination(url="http://other.test:9/y"), 2, durable=True, window=100, memory_limit=100)
    h.loop.add(other)
    h.spin(2)
    original = h.loop._pump
    offered = {"done": False}

    def pump(sink: HttpSink) -> None:
        original(sink)
        if sink.outlet is other and not offered["done"]:  # after the first outlet's turn in this same pass
            offered["done"] = True
            h.offer(1)

    h.loop._pump = pump  # type: ignore[method-assign]
    h.outlet.mark_backlog()  # queue both outlets for one pass: the first one, then other
    h.loop.add(other)
    h.spin(3)
    assert offered["done"] and h.all_requests() == [(0, 1)]


def test_a_reader_handed_over_serves_the_next_refill_and_a_request_in_flight_finishes(harness) -> None:  # type: ignore[no-untyped-def]
    """After a spool rebuild (Outlets.use_spool) the loop reads the fresh file; nothing in flight is cut."""
    h = harness()
    h.offer(1)
    h.spin()
    assert h.all_requests() == [(0, 1)]  # in flight when the spool is rebuilt
    old = h.spool
    fresh, superseded = FakeSpool(), FakeSpool()
    fresh.rows = [Record(seq, 1, f"msg_{seq}", seq, "VOLUME_CREATE", 1, time.time(), b"{}") for seq in (2, 3)]
    h.loop.use_reader(superseded)  # type: ignore[arg-type]
    h.loop.use_reader(fresh)  # type: ignore[arg-type]
    assert superseded.closed and not old.closed  # the loop's own reader is switched in its thread
    h.outlet.mark_backlog()
    h.servers[0].sendall(OK)
    h.spin()
    assert old.closed and h.loop.reader is fresh
    assert h.delivered() == [1]  # the request in flight was answered on its connection
    for expected in (2, 3):  # then the rows of the fresh file, in order
        assert h.all_requests() == [(0, expected)]
        h.servers[0].sendall(OK)
        h.spin()
    assert h.delivered() == [2, 3]
