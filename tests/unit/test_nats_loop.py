"""The NATS driver through its public surface, on a fake clock, with a client the test answers itself.

The driver runs in its own thread as in the daemon (``start``); the test hands it a client
(``connect``) that records each publication and lets the test send JetStream's PubAck, and
moves the driver's clock (``DriverContext.clock``) to expire publications. The real server
is exercised by tests/integration/test_nats.py; here backoff, ordering and the counting of
failures are checked exactly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
from nats.aio.msg import Msg

from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.models import Settings, Destination
from glustereventsd.sinks import kinds
from glustereventsd.sinks.driver import DriverContext, factory
from glustereventsd.sinks.nats.client import NatsSettings
from glustereventsd.sinks.outlet import Outlet, WrongDriver
from glustereventsd.spool.acks import Dead, Delivered, ResultChannel
from glustereventsd.spool.records import Record

WAIT_SECS = 5.0


class FakeClient:
    """What the driver uses of a nats-py client: publications are recorded, PubAcks come from the test."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, str, dict[str, str]]] = []
        self.on_ack: Callable[[Msg], object] | None = None
        self.is_closed = False
        self.is_connected = True
        self.is_reconnecting = False
        self.max_payload = 1 << 20
        self.connected_url = urllib.parse.urlsplit("nats://fake:4222")

    def new_inbox(self) -> str:
        return "_INBOX.test"

    async def subscribe(self, subject: str, cb: Callable[[Msg], object]) -> None:
        assert subject == "_INBOX.test.*"
        self.on_ack = cb

    async def publish(self, subject: str, payload: bytes, reply: str, headers: dict[str, str]) -> None:
        self.published.append((subject, payload, reply, headers))

    async def close(self) -> None:
        self.is_closed = True


class FakeSpool:
    """The rows the pipeline committed, read back the way ``SpoolReader.load`` does."""

    def __init__(self) -> None:
        self.rows: list[Record] = []

    def load(self, hook_id: int, after_id: int, limit: int) -> list[Record]:
        return [row for row in self.rows if row.hook_id == hook_id and row.id > after_id][:limit]

    def close(self) -> None:
        pass


class Harness:
    def __init__(self, concurrency: int = 8) -> None:
        self.now = 1000.0
        self.results = ResultChannel(10_000)
        self.stopping = threading.Event()
        self.client = FakeClient()
        self.connects = 0
        self.spool = FakeSpool()
        context = DriverContext(self.results, Stats(), RateLimitedLog(), self.stopping,
                                self.spool, nodeid="node-1", clock=lambda: self.now)  # type: ignore[arg-type]
        self.driver = factory(kinds.NATS)(context)
        self.driver.configure(Settings(retry_min_backoff_secs=1.0, retry_max_backoff_secs=60.0))
        self.driver.connect = self._connect  # type: ignore[attr-defined]
        hook = Destination(url="nats://fake:4222/gluster.events", timeout_secs=5.0, concurrency=concurrency)
        self.outlet = Outlet(hook, 1, durable=False, window=1000, memory_limit=1000)
        self.driver.add(self.outlet)
        self.driver.start()

    async def _connect(self, settings: NatsSettings, name: str, *notes: object) -> FakeClient:
        self.connects += 1
        return self.client

    def offer(self, *seqs: int) -> None:
        records = [Record(0, 1, f"msg_{seq}", seq, "VOLUME_CREATE", 1, time.time(), b'{"nodeid": "node-1"}')
                   for seq in seqs]
        self.outlet.offer(records)

    def published(self, count: int) -> list[tuple[str, bytes, str, dict[str, str]]]:
        """Wait until ``count`` publications were made; return them all."""
        deadline = time.monotonic() + WAIT_SECS
        while len(self.client.published) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(self.client.published) >= count, f"{len(self.client.published)} of {count} published"
        return list(self.client.published)

    def ack(self, reply: str, answer: dict[str, object]) -> None:
        """Send JetStream's PubAck for the publication with ``reply``, on the driver's own event loop."""
        assert self.client.on_ack is not None
        msg = Msg(_client=None, subject=reply, data=json.dumps(answer).encode())  # type: ignore[arg-type]
        coroutine = self.client.on_ack(msg)
        assert asyncio.iscoroutine(coroutine)
        asyncio.run_coroutine_threadsafe(coroutine, self.driver.loop).result(WAIT_SECS)  # type: ignore[attr-defined]

    def settle(self, predicate: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECS
        while not predicate() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert predicate(), what

    def close(self) -> None:
        self.stopping.set()
        self.driver.request_stop()
        self.driver.join(WAIT_SECS)
        assert not self.driver.alive()
        self.driver.close()


@pytest.fixture
def harness() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**kwargs: object) -> Harness:
        made.append(Harness(**kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for h in made:
        h.close()


def test_each_event_is_published_in_order_with_its_identity_and_delivered_on_its_puback(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.offer(1, 2, 3)
    sent = h.published(3)
    assert [subject for subject, *_ in sent] == ["gluster.events.node-1.VOLUME_CREATE"] * 3
    assert [headers["Nats-Msg-Id"] for *_, headers in sent] == ["msg_1", "msg_2", "msg_3"]
    assert [headers["Gluster-Event-Seq"] for *_, headers in sent] == ["1", "2", "3"]
    for number, (_, _, reply, _) in enumerate(sent):
        h.ack(reply, {"stream": "GLUSTER", "seq": number + 1, "duplicate": number == 2})
    h.settle(lambda: h.outlet.waiting() == 0 and h.outlet.counters_pending(), "three attempts counted")
    counters = h.outlet.take_counters()
    assert (counters.delivered, counters.duplicates, counters.retried) == (3, 1, 0)
    assert h.connects == 1


def test_publications_failing_together_count_as_one_failure_and_the_next_try_is_one_at_a_time(harness) -> None:  # type: ignore[no-untyped-def]
    """Eight in flight when the stream vanishes: one step of backoff, not eight (minutes of waiting)."""
    h = harness()
    h.offer(*range(1, 9))
    h.published(8)
    h.now += 6.0  # past every publication's 5 s deadline: the sweep expires all eight
    h.settle(lambda: len(h.outlet.retry) == 8, "the eight expired and wait to be retried")
    assert h.outlet.failures == 1 and h.outlet.blocked_until > h.now  # backed off once
    assert 1000 + 6.0 + 0.5 <= h.outlet.blocked_until <= 1000 + 6.0 + 1.0  # the first step: 0.5 to 1 s
    h.now = h.outlet.blocked_until + 0.01  # the backoff is over: one probe, the oldest event
    h.offer(9)  # wakes the driver
    sent = h.published(9)
    time.sleep(0.1)  # nothing more may go while the probe is out
    assert len(h.client.published) == 9 and sent[8][3]["Gluster-Event-Seq"] == "1"
    h.now += 6.0  # the probe times out too: sent after the first failure, so it counts
    h.settle(lambda: h.outlet.failures == 2, "the probe's failure counted")
    h.now = h.outlet.blocked_until + 0.01
    h.offer(10)
    probe = h.published(10)[9]
    h.ack(probe[2], {"stream": "GLUSTER", "seq": 1})
    # Back in business, in order, as many in flight as the timeouts left of the limit (each
    # window of timeouts halved it once: 8 -> 4 -> 2), not eight at once again.
    state = h.outlet.concurrency()
    assert state is not None and state.limit == 2 and state.reason == "timeout"
    rest = h.published(12)[10:]
    time.sleep(0.1)
    assert len(h.client.published) == 12
    assert [headers["Gluster-Event-Seq"] for *_, headers in rest] == ["2", "3"]
    assert h.outlet.failures == 0
    h.ack(rest[0][2], {"stream": "GLUSTER", "seq": 2})
    assert h.published(13)[12][3]["Gluster-Event-Seq"] == "4"  # a slot freed: the next one goes


def test_a_refused_event_is_a_dead_letter_and_the_rest_go_on(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    h.outlet = Outlet(Destination(url="nats://fake:4222/gluster.events", timeout_secs=5.0), 2, durable=True,
                      window=10, memory_limit=10)
    h.driver.add(h.outlet)
    records = [Record(seq, 2, f"msg_{seq}", seq, "VOLUME_CREATE", 1, time.time(), b"{}") for seq in (1, 2)]
    h.spool.rows.extend(records)  # committed, then handed over, as the pipeline does
    h.outlet.offer(records)
    sent = h.published(2)
    too_big = {"error": {"code": 400, "err_code": 10054, "description": "message size exceeds maximum allowed"}}
    h.ack(sent[0][2], too_big)
    h.ack(sent[1][2], {"stream": "GLUSTER", "seq": 9})
    results: list[object] = []
    h.settle(lambda: len(results) == 2 or bool(results.extend(h.results.drain(10))), "two results")
    dead = [r for r in results if isinstance(r, Dead)]
    delivered = [r for r in results if isinstance(r, Delivered)]
    assert [r.record.seq for r in dead] == [1] and "message size exceeds" in dead[0].reason
    assert [r.record_id for r in delivered] == [2]


def test_a_driver_refuses_a_destination_of_another_kind(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness()
    webhook = Outlet(Destination(url="http://127.0.0.1:9/hook"), 3, durable=False, window=10, memory_limit=10)
    with pytest.raises(WrongDriver, match="nats driver cannot drive the http destination"):
        h.driver.add(webhook)
