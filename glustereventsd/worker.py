"""Per-webhook delivery state: a bounded in-memory window over the spool, results, retry policy.

Each webhook gets a ``HookQueue``; its ``dispatcher.WebhookDispatcher`` takes records from
it. The window holds at most ``window`` records; the rest of a backlog stays in the spool
and is paged in by row id (``cursor``), so memory does not grow with the backlog. The
dispatcher never writes the spool: it reports results to the pipeline's bounded
``ResultChannel``, and the pipeline, which owns the spool, applies them.
"""

from __future__ import annotations

import collections
import logging
import random
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

from glustereventsd.config import display_url
from glustereventsd.models import Webhook
from glustereventsd.spool import Record, SpoolReader

log = logging.getLogger("glustereventsd.worker")


class Delivered(NamedTuple):
    """A record the webhook accepted: delete it from the spool."""

    hook_id: int
    record_id: int
    at: float
    latency_secs: float


class Failed(NamedTuple):
    """One failed attempt that will be retried."""

    hook_id: int
    reason: str
    detail: str
    at: float


class Dead(NamedTuple):
    """A record that will never be delivered: move it to the dead letters."""

    record: Record
    reason: str


Result = Delivered | Failed | Dead



class ResultChannel:
    """Delivery results, from the workers to the pipeline thread; bounded.

    ``collections.deque`` appends and pops are atomic in CPython, so a dispatcher reporting a
    result takes no lock and wakes nobody: the pipeline drains the channel every turn (at most
    a commit wait apart). Measured, ``queue.Queue.put`` (a lock and a condition) was a tenth of
    the GIL time of delivery. The bound holds because a dispatcher waits while it is full.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: collections.deque[Result] = collections.deque()

    def put(self, result: Result, stopping: threading.Event) -> bool:
        """Add ``result``, waiting while full; False if dropped because the daemon is stopping.

        Only a ``Failed`` (a counter) is ever dropped: acks and dead letters are kept even
        then, so the spool stays exact.
        """
        while len(self._items) >= self.limit:
            if stopping.is_set() and isinstance(result, Failed):
                return False
            time.sleep(0.01)
        self._items.append(result)
        return True

    def drain(self, limit: int) -> list[Result]:
        """Take up to ``limit`` results, oldest first."""
        taken: list[Result] = []
        pop = self._items.popleft
        try:
            while len(taken) < limit:
                taken.append(pop())
        except IndexError:
            pass
        return taken

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again and when to give up."""

    min_backoff_secs: float = 1.0
    max_backoff_secs: float = 300.0
    max_age_secs: float = 86_400.0

    def backoff(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after ``failures`` consecutive failures (full jitter on the upper half)."""
        ceiling = min(self.max_backoff_secs, self.min_backoff_secs * (2 ** min(failures - 1, 30)))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff_secs))
        return delay


class HookQueue:
    """The records of one webhook waiting in memory, and its shared backoff state."""

    def __init__(
        self,
        hook: Webhook,
        hook_id: int,
        reader: SpoolReader | None,
        window: int,
        memory_limit: int,
    ) -> None:
        self.hook = hook
        self.hook_id = hook_id
        self.generation = 0  # bumped when the webhook's settings change
        self._reader = reader  # closed (None) when the webhook is removed or the daemon stops
        self._durable = reader is not None  # False: memory mode, the window is the whole queue
        self._window_limit = window if reader is not None else memory_limit
        self._window: collections.deque[Record] = collections.deque()
        self._cursor = 0  # highest spool row id ever put in the window
        self._backlog = reader is not None  # rows beyond the window may wait in the spool
        # Records the spool could not take (disk full): delivered from memory, bounded.
        self._volatile: collections.deque[Record] = collections.deque()
        self._volatile_limit = memory_limit
        self._lock = threading.Lock()
        self.closed = False
        self.blocked_until = 0.0
        self.failures = 0
        self._in_flight: set[int] = set()  # row ids taken and not yet settled (see settle)
        self._orphans: set[int] = set()  # taken rows a full spool trimmed: they live only in memory now
        # The dispatcher sleeps in select(); a byte on this socket pair wakes it for new work.
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._wake_pending = False

    @property
    def cursor(self) -> int:
        """Rows up to this id are (or were) in memory; the next refill reads rows above it."""
        with self._lock:
            return self._cursor

    def update(self, hook: Webhook) -> None:
        """Swap in new settings for the same URL; workers rebuild their connections."""
        with self._lock:
            if hook != self.hook:
                self.hook = hook
                self.generation += 1
                self.blocked_until = 0.0
                self.failures = 0
            self._wake()

    def wake_socket(self) -> socket.socket:
        """The socket the dispatcher selects on to learn there is new work (see ``woken``)."""
        return self._wake_reader

    def woken(self) -> None:
        """The dispatcher saw the wake-up: drain it so the next one is sent."""
        with self._lock:
            self._wake_pending = False
            try:
                while self._wake_reader.recv(4096):
                    pass
            except OSError:  # BlockingIOError once empty; any other error: nothing to drain
                pass

    def _wake(self) -> None:
        """Wake the dispatcher (lock held): one byte per wake-up, however many records came."""
        if self._wake_pending:
            return
        self._wake_pending = True
        try:
            self._wake_writer.send(b"w")
        except OSError:  # full (it is awake anyway) or closed (stopping)
            pass

    def offer(self, records: list[Record]) -> int:
        """Hand over newly spooled records; return how many memory mode had to drop (oldest)."""
        dropped = 0
        with self._lock:
            volatile = [r for r in records if r.id == 0] if self._durable else []
            if volatile:
                records = [r for r in records if r.id != 0]
                self._volatile.extend(volatile)
                while len(self._volatile) > self._volatile_limit:
                    self._volatile.popleft()
                    dropped += 1
            if not self._durable:
                self._window.extend(records)
                while len(self._window) > self._window_limit:
                    self._window.popleft()
                    dropped += 1
            else:
                fresh = [r for r in records if r.id > self._cursor]
                if not self._backlog and len(self._window) + len(fresh) <= self._window_limit:
                    self._window.extend(fresh)
                    if fresh:
                        self._cursor = fresh[-1].id
                elif fresh:
                    self._backlog = True  # they wait in the spool; take() pages them in
            if records or volatile:
                self._wake()
        return dropped

    def forget(self, row_ids: list[int]) -> int:
        """Drop rows the full spool trimmed from the window; return how many were not taken.

        A trimmed row the dispatcher has already taken (in flight, or waiting to be retried)
        is still delivered from memory, or becomes a dead letter: it is not dropped.
        """
        if not row_ids:
            return 0
        gone = set(row_ids)
        with self._lock:
            orphans = gone & self._in_flight
            self._orphans |= orphans
            taken = len(orphans)
            if self._window:
                self._window = collections.deque(r for r in self._window if r.id not in gone)
        return len(gone) - taken

    def mark_backlog(self) -> None:
        """Look in the spool again (after dead letters were re-queued by the CLI)."""
        with self._lock:
            if self._durable:
                self._backlog = True
            self._wake()

    def take(self) -> Record | None:
        """The oldest record not yet taken, or None when there is none (never waits)."""
        with self._lock:
            if self.closed:
                return None
            if not self._window and self._backlog:
                try:
                    self._refill()
                except sqlite3.Error as err:  # busy or broken disk: the rows stay, try again soon
                    log.error("Cannot read the spool of url=%s: %s", display_url(self.hook.url), err)
                    return None
            if self._window or self._volatile:
                record = (self._window or self._volatile).popleft()
                self._in_flight.add(record.id)
                return record
            return None

    def give_back(self, records: list[Record]) -> None:
        """Records the dispatcher took but did not finish (it stops or failed): first in line again."""
        with self._lock:
            for record in sorted(records, key=lambda r: r.seq, reverse=True):
                self._in_flight.discard(record.id)
                if (record.id == 0 and self._durable) or record.id in self._orphans:  # memory only
                    self._volatile.appendleft(record)
                else:
                    self._window.appendleft(record)
            if records:
                self._wake()

    def _refill(self) -> None:
        if self._reader is None:
            return  # closed
        wanted = self._window_limit
        rows = self._reader.load(self.hook_id, self._cursor, wanted)
        self._window.extend(rows)
        if rows:
            self._cursor = rows[-1].id
        if len(rows) < wanted:
            self._backlog = False

    def settle(self, row_ids: list[int]) -> None:
        """These taken rows are delivered or dead, and their deletion is committed.

        Until then they count as in flight, so a full spool never trims (and counts as
        dropped) an event that was delivered a moment ago but not yet acknowledged.
        """
        with self._lock:
            self._in_flight.difference_update(row_ids)
            self._orphans.difference_update(row_ids)

    def in_flight(self) -> tuple[int, ...]:
        """Spool row ids the dispatcher holds: a full spool must not drop what is being delivered."""
        with self._lock:
            return tuple(row_id for row_id in self._in_flight if row_id)

    def memory_only(self) -> int:
        """Records waiting that exist nowhere but in memory (spool memory, or not spooled)."""
        with self._lock:
            return len(self._volatile) + (0 if self._durable else len(self._window))

    def oldest_received(self) -> float | None:
        """Receipt time of the oldest record waiting in memory."""
        with self._lock:
            return self._window[0].received if self._window else None

    def waiting(self) -> int:
        """Records in memory not yet taken."""
        with self._lock:
            return len(self._window)

    def close(self) -> None:
        """Wake the dispatcher so it can exit; the spool reader is closed."""
        with self._lock:
            self.closed = True
            self._wake()
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    def release(self) -> None:
        """Close the wake-up sockets, once no dispatcher will use this queue again."""
        self._wake_reader.close()
        self._wake_writer.close()
