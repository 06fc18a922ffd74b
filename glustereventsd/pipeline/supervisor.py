"""The destinations in force: one ``Outlet`` each, their event filters, the memory budget, and their drivers.

Owned by the pipeline thread: it adds, updates and removes outlets on reload, answers
"which destinations want this event", and replaces a driver whose thread died. The
metrics endpoint reads the backlog through ``queue_gauges`` from its own thread.

There is one driver per kind of destination (``sinks.kinds``: webhooks, NATS sinks), made
by that kind's factory (``sinks.driver``) when its first destination appears, so a daemon
with no NATS sink never loads nats-py. Each outlet is handed to the driver of its own kind
only, also when a dead driver is replaced (``Outlet.bind`` refuses any other).

It holds the daemon's one reference to the spool writer (``writer``, the committer's too),
replaced only by ``use_spool`` in the pipeline thread after a corrupt spool was rebuilt;
each driver then gets a reader of the fresh file. Every reader it opens sets
``spool_damaged`` when it finds the file corrupt, which the pipeline checks each turn.

Memory is bounded per daemon, not only per webhook: ``MemoryBudget`` splits a fixed number
of in-memory records, and of bytes, among the webhooks, so 100 webhooks far behind, or
8 KB events, hold no more than the budget.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from glustereventsd.base.stats import QueueGauge, RateLimitedLog, Stats
from glustereventsd.models import Settings, Destination
from glustereventsd.sinks import kinds
from glustereventsd.sinks.driver import Driver, DriverContext, DriverFactory, factory
from glustereventsd.sinks.http.proxies import config_rules
from glustereventsd.sinks.outlet import Limit, Outlet
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.spool.reader import SpoolReader
from glustereventsd.spool.writer import SpoolWriter

log = logging.getLogger("glustereventsd.outlets")

LOOP_CHECK_SECS = 5.0  # how often a delivery thread that died is replaced


@dataclass(frozen=True)
class MemoryBudget:
    """Records the daemon holds in memory, shared out among its webhooks.

    ``window``: spooled records paged into memory ahead of delivery (the rest stay on
    disk). ``not_spooled``: records only memory holds (``spool memory``, or a full disk).
    Each webhook gets an equal share, within [``min_window``, ``max_window``] and at
    least ``min_not_spooled`` records; and of ``window_bytes`` and ``not_spooled_bytes``
    (bodies and per-record overhead), at least ``min_bytes``: events are up to 64 KB, so a
    bound on records alone would not bound memory.
    """

    window: int = 20_000
    max_window: int = 1_000
    min_window: int = 64
    window_bytes: int = 16 << 20
    not_spooled: int = 100_000
    min_not_spooled: int = 1_000
    not_spooled_bytes: int = 64 << 20
    min_bytes: int = 256 << 10  # every webhook may hold this much, however many there are

    def shares(self, webhooks: int, spool_max_events: int) -> tuple[Limit, Limit]:
        """(window, not-spooled limit) of each of ``webhooks`` webhooks: records and bytes."""
        count = max(1, webhooks)
        window = max(self.min_window, min(self.max_window, self.window // count))
        memory = min(spool_max_events, max(self.min_not_spooled, self.not_spooled // count))
        return (Limit(window, max(self.min_bytes, self.window_bytes // count)),
                Limit(memory, max(self.min_bytes, self.not_spooled_bytes // count)))


class Outlets:
    """See the module docstring; the pipeline thread runs its methods, except ``queue_gauges`` and
    ``memory_only`` (metrics and main threads: they only read) and ``stop`` on a failed start."""

    def __init__(self, writer: SpoolWriter, settings: Settings, results: ResultChannel, stats: Stats,
                 log_limiter: RateLimitedLog, budget: MemoryBudget | None = None, nodeid: str = "",
                 factories: Mapping[str, DriverFactory] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.nodeid = nodeid  # NATS subjects and headers name the node
        self.writer = writer  # pipeline thread only (see the module docstring)
        self.spool_path = writer.path  # the same file across rebuilds: what other threads may read
        self.durable = writer.durable
        self.spool_damaged = _Alarm(results.nudge)  # set by a reader that found the spool corrupt: wakes the pipeline
        self.settings = settings
        self.results = results
        self.stats = stats
        self.log_limiter = log_limiter
        self.budget = budget or MemoryBudget()
        self.environment = dict(os.environ)  # the daemon's (proxy variables), fixed at start
        self.by_url: dict[str, Outlet] = {}
        self.by_id: dict[int, Outlet] = {}
        self._filters: dict[str, tuple[Outlet, ...]] = {}  # event name -> outlets that want it
        self._lock = threading.Lock()  # guards the dicts' replacement for queue_gauges' thread
        self.stopping = threading.Event()
        self._factories = dict(factories or {})  # kind -> how its driver is made (tests pass their own)
        self._drivers: dict[str, Driver] = {}  # kind -> its one driver, started with its first destination
        self._unstarted: set[str] = set()  # kinds whose dead driver could not be replaced yet
        self._clock = clock
        self._next_check = clock() + LOOP_CHECK_SECS

    # -- the drivers ----------------------------------------------------------------------
    def _reader(self) -> SpoolReader | None:
        """A new read-only view of the spool (None for ``spool memory``)."""
        return SpoolReader(self.spool_path, self.spool_damaged) if self.durable else None

    def _start(self, kind: str) -> Driver:
        """Start the driver of ``kind`` and hand it every outlet of that kind (and only those)."""
        make = self._factories.get(kind) or factory(kind)
        context = DriverContext(self.results, self.stats, self.log_limiter, self.stopping, self._reader(),
                                self.environment, self.nodeid, spool_path=self.spool_path)
        driver = make(context)
        driver.configure(self.settings)
        for outlet in self.by_id.values():
            if outlet.kind == kind:
                driver.add(outlet)
        driver.start()
        self._drivers[kind] = driver
        return driver

    def driver_of(self, kind: str) -> Driver | None:
        """The driver of ``kind`` if one runs (for status and tests; the pipeline thread starts them)."""
        return self._drivers.get(kind)

    def _driver(self, kind: str) -> Driver:
        """The driver of ``kind``, started when the first destination of that kind appears."""
        driver = self._drivers.get(kind) or self._start(kind)
        self._unstarted.discard(kind)
        return driver

    def next_check(self) -> float:
        """When ``supervise`` next looks at the drivers (its clock): the pipeline sleeps no longer."""
        return self._next_check

    def supervise(self) -> None:
        """Replace a driver whose thread died (it logged why), so no destination stalls silently.

        A replacement that cannot start (the spool being rebuilt, no file descriptors left) is
        logged and tried again at the next check; the pipeline goes on.
        """
        now = self._clock()
        if now < self._next_check:
            return
        self._next_check = now + LOOP_CHECK_SECS
        if self.stopping.is_set():
            return
        for kind, driver in list(self._drivers.items()):
            if not driver.alive():
                log.error("The %s driver's thread stopped; starting a new one", kind)
                del self._drivers[kind]
                driver.close()
                self._unstarted.add(kind)
        for kind in sorted(self._unstarted):
            try:
                self._start(kind)
            except (sqlite3.Error, OSError) as err:
                log.error("Cannot start the %s driver (%s); trying again in %g s", kind, err, LOOP_CHECK_SECS)
            else:
                self._unstarted.discard(kind)

    def use_spool(self, writer: SpoolWriter) -> None:
        """Go on with ``writer``, of a spool rebuilt at the same path (pipeline thread only).

        Each driver is handed a reader of the fresh file, which it takes before its next
        refill (the old ones stay on the file that was moved aside), and every outlet looks
        in the spool again: rows beyond its window were recovered with their row ids.
        """
        self.writer = writer
        for driver in self._drivers.values() if self.durable else ():
            try:
                reader = SpoolReader(self.spool_path, self.spool_damaged)
            except sqlite3.Error as err:
                log.error("Cannot read the rebuilt spool %s (%s); events are read from the old file until the "
                          "daemon restarts", self.spool_path, err)
                break
            driver.use_reader(reader)
        for outlet in self.by_id.values():
            outlet.mark_backlog()

    # -- webhooks ------------------------------------------------------------------------
    def apply(self, settings: Settings, webhooks: Sequence[Destination]) -> None:
        """Start, update or stop outlets for ``webhooks``; a removed webhook's spool is discarded."""
        self.settings = settings
        for driver in self._drivers.values():
            driver.configure(settings)
        wanted = {hook.url: hook for hook in webhooks}
        by_url, by_id = dict(self.by_url), dict(self.by_id)
        try:
            self._change(settings, wanted, by_url, by_id)
        finally:  # a spool error part way: what changed is published, so no stopped outlet stays in
            with self._lock:
                self.by_url, self.by_id = by_url, by_id
                self._filters = {}

    def _change(self, settings: Settings, wanted: dict[str, Destination], by_url: dict[str, Outlet],
                by_id: dict[int, Outlet]) -> None:
        """Stop, start and update outlets in ``by_url``/``by_id`` (copies) for ``wanted``."""
        for url in list(by_url):
            if url not in wanted:
                outlet = by_url.pop(url)
                by_id.pop(outlet.hook_id, None)
                self._driver(outlet.kind).remove(outlet)
                self.writer.discard_hook(outlet.hook_id)
                self.stats.forget(outlet.label)
                log.info("Webhook removed, its queue discarded url=%s", outlet.label)
        for url, hook_id in list(self.writer.known_hooks().items()):
            if url not in wanted:  # left over from a webhook deleted while the daemon was down
                self.writer.discard_hook(hook_id)
        window, memory = self.budget.shares(len(wanted), settings.spool_max_events)
        proxies = config_rules(settings.webhook_proxy, settings.webhook_no_proxy)
        for url, configured in wanted.items():
            hook = dataclasses.replace(configured,
                                       timeout_secs=configured.timeout_secs or settings.webhook_timeout_secs)
            existing = by_url.get(url)
            if existing is not None and existing.kind != kinds.kind_of(url, hook.format):
                # The format made it another kind (a webhook became an Alertmanager sink): another
                # driver takes it over; its queue stays in the spool under the same hook id.
                self._driver(existing.kind).remove(existing)
                by_url.pop(url)
                by_id.pop(existing.hook_id, None)
                existing = None
            if existing is None:
                hook_id = self.writer.hook_id(url)
                outlet = Outlet(hook, hook_id, self.writer.durable, window, memory, proxies)
                by_url[url], by_id[hook_id] = outlet, outlet
                self._driver(outlet.kind).add(outlet)
                log.info("%s added url=%s auth=%s", kinds.NOUNS[outlet.kind], outlet.label, hook.describe_auth())
            else:
                existing.set_limits(window, memory)
                existing.update(hook, proxies)

    def wanting(self, name: str) -> tuple[Outlet, ...]:
        """The outlets whose event filter admits ``name`` (cached per name until the next reload)."""
        found = self._filters.get(name)
        if found is None:
            found = tuple(outlet for outlet in self.by_url.values() if _wants(outlet.hook, name))
            self._filters[name] = found
        return found

    def stop(self, deadline: float) -> None:
        """Stop the drivers: records in flight go back to their outlets (they stay spooled)."""
        self.stopping.set()
        for outlet in self.by_id.values():
            outlet.close()
        for driver in self._drivers.values():
            driver.request_stop()
        for driver in self._drivers.values():
            driver.join(deadline - time.monotonic())
        for driver in self._drivers.values():
            if not driver.alive():
                driver.close()

    def memory_only(self) -> dict[str, int]:
        """Events each webhook holds only in memory, by URL (any thread)."""
        with self._lock:
            outlets = list(self.by_url.items())
        return {url: outlet.memory_only() for url, outlet in outlets}

    def concurrency(self) -> dict[str, tuple[int, str]]:
        """Each destination's in-flight limit and why, by URL (any thread; those no driver asked yet left out)."""
        with self._lock:
            outlets = list(self.by_url.items())
        found = {url: outlet.concurrency() for url, outlet in outlets}
        return {url: (state.limit, state.reason) for url, state in found.items() if state is not None}

    def queue_gauges(self) -> list[QueueGauge]:
        """Backlog of every webhook, for the metrics endpoint (called from its thread)."""
        with self._lock:
            outlets = list(self.by_id.values())
        now = time.time()
        gauges = []
        reader = None
        try:
            reader = self._reader()
            for outlet in outlets:
                memory_only = outlet.memory_only()
                if reader is not None:
                    depth = reader.count(outlet.hook_id) + memory_only
                    oldest_values = [t for t in (reader.oldest_received(outlet.hook_id), outlet.oldest_received())
                                     if t]
                    oldest = min(oldest_values) if oldest_values else None
                else:
                    depth, oldest = outlet.waiting(), outlet.oldest_received()
                gauges.append(QueueGauge(outlet.label, depth, now - oldest if oldest else 0.0, memory_only,
                                         outlet.concurrency()))
        except sqlite3.Error as err:  # no file for a moment (being rebuilt): what memory holds
            log.warning("Cannot read the spool for the queue gauges: %s", err)
            return [QueueGauge(o.label, o.waiting(), now - (o.oldest_received() or now), o.memory_only(),
                               o.concurrency()) for o in outlets]
        finally:
            if reader is not None:
                reader.close()
        return gauges


def _wants(hook: Destination, name: str) -> bool:
    """True when the webhook's event filter (glob patterns) admits ``name``."""
    return not hook.events or any(fnmatch.fnmatchcase(name, pattern) for pattern in hook.events)


class _Alarm(threading.Event):
    """An event whose ``set`` also calls ``ring`` (wakes the sleeping pipeline, which checks it each turn)."""

    def __init__(self, ring: Callable[[], None]) -> None:
        super().__init__()
        self._ring = ring

    def set(self) -> None:
        super().set()
        self._ring()
