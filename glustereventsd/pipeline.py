"""The pipeline thread: parse -> enrich -> publish -> spool, and the webhooks' dispatchers.

This thread is the only writer of the spool. Each turn it takes what arrived (up to
``BATCH_MAX`` datagrams, waiting at most ``COMMIT_WAIT_SECS`` for the first), turns them
into events, logs each to events.log, commits them with the delivery results the dispatchers
reported (acks, dead letters, counters) in ONE transaction, and only then hands the new
records to the webhooks' queues. So an event is on disk before any webhook sees it, and
the time from receipt to commit stays within one turn.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import os
import queue
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import eventtypes
from glustereventsd import enrich, parse, spool_recovery
from glustereventsd.config import display_url
from glustereventsd.eventlog import EventLog
from glustereventsd.metrics import QueueGauge
from glustereventsd.models import Settings, Webhook
from glustereventsd.source import Datagram
from glustereventsd.spool import NewEvent, Record, SpoolReader, SpoolWriter
from glustereventsd.stats import RateLimitedLog, Stats
from glustereventsd.threadname import name_os_thread
from glustereventsd.dispatcher import WebhookDispatcher
from glustereventsd.worker import Dead, Delivered, Failed, HookQueue, Result, ResultChannel, RetryPolicy

log = logging.getLogger("glustereventsd.pipeline")

BATCH_MAX = 2000
COMMIT_WAIT_SECS = 0.01
GATHER_SECS = 0.002  # added latency per turn, paid once per batch
WINDOW = 1000  # records of one webhook kept in memory; the rest stays in the spool
RESULTS_MAX = 100_000
MEMORY_QUEUE_MAX = 100_000
REBUILD_INTERVAL_SECS = 60.0  # a corrupt spool is rebuilt at most this often
WORKER_CHECK_SECS = 5.0  # how often a delivery worker that died is replaced  # events per webhook held in memory (spool memory, or the disk is full)


@dataclass(frozen=True)
class ReloadRequest:
    """New settings and webhooks for the pipeline; ``applied`` is set once they are in force."""

    settings: Settings
    webhooks: list[Webhook]
    applied: threading.Event


@dataclass
class HookState:
    """One webhook's queue, dispatcher and spool usage, owned by the pipeline."""

    hook: Webhook
    queue: HookQueue
    dispatcher: WebhookDispatcher | None = None
    events: int = 0
    bytes: int = 0
    label: str = ""  # the webhook as shown in logs and metrics (no credentials or query string)

    def __post_init__(self) -> None:
        self.label = display_url(self.hook.url)

    def wants(self, name: str) -> bool:
        """True when the webhook's event filter (glob patterns) admits ``name``."""
        return not self.hook.events or any(fnmatch.fnmatchcase(name, p) for p in self.hook.events)


class Pipeline(threading.Thread):
    """Owns the spool and the webhooks; see the module docstring."""

    def __init__(
        self,
        intake: queue.Queue[Datagram],
        writer: SpoolWriter,
        nodeid: str,
        settings: Settings,
        stats: Stats,
        event_log: EventLog,
        stopping: threading.Event,
    ) -> None:
        super().__init__(name="pipeline", daemon=True)
        self.intake = intake
        self.writer = writer
        self.nodeid = nodeid
        self.settings = settings
        self.stats = stats
        self.event_log = event_log  # disabled by disable-events-log at publish time
        self.stopping = stopping  # the sources have stopped: drain and finish
        self.workers_stopping = threading.Event()
        self.results = ResultChannel(RESULTS_MAX)
        self.control: queue.Queue[ReloadRequest] = queue.Queue(maxsize=64)
        self.hooks: dict[str, HookState] = {}
        self.by_id: dict[int, HookState] = {}
        self.log_limiter = RateLimitedLog()
        self.failed = threading.Event()  # the spool failed in a way we cannot go on from
        self._pending_acks: list[int] = []  # deletes that a failed commit has to redo
        self._pending_deaths: list[tuple[Record, str]] = []  # likewise, dead letters
        self._unsettled: dict[int, list[int]] = {}  # row ids acked or dead, deletion not committed yet
        self._next_rebuild = 0.0  # monotonic time before which a corrupt spool is not rebuilt again
        self.spool_damaged = threading.Event()  # set by a delivery worker's read that found the spool corrupt
        self.policy = RetryPolicy(settings.retry_min_backoff_secs, settings.retry_max_backoff_secs,
                                  settings.max_event_age_secs)

    # -- control from the daemon (any thread) -------------------------------------------
    def reload(self, settings: Settings, webhooks: list[Webhook]) -> threading.Event:
        """Ask the pipeline to apply new settings and webhooks, and to look for re-queued events.

        Returns an Event set once applied: events received after that go to the new webhooks.
        Raises queue.Full when the pipeline has not taken the previous requests for 5 s.
        """
        request = ReloadRequest(settings, webhooks, threading.Event())
        self.control.put(request, timeout=5)
        return request.applied

    # -- the thread ----------------------------------------------------------------------
    def run(self) -> None:
        """Turn after turn until the sources stopped and everything was committed."""
        name_os_thread("gev-pipeline")
        next_check = time.monotonic() + WORKER_CHECK_SECS
        try:
            while True:
                self._apply_control()
                if self.spool_damaged.is_set():  # a worker's read found the file corrupt (issue 10)
                    self.spool_damaged.clear()
                    self._rebuild_spool(sqlite3.DatabaseError("a delivery worker found the spool corrupt"))
                if time.monotonic() >= next_check:
                    self._replace_dead_dispatchers()
                    next_check = time.monotonic() + WORKER_CHECK_SECS
                batch = self._next_batch()
                results = self._drain_results()
                if batch or results:
                    self._turn(batch, results)
                if self.stopping.is_set() and self.intake.empty():
                    break  # even while results keep coming: the backlog waits in the spool
            self._shutdown()
        except Exception:  # noqa: BLE001 - last line of defence: log, keep the process alive
            log.exception("Pipeline stopped by an unexpected error; the daemon will exit (%d received "
                          "datagrams not processed)", self.intake.qsize())
            self.failed.set()

    def _next_batch(self) -> list[Datagram]:
        try:
            first = self.intake.get(timeout=COMMIT_WAIT_SECS)
        except queue.Empty:
            return []
        # Let a few more arrive before committing: under load one turn then carries many events
        # instead of one (a transaction, an events.log write and a hand-over per turn).
        time.sleep(GATHER_SECS)
        batch = [first]
        get = self.intake.get_nowait
        try:
            while len(batch) < BATCH_MAX:
                batch.append(get())
        except queue.Empty:
            pass
        return batch

    def _drain_results(self) -> list[Result]:
        return self.results.drain(RESULTS_MAX)

    def _publish(self, batch: list[Datagram]) -> list[NewEvent]:
        settings = self.settings
        names = eventtypes.names_for(settings.event_numbering)
        events = []
        received: Counter[str] = Counter()
        # One getrandom() per turn, not per event: 12 random bytes (24 hex digits) per event id.
        random_hex = os.urandom(12 * len(batch)).hex()
        for index, datagram in enumerate(batch):
            try:
                raw = parse.parse_datagram(datagram.data, settings.max_datagram_bytes, settings.max_attributes)
                event = enrich.enrich(raw, names, self.nodeid)
            except parse.ParseError as err:
                self.stats.add("parse_errors", err.code)
                self.log_limiter.log(log, logging.WARNING, f"parse:{err.code}",
                                     "Dropped malformed datagram reason=%s sender=%s bytes=%d", err.code,
                                     datagram.sender, len(datagram.data))
                continue
            received[event.name] += 1
            events.append(NewEvent(f"msg_{random_hex[24 * index:24 * index + 24]}", self.writer.take_seq(),
                                   event.name, event.ts, datagram.received, enrich.body_of(event)))
        for name, count in received.items():
            self.stats.add("received", name, count)
        if not settings.disable_events_log:
            self.event_log.write([event.body for event in events])
        return events

    def _turn(self, batch: list[Datagram], results: list[Result]) -> None:
        events = self._publish(batch)
        appends = [(state.queue.hook_id, event) for event in events
                   for state in self.hooks.values() if state.wants(event.name)]
        acks, deaths = self._account(results)
        trims = self._trims(appends)
        try:
            committed = self.writer.commit(appends, acks, deaths, trims)
        except sqlite3.Error as err:
            self._spool_failed(err, appends, acks, deaths)
            return
        for hook_id, row_ids in self._unsettled.items():
            settled = self.by_id.get(hook_id)
            if settled is not None:
                settled.queue.settle(row_ids)
        self._unsettled = {}
        for hook_id, event in appends:
            state = self.by_id.get(hook_id)
            if state is not None:
                state.events += 1
                state.bytes += len(event.body)
        for hook_id in {record.hook_id for record, _ in deaths}:
            try:
                self.writer.trim_dead(hook_id, self.settings.dead_letter_max)
            except sqlite3.Error as err:
                log.warning("Could not trim dead letters hook=%d error=%s", hook_id, err)
        self._hand_over(committed.added)
        for hook_id, _, _ in trims:
            state = self.by_id.get(hook_id)
            if state is None:
                continue
            # Forget the trimmed rows waiting in memory too; one the dispatcher took meanwhile
            # is still delivered (or dies as a dead letter), so it is not counted as dropped.
            dropped = state.queue.forget(committed.trimmed.get(hook_id, []))
            self._count_dropped(state, dropped, "spool_full")
            state.events, state.bytes = self.writer.usage(hook_id)

    def _hand_over(self, added: list[Record]) -> None:
        per_hook: dict[int, list[Record]] = {}
        for record in added:
            per_hook.setdefault(record.hook_id, []).append(record)
        for hook_id, records in per_hook.items():
            state = self.by_id.get(hook_id)
            if state is None:
                continue
            dropped = state.queue.offer(records)
            if dropped:
                self._count_dropped(state, dropped, "spool_full")

    def _spool_failed(self, err: sqlite3.Error, appends: list[tuple[int, NewEvent]], acks: list[int],
                      deaths: list[tuple[Record, str]]) -> None:
        """A full disk or I/O error: keep delivering from memory, count what was not spooled.

        A corrupt file is rebuilt first (``_rebuild_spool``); this turn still goes from memory.
        """
        if spool_recovery.is_corruption(err):
            self._rebuild_spool(err)
        self.stats.add("spool_errors", "write_failed")
        self.log_limiter.log(log, logging.ERROR, "spool-write", "Cannot write the spool (events are "
                             "delivered from memory only until it recovers) path=%s error=%s", self.writer.path, err)
        if appends:
            self.stats.add("not_spooled", "write_failed", len(appends))
        # Deliver anyway, without durability: memory-only records (id 0 is never acked).
        self._hand_over([Record(0, hook_id, e.event_id, e.seq, e.name, e.ts, e.received, e.body)
                         for hook_id, e in appends])
        self._pending_acks = acks  # the deletes and dead letters are written next turn
        self._pending_deaths = deaths

    def _rebuild_spool(self, err: sqlite3.Error) -> None:
        """Move the corrupt spool aside, recover what it holds into a fresh one and go on with that (issue 10).

        Row ids, hook ids and sequence numbers are kept (``Floor``), so the records in the
        webhooks' windows stay valid; their readers reopen the new file by themselves. Tried at
        most once a minute; when it fails the old writer goes on as before.
        """
        now = time.monotonic()
        if now < self._next_rebuild:
            return
        self._next_rebuild = now + REBUILD_INTERVAL_SECS
        old = self.writer
        floor = spool_recovery.Floor(old.next_row_id, old.next_seq,
                                     {state.hook.url: state.queue.hook_id for state in self.hooks.values()})
        report = spool_recovery.recover(old.path, spool_recovery.Problem("corrupt", str(err)), floor, self.stats)
        if not report.replaced:
            return
        try:
            fresh = SpoolWriter(old.path, durable=old.durable)
        except (sqlite3.Error, OSError) as reopen_err:
            log.error("Cannot open the rebuilt spool %s (%s); going on with the damaged one", old.path, reopen_err)
            return
        fresh.counters, old.counters = old.counters, {}
        fresh.next_seq = max(fresh.next_seq, old.next_seq)
        old.close()  # the file was moved: SQLite leaves the evidence as it is
        self.writer = fresh
        for state in self.hooks.values():
            state.events, state.bytes = fresh.usage(state.queue.hook_id)

    def _account(self, results: list[Result]) -> tuple[list[int], list[tuple[Record, str]]]:
        """Turn the dispatchers' results into spool deletes, dead letters and counters."""
        acks, self._pending_acks = self._pending_acks, []
        deaths, self._pending_deaths = self._pending_deaths, []
        for result in results:
            hook_id = result.record.hook_id if isinstance(result, Dead) else result.hook_id
            state = self.by_id.get(hook_id)
            if state is None:
                continue  # a late result of a removed webhook: its spool is already gone
            counters = self.writer.count(hook_id)
            if isinstance(result, Delivered):
                if result.record_id:
                    acks.append(result.record_id)
                    self._unsettled.setdefault(hook_id, []).append(result.record_id)
                    state.events -= 1
                counters.delivered += 1
                counters.last_success_at = result.at
                self.stats.add("delivered", state.label)
                self.stats.observe("delivery_latency_seconds", state.label, result.latency_secs)
            elif isinstance(result, Failed):
                counters.retried += 1
                counters.last_error = result.detail
                counters.last_error_at = result.at
            else:
                deaths.append((result.record, result.reason))
                if result.record.id:
                    self._unsettled.setdefault(hook_id, []).append(result.record.id)
                    state.events -= 1
                counters.dead += 1
                # webhook-status shows why events die (a 410 is never retried, so no Failed)
                counters.last_error = result.reason
                counters.last_error_at = time.time()
                self.stats.add("dead_letters", state.label)
        return acks, deaths

    def _trims(self, appends: list[tuple[int, NewEvent]]) -> list[tuple[int, int, tuple[int, ...]]]:
        """(hook_id, rows to drop, rows to keep) for every spool this turn would take past its bounds.

        The rows to keep are those a worker is delivering right now: dropping them would
        count as dropped an event that then arrives.

        The running totals only ever over-estimate (a delivery does not subtract its bytes),
        so a webhook that seems over a bound is counted exactly in the spool before anything
        is dropped: only a real backlog is ever trimmed.
        """
        settings = self.settings
        if not self.writer.durable or not appends:
            return []
        incoming: dict[int, tuple[int, int]] = {}
        for hook_id, event in appends:
            count, size = incoming.get(hook_id, (0, 0))
            incoming[hook_id] = (count + 1, size + len(event.body))
        trims = []
        for hook_id, (count, size) in incoming.items():
            state = self.by_id[hook_id]
            if state.events + count <= settings.spool_max_events and state.bytes + size <= settings.spool_max_bytes:
                continue
            state.events, state.bytes = self.writer.usage(hook_id)
            over_events = state.events + count - settings.spool_max_events
            over_bytes = state.bytes + size - settings.spool_max_bytes
            if over_events <= 0 and over_bytes <= 0:
                continue
            average = max(1, (state.bytes + size) // max(1, state.events + count))
            # Drop a little more than needed, so a full spool is not trimmed again every turn.
            excess = max(over_events, -(-over_bytes // average), 0) + settings.spool_max_events // 100
            trims.append((hook_id, excess, state.queue.in_flight()))
        return trims

    def _count_dropped(self, state: HookState, count: int, reason: str) -> None:
        self.stats.add("dropped", reason, count)
        self.writer.count(state.queue.hook_id).dropped += count
        held = self.log_limiter.allow(f"drop:{state.hook.url}")
        if held is not None:
            if reason == "shutdown":
                log.warning("Stopping with events held only in memory: dropped url=%s dropped=%d "
                            "(use 'spool disk' to keep them across restarts)", state.label, count)
            else:
                log.warning("Spool full: dropped the oldest queued events url=%s dropped=%d max_events=%d%s",
                            state.label, count, self.settings.spool_max_events,
                            f" ({held} similar messages suppressed)" if held else "")

    # -- webhooks ------------------------------------------------------------------------
    def _apply_control(self) -> None:
        while True:
            try:
                item = self.control.get_nowait()
            except queue.Empty:
                return
            try:
                self.settings = item.settings
                self.set_webhooks(item.webhooks)
                # Re-queue here, in the only thread that hands records to the webhooks: the
                # moved rows then lie beyond every window's cursor, where a refill finds them.
                for url, moved in self.writer.take_requeue_requests().items():
                    log.info("Re-queued dead letters url=%s events=%d", display_url(url), moved)
                for state in self.hooks.values():
                    state.events, state.bytes = self.writer.usage(state.queue.hook_id)
                    state.queue.mark_backlog()
            except sqlite3.Error as err:  # a full or broken disk must not stop delivery
                log.error("Could not apply the reload to the spool (%s); delivery goes on, reload again "
                          "once the disk is fixed", err)
            item.applied.set()

    def set_webhooks(self, webhooks: Sequence[Webhook]) -> None:
        """Start, update or stop webhooks; a removed webhook's spool is discarded."""
        wanted = {hook.url: hook for hook in webhooks}  # as configured: 0 means the daemon default
        for url in list(self.hooks):
            if url not in wanted:
                state = self.hooks.pop(url)
                self.by_id.pop(state.queue.hook_id, None)
                state.queue.close()
                self.writer.discard_hook(state.queue.hook_id)
                self.stats.forget(state.label)
                log.info("Webhook removed, its queue discarded url=%s", state.label)
        for url in list(self.writer.known_hooks()):
            if url not in wanted:  # left over from a webhook deleted while the daemon was down
                self.writer.discard_hook(self.writer.known_hooks()[url])
        policy = RetryPolicy(self.settings.retry_min_backoff_secs, self.settings.retry_max_backoff_secs,
                             self.settings.max_event_age_secs)
        self.policy = policy
        for url, configured in wanted.items():
            hook = dataclasses.replace(
                configured, timeout_secs=configured.timeout_secs or self.settings.webhook_timeout_secs)
            existing = self.hooks.get(url)
            if existing is None:
                state = self._start_hook(hook)
                log.info("Webhook added url=%s auth=%s", display_url(url), hook.describe_auth())
            else:
                state = existing
                state.queue.update(hook)
                state.hook = hook
            self._run_dispatcher(state, policy)

    def _start_hook(self, hook: Webhook) -> HookState:
        hook_id = self.writer.hook_id(hook.url)
        reader = SpoolReader(self.writer.path, self.spool_damaged) if self.writer.durable else None
        hook_queue = HookQueue(hook, hook_id, reader, WINDOW, min(self.settings.spool_max_events, MEMORY_QUEUE_MAX))
        state = HookState(hook, hook_queue)
        state.events, state.bytes = self.writer.usage(hook_id)
        self.hooks[hook.url] = state
        self.by_id[hook_id] = state
        return state

    def _replace_dead_dispatchers(self) -> None:
        """Start a new dispatcher for any that died (it logged why), so no webhook stalls silently."""
        for state in self.hooks.values():
            if state.dispatcher is not None and not state.dispatcher.is_alive():
                log.error("The delivery thread of url=%s stopped; starting a new one", state.label)
                self._run_dispatcher(state, self.policy)

    def _run_dispatcher(self, state: HookState, policy: RetryPolicy) -> None:
        """Start the webhook's dispatcher, or pass it the new policy and concurrency."""
        wanted = state.hook.concurrency or self.settings.webhook_concurrency
        dispatcher = state.dispatcher
        if dispatcher is None or not dispatcher.is_alive():
            dispatcher = WebhookDispatcher(state.queue, self.results, policy, self.stats, self.log_limiter,
                                           self.workers_stopping, wanted)
            dispatcher.start()
            state.dispatcher = dispatcher
        dispatcher.policy = policy
        dispatcher.concurrency = wanted

    def _shutdown(self) -> None:
        """Stop the dispatchers, then commit their last results."""
        self.workers_stopping.set()
        for state in self.hooks.values():
            state.queue.close()
        deadline = time.monotonic() + 15
        for state in self.hooks.values():
            if state.dispatcher is not None:
                state.dispatcher.join(max(0.0, deadline - time.monotonic()))
        for state in self.hooks.values():
            lost = state.queue.memory_only()
            if lost:  # spool memory, or events the full disk could not take: gone with the process
                self._count_dropped(state, lost, "shutdown")
        acks, deaths = self._account(self._drain_results())
        try:
            self.writer.commit([], acks, deaths, [])
        except sqlite3.Error as err:
            log.error("Could not record the last deliveries; they will be sent again error=%s", err)

    def queue_gauges(self) -> list[QueueGauge]:
        """Backlog of every webhook, for the metrics endpoint (called from its thread)."""
        states = list(self.hooks.values())
        now = time.time()
        gauges = []
        reader = SpoolReader(self.writer.path) if self.writer.durable else None
        try:
            for state in states:
                if reader is not None:
                    depth, oldest = max(0, state.events), reader.oldest_received(state.queue.hook_id)
                else:
                    depth, oldest = state.queue.waiting(), state.queue.oldest_received()
                gauges.append(QueueGauge(state.label, depth, now - oldest if oldest else 0.0))
        finally:
            if reader is not None:
                reader.close()
        return gauges
