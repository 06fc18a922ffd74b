"""The pipeline thread: turn after turn, intake -> ``Ingest`` -> ``Committer`` -> the outlets.

Each turn takes what arrived (up to ``BATCH_MAX`` datagrams, waiting at most
``COMMIT_WAIT_SECS`` for the first) and the delivery results reported meanwhile, and
commits both in one transaction. After a turn with nothing to do the thread sleeps until
a datagram comes, or its doorbell rings (a result, counters to flush, a reload, a stop:
``WAKE`` on the intake queue), or the next thing it must do on its own is due (the
counters' flush, the drivers' check): a quiet daemon does not wake ten times a second. Reload requests are applied between turns, in this
thread, so the webhooks, the spool and the settings change together; so is the rebuild of
a spool that a read of the delivery loop or the metrics found corrupt
(``Outlets.spool_damaged``, ``Committer.rebuild_spool``). ``daemon.py`` builds the parts
and hands them in.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field

from glustereventsd.pipeline.commit import Committer
from glustereventsd.config.options import display_url
from glustereventsd.ingest.batch import Ingest
from glustereventsd.models import Settings, Destination
from glustereventsd.pipeline.supervisor import Outlets
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.models import Datagram
from glustereventsd.spool.db import is_corruption
from glustereventsd.base.threadname import name_os_thread
from glustereventsd.base.intake import Intake

log = logging.getLogger("glustereventsd.pipeline")

WAKE = Datagram(b"", "", 0.0)  # put on the intake queue to wake a sleeping pipeline (identity, never ingested)

BATCH_MAX = 2000
COMMIT_WAIT_SECS = 0.01
IDLE_WAIT_SECS = 30.0  # the longest sleep after a turn with nothing to do (whatever has work rings the doorbell)
# The setting batch-wait-ms (0.7 by default): a wait after the first datagram of a turn, to let
# a few more arrive: fewer turns (each a transaction, an events.log write, a hand-over and a
# wake-up of the delivery thread) per event. Only while events come faster than one per
# GATHER_RECENT_SECS: a lone event is never held. It was 2 ms, every turn; measured at 2,000
# events/s against that (bench.compare, alternating, 2 cores shared): 0.7 ms costs about the same
# CPU per 1,000 events (0.117 to 0.121 against 0.108 to 0.126 s) and halves p50 (1.5 against
# 3.0 ms); none at all gives p50 0.6 ms but costs 20% more CPU (0.135 against 0.114 s: the
# delivery thread is woken for every event). 3 ms makes the turns of a sender that sends every
# 2 ms twice as full: 0.08 s per 1,000 events, p99 4 ms (bench.turn_cost). GATHER_RECENT_SECS is
# well above the gaps of a paced sender (groups every 2 ms or so): at 2 ms the first of each
# group went alone and the CPU rose by a third.
GATHER_RECENT_SECS = 0.01
RESULTS_MAX = 100_000
COUNTERS_FLUSH_SECS = 0.1  # counters of failed attempts (which carry no spool change) reach the spool this often
STOP_DELIVERY_SECS = 0.8  # how long a stop waits for the delivery loop to hand its records back


@dataclass
class ReloadRequest:
    """New settings and webhooks for the pipeline; ``done`` is set once it has put them in force,
    or failed to: then ``error`` (set before ``done``) says why (the spool could not be written)."""

    settings: Settings
    webhooks: list[Destination]
    done: threading.Event = field(default_factory=threading.Event)
    error: str = ""

    def wait(self, timeout: float) -> bool:
        """True once the pipeline has handled the request (look at ``error``), False at the timeout."""
        return self.done.wait(timeout)


class Pipeline(threading.Thread):
    """Runs the turns (see the module docstring)."""

    def __init__(self, intake: Intake[Datagram], ingest: Ingest, committer: Committer, outlets: Outlets,
                 results: ResultChannel, settings: Settings) -> None:
        super().__init__(name="pipeline", daemon=True)
        self.intake = intake
        self.ingest = ingest
        self.committer = committer
        self.outlets = outlets
        self.results = results
        self.settings = settings
        self.stopping = threading.Event()  # the sources have stopped: drain and finish
        self.control: queue.Queue[ReloadRequest] = queue.Queue(maxsize=64)
        self.failed = threading.Event()  # an error we cannot go on from
        self._last_received = 0.0  # receipt time of the last datagram taken (see GATHER_RECENT_SECS)
        results.set_doorbell(self.wake)

    def wake(self) -> None:
        """Wake the pipeline if it sleeps (any thread; never blocks)."""
        try:
            self.intake.put_nowait(WAKE)
        except queue.Full:  # then it has plenty to do
            pass

    def request_stop(self) -> None:
        """The sources have stopped: drain what was received, commit it, and end."""
        self.stopping.set()
        self.wake()

    def reload(self, settings: Settings, webhooks: list[Destination]) -> ReloadRequest:
        """Ask the pipeline to apply new settings and webhooks, and to look for re-queued events.

        Returns the request: once done without an error, events received after that go to the
        new webhooks. Raises queue.Full when the pipeline has not taken the previous requests for 5 s.
        """
        request = ReloadRequest(settings, webhooks)
        self.control.put(request, timeout=5)
        self.wake()
        return request

    def run(self) -> None:
        """Turn after turn until the sources stopped and everything received was committed."""
        name_os_thread("gev-pipeline")
        next_flush = time.monotonic() + COUNTERS_FLUSH_SECS
        busy = True
        try:
            while True:
                self._apply_control()
                self.outlets.supervise()
                if self.outlets.spool_damaged.is_set():  # a read found the file corrupt (issue 10)
                    self.outlets.spool_damaged.clear()
                    self.committer.rebuild_spool("a read of the queue found the spool corrupt")
                quick = busy or len(self.results) or self.stopping.is_set() or not self.control.empty()
                if quick:
                    batch = self._next_batch(COMMIT_WAIT_SECS)
                else:
                    batch = self._sleep(next_flush if self.committer.counters_pending() else None)
                results = self.results.drain(RESULTS_MAX)
                busy = bool(batch or results)
                if busy:
                    self.committer.turn(self.ingest.events_of(batch, self.settings), results)
                    next_flush = time.monotonic() + COUNTERS_FLUSH_SECS
                elif time.monotonic() >= next_flush:
                    if self.committer.counters_pending():
                        self.committer.turn([], [])
                    next_flush = time.monotonic() + COUNTERS_FLUSH_SECS
                if self.stopping.is_set() and self.intake.empty():
                    break  # even while results keep coming: the backlog waits in the spool
            self.outlets.stop(time.monotonic() + STOP_DELIVERY_SECS)
            self.committer.final(self.results.drain(RESULTS_MAX))
        except Exception:  # noqa: BLE001 - last line of defence: log, let the daemon exit and restart
            log.exception("Pipeline stopped by an unexpected error; the daemon will exit (%d received "
                          "datagrams not processed)", self.intake.qsize())
            self.failed.set()

    def _sleep(self, flush_at: float | None) -> list[Datagram]:
        """Nothing to do: wait for a datagram or the doorbell, at most until the counters' flush
        (``flush_at``) or the drivers' check is due."""
        now = time.monotonic()
        until = min(self.outlets.next_check(), now + IDLE_WAIT_SECS)
        if flush_at is not None:
            until = min(until, flush_at)
        if not self.results.going_to_sleep():
            return self._next_batch(0.0)
        try:
            return self._next_batch(max(0.0, until - now))
        finally:
            self.results.awake()

    def _next_batch(self, wait_secs: float) -> list[Datagram]:
        try:
            first = self.intake.get(timeout=wait_secs) if wait_secs > 0 else self.intake.get_nowait()
        except queue.Empty:
            return []
        if first is WAKE:
            try:
                first = self.intake.get_nowait()  # woken: what else came, without the gathering wait
            except queue.Empty:
                return []
            if first is WAKE:
                return []
        gather_ms = self.settings.batch_wait_ms
        if gather_ms and first.received - self._last_received < GATHER_RECENT_SECS:
            time.sleep(gather_ms / 1000)
        batch = [first]
        get = self.intake.get_nowait
        try:
            while len(batch) < BATCH_MAX:
                datagram = get()
                if datagram is not WAKE:  # a doorbell rung while it was busy
                    batch.append(datagram)
        except queue.Empty:
            pass
        self._last_received = batch[-1].received
        return batch

    def start_with(self, webhooks: list[Destination]) -> None:
        """Put the first webhooks in force, then start the thread."""
        self._apply(self.settings, webhooks)
        self.start()

    def _apply_control(self) -> None:
        while True:
            try:
                item = self.control.get_nowait()
            except queue.Empty:
                return
            try:
                self._apply(item.settings, item.webhooks)
            except sqlite3.Error as err:  # a full or broken disk must not stop delivery
                log.error("Could not apply the reload to the spool (%s); delivery goes on, reload again "
                          "once the disk is fixed", err)
                item.error = f"the spool could not be written ({err}); reload again once the disk is fixed"
                if is_corruption(err):
                    self.outlets.spool_damaged.set()  # rebuilt next turn
            item.done.set()

    def _apply(self, settings: Settings, webhooks: list[Destination]) -> None:
        self.settings = settings
        self.outlets.apply(settings, webhooks)
        # Re-queue here, in the only thread that hands records to the webhooks: the moved rows
        # then lie beyond every window's cursor, where a refill finds them.
        for url, moved in self.committer.writer.take_requeue_requests().items():
            log.info("Re-queued dead letters url=%s events=%d", display_url(url), moved)
        self.committer.refresh_usage()
        for outlet in self.outlets.by_id.values():
            outlet.mark_backlog()
