"""One destination's delivery state, whatever its kind: window over the spool, backoff, counters.

This is the core every kind of sink shares (``sinks/http``, ``sinks/nats``): what to send
next, in order; what was delivered, retried or given up; how long to back off after a
failure, with failures of attempts in flight together counted once. What a kind needs to
talk to its receiver (connections, an endpoint, a client) lives in that kind's driver, not here.

Two threads touch an outlet, and each field says which:

- **Shared, under ``_lock``** (the pipeline hands records over, the driver takes them):
  the settings in force, the in-memory window, the records only memory holds, the rows in
  flight, the counters, and ``closed``. Every write to these goes through the lock.
- **Driver only** (no lock; the one driver bound to the outlet, see ``bind``, reads and
  writes them): the backoff (``failures``, ``blocked_until``, ``failed_at``), the records
  waiting to be retried, and the outcome of the latest attempt.

The window holds at most ``window`` records; the rest of a backlog stays in the spool and is
paged in by row id (``cursor``), so memory does not grow with the backlog. Records the spool
could not take (disk full) wait in memory only, bounded by ``memory_limit``; both bounds are
shares of one daemon-wide budget (see ``pipeline.supervisor.MemoryBudget``).
"""

from __future__ import annotations

import collections
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from glustereventsd.sinks import kinds, urls
from glustereventsd.sinks.concurrency import AdaptiveLimit, LimitState
from glustereventsd.models import Outcome, OutcomeKind, Destination
from glustereventsd.sinks.retry import RetryPolicy
from glustereventsd.spool.acks import Dead, Delivered, ResultChannel
from glustereventsd.spool.reader import SpoolReader
from glustereventsd.spool.records import HookCounters, Record
from glustereventsd.base.stats import RateLimitedLog, Stats

log = logging.getLogger("glustereventsd.outlet")


RECORD_OVERHEAD_BYTES = 300  # a Record's own size in memory beside its body (tuple, strings, numbers)


class Limit(NamedTuple):
    """A bound on records held in memory: how many, and how many bytes with their bodies."""

    records: int
    size: int


class RecordQueue:
    """Records held in memory, oldest first, with what they weigh; not thread-safe (the outlet locks)."""

    __slots__ = ("items", "size")

    def __init__(self) -> None:
        self.items: collections.deque[Record] = collections.deque()
        self.size = 0

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def append(self, record: Record) -> None:
        self.items.append(record)
        self.size += len(record.body) + RECORD_OVERHEAD_BYTES

    def appendleft(self, record: Record) -> None:
        self.items.appendleft(record)
        self.size += len(record.body) + RECORD_OVERHEAD_BYTES

    def popleft(self) -> Record:
        record = self.items.popleft()
        self.size -= len(record.body) + RECORD_OVERHEAD_BYTES
        return record

    def fits(self, records: list[Record], limit: Limit) -> bool:
        """True when ``records`` could be added without going over ``limit``."""
        size = sum(len(r.body) for r in records) + RECORD_OVERHEAD_BYTES * len(records)
        return len(self.items) + len(records) <= limit.records and self.size + size <= limit.size

    def over(self, limit: Limit) -> bool:
        return len(self.items) > limit.records or self.size > limit.size

    def remove(self, row_ids: set[int]) -> None:
        kept = [r for r in self.items if r.id not in row_ids]
        self.items = collections.deque(kept)
        self.size = sum(len(r.body) for r in kept) + RECORD_OVERHEAD_BYTES * len(kept)


class WrongDriver(RuntimeError):
    """A driver tried to drive an outlet of another kind (a bug: the supervisor groups outlets by kind)."""


class Outlet:
    """See the module docstring."""

    def __init__(self, hook: Destination, hook_id: int, durable: bool, window: int | Limit, memory_limit: int | Limit,
                 options: object = None, wall: Callable[[], float] = time.time) -> None:
        self.hook_id = hook_id
        self.kind = kinds.kind_of(hook.url, hook.format)  # fixed: another kind is another outlet
        self.label = urls.label(hook.url, hook_id)  # for logs and metric labels: no credentials or query
        self._wall = wall  # the time counters and latencies are stamped with (tests pass their own)
        self.durable = durable  # False: spool memory, the window is the whole queue
        self._lock = threading.Lock()
        # -- shared, under _lock ---------------------------------------------------------
        self._hook = hook
        # What the daemon's settings add for this destination's kind (the webhook driver: its proxy
        # rules); the outlet only compares it, so a change rebuilds the driver's view of it.
        self._options = options
        self._generation = 0  # bumped when the settings change: connections are rebuilt
        self._reset_backoff = False  # the settings changed: the loop clears its backoff
        self._window = RecordQueue()
        self._window_limit = _limit(window if durable else memory_limit)
        self._cursor = 0  # highest spool row id ever put in the window
        self._backlog = durable  # rows beyond the window may wait in the spool
        self._volatile = RecordQueue()  # not spooled (disk full)
        self._volatile_limit = _limit(memory_limit)
        self._in_flight: set[int] = set()  # row ids taken and not yet settled (see settle)
        self._orphans: set[int] = set()  # taken rows a full spool trimmed: they live only in memory now
        self._counters = HookCounters()
        self.closed = False
        self._notify: Callable[[], None] = _nothing  # wakes the driver of this outlet
        self._driver: object | None = None  # the one driver bound (see bind)
        # -- driver only -----------------------------------------------------------------
        self.failures = 0
        self.blocked_until = 0.0  # the driver's monotonic time before which nothing is sent
        self.failed_at = float("-inf")  # when the last failure was counted (see finish)
        self.retry: list[Record] = []  # failed records waiting for the backoff, oldest first
        self.last_outcome: Outcome | None = None  # of the latest attempt (webhook-test reads it)
        self._adaptive: AdaptiveLimit | None = None  # made by the first slot_limit (see sinks.concurrency)

    # == the pipeline's side (any thread) ================================================
    @property
    def hook(self) -> Destination:
        """The settings in force."""
        with self._lock:
            return self._hook

    def bind(self, driver: object, kind: str, notify: Callable[[], None]) -> None:
        """Make ``driver`` (of ``kind``) the one that drives this outlet; ``notify`` wakes it for new work.

        Raises WrongDriver for a driver of another kind: a webhook's events must never be
        taken by the NATS driver, nor the reverse. A driver that replaces one that died binds
        again; from then on only the new one is woken.
        """
        if kind != self.kind:
            raise WrongDriver(f"a {kind} driver cannot drive the {self.kind} destination {self.label}")
        with self._lock:
            self._driver = driver
            self._notify = notify

    def driven_by(self, driver: object) -> bool:
        """True while ``driver`` is the one bound to this outlet."""
        with self._lock:
            return self._driver is driver

    def update(self, hook: Destination, options: object = None) -> None:
        """New settings for the same URL (``options``: see ``__init__``; None keeps them): the driver
        rebuilds its view of them (connections, clients) and the backoff starts over."""
        with self._lock:
            options = self._options if options is None else options
            if hook != self._hook or options != self._options:
                self._hook = hook
                self._options = options
                self._generation += 1
                self._reset_backoff = True
            notify = self._notify
        notify()

    def set_limits(self, window: int | Limit, memory_limit: int | Limit) -> None:
        """This webhook's share of the daemon's memory budget (records in memory, not-spooled records)."""
        with self._lock:
            self._window_limit = _limit(window if self.durable else memory_limit)
            self._volatile_limit = _limit(memory_limit)

    def offer(self, records: list[Record]) -> int:
        """Hand over newly spooled records; return how many had to be dropped (memory full, oldest first)."""
        dropped = 0
        with self._lock:
            if self.durable:
                volatile = [r for r in records if r.id == 0]
                if volatile:
                    records = [r for r in records if r.id != 0]
                    for record in volatile:
                        self._volatile.append(record)
                    while self._volatile.over(self._volatile_limit):
                        self._volatile.popleft()
                        dropped += 1
                fresh = [r for r in records if r.id > self._cursor]
                if not self._backlog and self._window.fits(fresh, self._window_limit):
                    for record in fresh:
                        self._window.append(record)
                    if fresh:
                        self._cursor = fresh[-1].id
                elif fresh:
                    self._backlog = True  # they wait in the spool; take() pages them in
                woken = bool(records or volatile)
            else:
                for record in records:
                    self._window.append(record)
                while self._window.over(self._window_limit):
                    self._window.popleft()
                    dropped += 1
                woken = bool(records)
            notify = self._notify
        if woken:
            notify()
        return dropped

    def forget(self, row_ids: list[int]) -> int:
        """Drop rows the full spool trimmed from the window; return how many were not taken.

        A trimmed row already taken (in flight, or waiting to be retried) is still
        delivered from memory, or becomes a dead letter: it is not dropped.
        """
        if not row_ids:
            return 0
        gone = set(row_ids)
        with self._lock:
            orphans = gone & self._in_flight
            self._orphans |= orphans
            if self._window:
                self._window.remove(gone)
        return len(gone) - len(orphans)

    def mark_backlog(self) -> None:
        """Look in the spool again (dead letters were re-queued)."""
        with self._lock:
            if self.durable:
                self._backlog = True
            notify = self._notify
        notify()

    def settle(self, row_ids: list[int]) -> None:
        """These taken rows are delivered or dead, and their deletion is committed.

        Until then they count as in flight, so a full spool never trims (and counts as
        dropped) an event that was delivered a moment ago but not yet acknowledged.
        """
        with self._lock:
            self._in_flight.difference_update(row_ids)
            self._orphans.difference_update(row_ids)

    def in_flight(self) -> tuple[int, ...]:
        """Spool row ids being delivered: a full spool must not drop them."""
        with self._lock:
            return tuple(row_id for row_id in self._in_flight if row_id)

    def memory_only(self) -> int:
        """Records waiting that exist nowhere but in memory (spool memory, or not spooled)."""
        with self._lock:
            return len(self._volatile) + (0 if self.durable else len(self._window))

    def oldest_received(self) -> float | None:
        """Receipt time of the oldest record waiting in memory."""
        with self._lock:
            oldest = [queue.items[0].received for queue in (self._window, self._volatile) if queue]
            return min(oldest) if oldest else None

    def waiting(self) -> int:
        """Records in memory not yet taken."""
        with self._lock:
            return len(self._window) + len(self._volatile)

    def counters_pending(self) -> bool:
        """True when attempts were counted since the last ``take_counters``."""
        with self._lock:
            return self._counters.pending()

    def count_duplicate(self) -> None:
        """A delivery the receiver already had (a NATS stream's PubAck said duplicate): count it."""
        with self._lock:
            self._counters.duplicates += 1

    def take_counters(self) -> HookCounters:
        """The counters since the last call (the committer flushes them to the spool)."""
        with self._lock:
            counters, self._counters = self._counters, HookCounters()
            return counters

    def close(self) -> None:
        """The webhook is removed or the daemon stops: take nothing more."""
        with self._lock:
            self.closed = True
            notify = self._notify
        notify()

    # == the delivery loop's side =======================================================
    def settings(self) -> tuple[Destination, object, int]:
        """(settings, the kind's options, generation); clears the backoff when they changed."""
        with self._lock:
            if self._reset_backoff:
                self._reset_backoff = False
                self.failures = 0
                self.blocked_until = 0.0
            return self._hook, self._options, self._generation

    def take(self, reader: SpoolReader | None) -> Record | None:
        """The oldest record not yet taken (retries first), or None when there is none; never waits."""
        if self.retry:
            return self.retry.pop(0)
        with self._lock:
            if self.closed:
                return None
            if not self._window and self._backlog and reader is not None:
                try:
                    rows = reader.load(self.hook_id, self._cursor, self._window_limit.records)
                except sqlite3.Error as err:  # busy or broken disk: the rows stay, try again soon
                    log.error("Cannot read the spool of url=%s: %s", self.label, err)
                    return None
                kept = 0
                for row in rows:  # as many as the byte bound allows (at least one)
                    if kept and self._window.size + len(row.body) + RECORD_OVERHEAD_BYTES > self._window_limit.size:
                        break
                    self._window.append(row)
                    self._cursor = row.id
                    kept += 1
                if kept == len(rows) and len(rows) < self._window_limit.records:
                    self._backlog = False  # read to the end: nothing more waits in the spool
            queue = self._window or self._volatile
            if not queue:
                return None
            record = queue.popleft()
            self._in_flight.add(record.id)
            return record

    def give_back(self, records: list[Record]) -> None:
        """Records taken but not finished (the loop stops): first in line again, in order."""
        with self._lock:
            for record in sorted(records, key=lambda r: r.seq, reverse=True):
                self._in_flight.discard(record.id)
                if (record.id == 0 and self.durable) or record.id in self._orphans:  # memory only
                    self._volatile.appendleft(record)
                else:
                    self._window.appendleft(record)

    def release(self, taken: list[Record]) -> None:
        """The driver lets go (the outlet is removed, its driver stops or failed): ``taken`` (in flight) and
        the records waiting for a retry go back first in line, in order; they are still in the spool."""
        held, self.retry = taken + self.retry, []
        self.give_back(held)

    def requeue(self, records: list[Record]) -> None:
        """Records whose attempt was cut short by the driver (a connection dropped): sent again first, no failure."""
        if records:
            self.retry.extend(records)
            self.retry.sort(key=lambda r: r.seq)

    def back_off(self, policy: RetryPolicy, clock_now: float) -> None:
        """Count one failure that no attempt's outcome reports (the driver failed unexpectedly) and wait."""
        self.failures += 1
        self.failed_at = clock_now
        self.blocked_until = clock_now + policy.backoff(self.failures, None)

    def slot_limit(self, ceiling: int, in_flight: int = 0, start: int | None = None) -> int:
        """How many attempts may be in flight now, with ``in_flight`` already out: one while the
        destination is failing, else its adaptive limit (``sinks.concurrency``), between 1 and
        ``ceiling``, starting at ``start`` (default: the ceiling)."""
        limiter = self._adaptive
        if limiter is None:
            limiter = self._adaptive = AdaptiveLimit(ceiling if start is None else start, ceiling)
        else:
            limiter.set_ceiling(ceiling)
        if self.failures:
            return 1
        limiter.in_flight(in_flight)
        return limiter.limit

    def concurrency(self) -> LimitState | None:
        """The in-flight limit in force and why (any thread), None before the driver first asked."""
        limiter = self._adaptive
        return limiter.state if limiter is not None else None

    def finish(self, record: Record, outcome: Outcome, results: ResultChannel | None, policy: RetryPolicy,
               stats: Stats, log_limiter: RateLimitedLog, clock_now: float,
               stopping: threading.Event | None = None, started: float | None = None) -> None:
        """Account for one attempt: a delivery, a dead letter, or a retry after the backoff.

        ``clock_now`` is the driver's monotonic time (the backoff counts from it).
        ``started``, when given, is when the attempt was sent: attempts sent before the last
        failure was counted fail with the same outage and count once, so eight requests in
        flight failing together back off like one failure, not like eight in a row.
        ``results`` None: a one-shot test request, nothing goes to the spool or is retried.
        """
        self.last_outcome = outcome
        now = self._wall()
        if results is None:
            return
        if self._adaptive is not None:
            self._adaptive.observe(outcome, started, clock_now)
        if outcome.kind is OutcomeKind.DELIVERED:
            self.failures = 0
            with self._lock:
                self._counters.delivered += 1
                self._counters.last_success_at = now
                if not record.id:
                    self._in_flight.discard(0)
            stats.add("delivered", self.label)
            stats.observe("delivery_latency_seconds", self.label, now - record.received)
            if record.id:
                results.put(Delivered(record.hook_id, record.id), stopping)
            return
        if outcome.kind is OutcomeKind.REJECT:
            self._warn(log_limiter, outcome.reason, f"Webhook rejected event, moved to dead letters url={self.label} "
                       f"event={record.name} reason={outcome.detail or outcome.reason}")
            self._die(record, outcome.detail or outcome.reason, now, results, stats, stopping)
            return
        stats.add("retried", (self.label, outcome.reason))
        with self._lock:
            self._counters.retried += 1
            self._counters.last_error = outcome.detail or outcome.reason
            self._counters.last_error_at = now
        results.nudge()  # a sleeping pipeline flushes the counters (webhook-status shows the error)
        if now - record.received > policy.max_age_secs:
            self._die(record, f"undelivered after {policy.max_age_secs:g}s: {outcome.reason}", now, results, stats,
                      stopping)
            return
        if started is not None and started <= self.failed_at:
            if outcome.retry_after_secs is not None:  # the server's own word still counts
                self.blocked_until = max(self.blocked_until, clock_now + min(outcome.retry_after_secs,
                                                                             policy.max_backoff_secs))
            self.requeue([record])
            return
        self.failures += 1
        self.failed_at = clock_now
        delay = policy.backoff(self.failures, outcome.retry_after_secs)
        self.blocked_until = max(self.blocked_until, clock_now + delay)
        self._warn(log_limiter, outcome.reason, f"Webhook delivery failed, retrying url={self.label} "
                   f"reason={outcome.detail or outcome.reason} retry_in_secs={delay:.1f}")
        self.requeue([record])

    def _die(self, record: Record, reason: str, now: float, results: ResultChannel, stats: Stats,
             stopping: threading.Event | None) -> None:
        with self._lock:
            self._counters.dead += 1
            self._counters.last_error = reason  # webhook-status shows why events die
            self._counters.last_error_at = now
        stats.add("dead_letters", self.label)
        results.put(Dead(record, reason), stopping)

    def _warn(self, log_limiter: RateLimitedLog, key: str, message: str) -> None:
        log_limiter.log(log, logging.WARNING, f"{self.hook_id}:{key}", "%s", message)


def _limit(bound: int | Limit) -> Limit:
    """A count-only bound (tests, one-shot outlets) as a Limit."""
    return bound if isinstance(bound, Limit) else Limit(bound, 1 << 62)


def _nothing() -> None:
    """The wake-up of an outlet no loop drives yet."""
