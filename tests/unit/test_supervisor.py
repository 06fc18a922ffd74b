"""The supervisor: one driver per kind of destination, replaced when its thread dies, each outlet with its own kind.

The webhook driver is the real one, made to die on demand; the NATS driver is the real one
with a client the test answers (tests/unit/test_nats_loop.py). The supervisor runs on a
fake clock, so its check for dead drivers is due when the test says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.models import OutcomeKind, Settings, Destination
from glustereventsd.pipeline.supervisor import LOOP_CHECK_SECS, Outlets
from glustereventsd.sinks import kinds
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.http.driver import DeliveryLoop
from glustereventsd.sinks.nats.driver import NatsLoop
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.spool.records import Record
from glustereventsd.spool.writer import SpoolWriter
from tests.unit.test_nats_loop import FakeClient

WEBHOOK = "http://127.0.0.1:9/hook"  # the discard port: refused, so each attempt is a retry
NATS = "nats://fake:4222/gluster.events"


class DyingLoop(DeliveryLoop):
    """The real webhook driver, whose thread ends with an unforeseen error when the test says."""

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self.die = threading.Event()

    def step(self, deadline: float | None = None, max_wait: float | None = None) -> None:
        if self.die.is_set():
            raise RuntimeError("a bug nobody foresaw")
        super().step(deadline, min(max_wait, 0.05) if max_wait is not None else 0.05)


class Pool:
    def __init__(self, path: Path) -> None:
        self.now = 1000.0
        self.client = FakeClient()
        self.webhook_drivers: list[DyingLoop] = []
        self.nats_drivers: list[NatsLoop] = []
        self.settings = Settings(retry_min_backoff_secs=30, retry_max_backoff_secs=60)
        self.writer = SpoolWriter(path, durable=False)
        self.outlets = Outlets(self.writer, self.settings, ResultChannel(10_000), Stats(), RateLimitedLog(),
                               factories={kinds.HTTP: self._webhook_driver, kinds.NATS: self._nats_driver},
                               clock=lambda: self.now)

    def _webhook_driver(self, context: DriverContext) -> DyingLoop:
        self.webhook_drivers.append(DyingLoop(context))
        return self.webhook_drivers[-1]

    def _nats_driver(self, context: DriverContext) -> NatsLoop:
        driver = NatsLoop(context)

        async def connect(*args: object) -> FakeClient:
            return self.client

        driver.connect = connect  # type: ignore[assignment]
        self.nats_drivers.append(driver)
        return driver

    def offer(self, url: str, seq: int) -> None:
        outlet = self.outlets.by_url[url]
        outlet.offer([Record(0, outlet.hook_id, f"msg_{seq}", seq, "VOLUME_CREATE", 1, time.time(), b"{}")])

    def close(self) -> None:
        self.outlets.stop(time.monotonic() + 5)
        self.writer.close()


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[Pool]:
    made = Pool(tmp_path / "spool.sqlite3")
    yield made
    made.close()


def wait_for(predicate: object, what: str, secs: float = 5.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + secs
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert predicate(), what


def test_a_dead_webhook_driver_is_replaced_and_the_nats_sink_stays_with_its_own_driver(pool: Pool) -> None:
    """A replaced webhook driver takes the webhooks only: the NATS sink is still driven, and woken, by the NATS driver."""
    pool.outlets.apply(pool.settings, [Destination(url=WEBHOOK), Destination(url=NATS)])
    webhook, sink = pool.outlets.by_url[WEBHOOK], pool.outlets.by_url[NATS]
    first = pool.webhook_drivers[0]
    assert len(pool.nats_drivers) == 1 and sink.driven_by(pool.nats_drivers[0]) and webhook.driven_by(first)

    first.die.set()
    first.wake()
    wait_for(lambda: not first.alive(), "the webhook driver's thread ended")
    pool.outlets.supervise()  # not yet due: nothing happens
    assert len(pool.webhook_drivers) == 1
    pool.now += LOOP_CHECK_SECS
    pool.outlets.supervise()
    assert len(pool.webhook_drivers) == 2 and pool.outlets.driver_of(kinds.HTTP) is pool.webhook_drivers[1]
    assert len(pool.nats_drivers) == 1  # the NATS driver was alive: kept
    assert webhook.driven_by(pool.webhook_drivers[1]) and sink.driven_by(pool.nats_drivers[0])

    pool.offer(NATS, 1)  # the NATS driver is woken and publishes it
    wait_for(lambda: len(pool.client.published) == 1, "the NATS sink's event was published")
    assert sink.last_outcome is None or sink.last_outcome.reason != "config"
    pool.offer(WEBHOOK, 2)  # the new webhook driver delivers (here: tries, and is refused)
    wait_for(lambda: webhook.last_outcome is not None, "the webhook's event was tried")
    assert webhook.last_outcome is not None and webhook.last_outcome.kind is OutcomeKind.RETRY
    assert webhook.last_outcome.reason == "connect"


def test_a_dead_nats_driver_is_replaced_with_the_nats_sinks_only(pool: Pool) -> None:
    pool.outlets.apply(pool.settings, [Destination(url=WEBHOOK), Destination(url=NATS)])
    first = pool.nats_drivers[0]
    first.loop.call_soon_threadsafe(first.loop.stop)  # its event loop ends under it, as an unforeseen error would
    wait_for(lambda: not first.alive(), "the NATS driver's thread ended")
    assert pool.webhook_drivers[0].alive()
    pool.now += LOOP_CHECK_SECS
    pool.outlets.supervise()
    assert len(pool.nats_drivers) == 2 and len(pool.webhook_drivers) == 1
    assert pool.outlets.by_url[NATS].driven_by(pool.nats_drivers[1])
    assert pool.outlets.by_url[WEBHOOK].driven_by(pool.webhook_drivers[0])
    pool.offer(NATS, 1)
    wait_for(lambda: len(pool.client.published) == 1, "the replaced NATS driver publishes")


def test_webhooks_differing_only_in_a_hidden_part_have_labels_of_their_own(pool: Pool) -> None:
    """``?token=A`` and ``?token=B`` are two webhooks: two metric series, and forgetting one keeps the other's."""
    first, second, plain = "http://127.0.0.1:9/hook?token=A", "http://127.0.0.1:9/hook?token=B", WEBHOOK
    pool.outlets.apply(pool.settings, [Destination(url=first), Destination(url=second), Destination(url=plain)])
    labels = {url: pool.outlets.by_url[url].label for url in (first, second, plain)}
    assert len(set(labels.values())) == 3
    assert labels[plain] == plain  # a URL with nothing hidden keeps the label it always had
    assert not any("token" in label or "=A" in label or "=B" in label for label in labels.values())
    stats = pool.outlets.stats
    for url in (first, second):
        pool.offer(url, 1)
    wait_for(lambda: all(stats.get("retried", (labels[url], "connect")) >= 1 for url in (first, second)),
             "each webhook's retry counted under its own label")
    pool.outlets.apply(pool.settings, [Destination(url=second), Destination(url=plain)])  # the first is deleted
    assert stats.get("retried", (labels[second], "connect")) >= 1  # its neighbour's counters are kept
    assert stats.get("retried", (labels[first], "connect")) == 0


def test_urls_shown_alike_but_written_differently_have_labels_of_their_own(pool: Pool) -> None:
    """The CLI keeps ``HTTP://127.0.0.1:09/hook`` and ``http://127.0.0.1:9/hook`` apart: so do the labels."""
    urls = [WEBHOOK, "HTTP://127.0.0.1:09/hook", "http://127.0.0.1:9/hook#x"]
    pool.outlets.apply(pool.settings, [Destination(url=url) for url in urls])
    labels = [pool.outlets.by_url[url].label for url in urls]
    assert len(set(labels)) == 3 and labels[0] == WEBHOOK


def test_a_driver_that_cannot_start_again_is_tried_at_the_next_check(pool: Pool) -> None:
    pool.outlets.apply(pool.settings, [Destination(url=WEBHOOK)])
    first = pool.webhook_drivers[0]
    refusals = [OSError(24, "Too many open files")]
    make = pool._webhook_driver

    def refusing(context: DriverContext) -> DyingLoop:
        if refusals:
            raise refusals.pop()
        return make(context)

    pool.outlets._factories[kinds.HTTP] = refusing  # noqa: SLF001 - the next start fails once
    first.die.set()
    first.wake()
    wait_for(lambda: not first.alive(), "the webhook driver's thread ended")
    pool.now += LOOP_CHECK_SECS
    pool.outlets.supervise()  # cannot start: logged, the pipeline goes on
    assert pool.outlets.driver_of(kinds.HTTP) is None and len(pool.webhook_drivers) == 1
    pool.now += LOOP_CHECK_SECS
    pool.outlets.supervise()
    assert pool.outlets.driver_of(kinds.HTTP) is pool.webhook_drivers[1]
    assert pool.outlets.by_url[WEBHOOK].driven_by(pool.webhook_drivers[1])

