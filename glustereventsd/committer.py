"""The group commit: each pipeline turn's new events, deliveries, dead letters, trims and counters in ONE transaction.

Runs in the pipeline thread, the spool's only writer. An event is on disk before any
webhook sees it: records are handed to the outlets only once the commit succeeded. When
the spool cannot be written (a full disk, an I/O error) delivery goes on from memory:
the records carry row id 0, are counted as not spooled, and the deletes and dead letters
of that turn are written with the next commit that succeeds.

It also keeps each webhook's spool usage (events and bytes), to trim a full spool by
dropping its oldest events, never one being delivered.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

from glustereventsd.outlet import Outlet
from glustereventsd.outlets import Outlets
from glustereventsd.results import Dead, Delivered, Result
from glustereventsd.spool import NewEvent, Record, SpoolWriter
from glustereventsd.stats import RateLimitedLog, Stats

log = logging.getLogger("glustereventsd.committer")


class Committer:
    """See the module docstring."""

    def __init__(self, writer: SpoolWriter, outlets: Outlets, stats: Stats, log_limiter: RateLimitedLog) -> None:
        self.writer = writer
        self.outlets = outlets
        self.stats = stats
        self.log_limiter = log_limiter
        self._usage: dict[int, list[int]] = {}  # hook id -> [events, bytes] in the spool (an upper bound)
        self._pending_acks: list[int] = []  # deletes that a failed commit has to redo
        self._pending_deaths: list[tuple[Record, str]] = []  # likewise, dead letters
        self._unsettled: dict[int, list[int]] = {}  # row ids acked or dead, deletion not committed yet
        self.spool_error = ""  # why the last commit failed ("" once one succeeds); read by the daemon's status

    def refresh_usage(self) -> None:
        """Count every webhook's spool usage exactly (at start and after a reload)."""
        self._usage = {hook_id: list(self.writer.usage(hook_id)) for hook_id in self.outlets.by_id}

    def turn(self, events: Sequence[NewEvent], results: list[Result]) -> None:
        """Commit one turn; never raises for a spool error (see the module docstring)."""
        appends = [(outlet.hook_id, event) for event in events for outlet in self.outlets.wanting(event.name)]
        acks, deaths = self._account(results)
        trims = self._trims(appends)
        self._flush_counters()
        try:
            committed = self.writer.commit(appends, acks, deaths, trims)
        except sqlite3.Error as err:
            self._spool_failed(err, appends, acks, deaths)
            return
        self.spool_error = ""
        by_id = self.outlets.by_id
        for hook_id, row_ids in self._unsettled.items():
            outlet = by_id.get(hook_id)
            if outlet is not None:
                outlet.settle(row_ids)
        self._unsettled = {}
        for hook_id, event in appends:
            usage = self._usage.get(hook_id)
            if usage is not None:
                usage[0] += 1
                usage[1] += len(event.body)
        for hook_id in {record.hook_id for record, _ in deaths}:
            try:
                self.writer.trim_dead(hook_id, self.outlets.settings.dead_letter_max)
            except sqlite3.Error as err:
                log.warning("Could not trim dead letters hook=%d error=%s", hook_id, err)
        self._hand_over(committed.added)
        for hook_id, _, _ in trims:
            outlet = by_id.get(hook_id)
            if outlet is None:
                continue
            # Forget the trimmed rows waiting in memory too; one the delivery loop took meanwhile
            # is still delivered (or dies as a dead letter), so it is not counted as dropped.
            self.count_dropped(outlet, outlet.forget(committed.trimmed.get(hook_id, [])), "spool_full")
            self._usage[hook_id] = list(self.writer.usage(hook_id))

    def final(self, results: list[Result]) -> None:
        """At shutdown: commit the last results; count what only memory held as dropped."""
        for outlet in self.outlets.by_id.values():
            lost = outlet.memory_only()
            if lost:  # spool memory, or events the full disk could not take: gone with the process
                self.count_dropped(outlet, lost, "shutdown")
        acks, deaths = self._account(results)
        self._flush_counters()
        try:
            self.writer.commit([], acks, deaths, [])
        except sqlite3.Error as err:
            log.error("Could not record the last deliveries; they will be sent again error=%s", err)

    def counters_pending(self) -> bool:
        """True when some webhook counted attempts not yet written to the spool."""
        return any(outlet.counters_pending() for outlet in self.outlets.by_id.values())

    def _flush_counters(self) -> None:
        for hook_id, outlet in self.outlets.by_id.items():
            counters = outlet.take_counters()
            if counters.pending():
                self.writer.count(hook_id).merge(counters)

    def _hand_over(self, added: list[Record]) -> None:
        per_hook: dict[int, list[Record]] = {}
        for record in added:
            per_hook.setdefault(record.hook_id, []).append(record)
        by_id = self.outlets.by_id
        for hook_id, records in per_hook.items():
            outlet = by_id.get(hook_id)
            if outlet is not None:
                self.count_dropped(outlet, outlet.offer(records), "spool_full")

    def _spool_failed(self, err: sqlite3.Error, appends: list[tuple[int, NewEvent]], acks: list[int],
                      deaths: list[tuple[Record, str]]) -> None:
        """A full disk or I/O error: keep delivering from memory, count what was not spooled."""
        self.stats.add("spool_errors", "write_failed")
        self.spool_error = str(err) or type(err).__name__
        self.log_limiter.log(log, logging.ERROR, "spool-write", "Cannot write the spool (events are "
                             "delivered from memory only until it recovers) path=%s error=%s", self.writer.path, err)
        if appends:
            self.stats.add("not_spooled", "write_failed", len(appends))
        # Deliver anyway, without durability: memory-only records (id 0 is never acked).
        self._hand_over([Record(0, hook_id, e.event_id, e.seq, e.name, e.ts, e.received, e.body)
                         for hook_id, e in appends])
        self._pending_acks = acks  # the deletes and dead letters are written next turn
        self._pending_deaths = deaths

    def _account(self, results: list[Result]) -> tuple[list[int], list[tuple[Record, str]]]:
        """Turn delivery results into spool deletes and dead letters."""
        acks, self._pending_acks = self._pending_acks, []
        deaths, self._pending_deaths = self._pending_deaths, []
        by_id = self.outlets.by_id
        for result in results:
            if isinstance(result, Delivered):
                hook_id, row_id = result.hook_id, result.record_id
                if hook_id not in by_id:
                    continue  # a late result of a removed webhook: its spool is already gone
                acks.append(row_id)
            else:
                assert isinstance(result, Dead)
                hook_id, row_id = result.record.hook_id, result.record.id
                if hook_id not in by_id:
                    continue
                deaths.append((result.record, result.reason))
            if row_id:
                self._unsettled.setdefault(hook_id, []).append(row_id)
                usage = self._usage.get(hook_id)
                if usage is not None:
                    usage[0] -= 1
        return acks, deaths

    def _trims(self, appends: list[tuple[int, NewEvent]]) -> list[tuple[int, int, tuple[int, ...]]]:
        """(hook_id, rows to drop, rows to keep) for every spool this turn would take past its bounds.

        The rows to keep are those being delivered right now: dropping them would count as
        dropped an event that then arrives. The running usage only ever over-estimates (a
        delivery does not subtract its bytes), so a webhook that seems over a bound is
        counted exactly in the spool before anything is dropped: only a real backlog is trimmed.
        """
        settings = self.outlets.settings
        if not self.writer.durable or not appends:
            return []
        incoming: dict[int, tuple[int, int]] = {}
        for hook_id, event in appends:
            count, size = incoming.get(hook_id, (0, 0))
            incoming[hook_id] = (count + 1, size + len(event.body))
        trims = []
        for hook_id, (count, size) in incoming.items():
            usage = self._usage.setdefault(hook_id, [0, 0])
            if usage[0] + count <= settings.spool_max_events and usage[1] + size <= settings.spool_max_bytes:
                continue
            usage[:] = self.writer.usage(hook_id)
            over_events = usage[0] + count - settings.spool_max_events
            over_bytes = usage[1] + size - settings.spool_max_bytes
            if over_events <= 0 and over_bytes <= 0:
                continue
            average = max(1, (usage[1] + size) // max(1, usage[0] + count))
            # Drop a little more than needed, so a full spool is not trimmed again every turn.
            excess = max(over_events, -(-over_bytes // average), 0) + settings.spool_max_events // 100
            trims.append((hook_id, excess, self.outlets.by_id[hook_id].in_flight()))
        return trims

    def count_dropped(self, outlet: Outlet, count: int, reason: str) -> None:
        """Count ``count`` events of ``outlet`` dropped for ``reason``, and say so (rate-limited)."""
        if not count:
            return
        self.stats.add("dropped", reason, count)
        self.writer.count(outlet.hook_id).dropped += count
        held = self.log_limiter.allow(f"drop:{outlet.hook_id}")
        if held is None:
            return
        if reason == "shutdown":
            log.warning("Stopping with events held only in memory: dropped url=%s dropped=%d "
                        "(use 'spool disk' to keep them across restarts)", outlet.label, count)
        else:
            log.warning("Spool full: dropped the oldest queued events url=%s dropped=%d max_events=%d%s",
                        outlet.label, count, self.outlets.settings.spool_max_events,
                        f" ({held} similar messages suppressed)" if held else "")
