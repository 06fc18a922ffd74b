"""The group commit: each pipeline turn's new events, deliveries, dead letters, trims and counters in ONE transaction.

Runs in the pipeline thread, the spool's only writer. An event is on disk before any
webhook sees it: records are handed to the outlets only once the commit succeeded. When
the spool cannot be written (a full disk, an I/O error) delivery goes on from memory:
the records carry row id 0, are counted as not spooled, and the deletes and dead letters
of that turn are written with the next commit that succeeds.

A spool that turns out corrupt while running (a commit, or a read of the delivery loop or
the metrics, fails with "database disk image is malformed") is rebuilt here, at most once
a minute: ``spool_recovery`` moves the file aside and recovers what it holds into a fresh
one, keeping row ids, hook ids and sequence numbers (``Floor``), so every record in memory
stays valid; the committer swaps in a writer of the fresh file, ``Outlets.use_spool`` gives
the delivery loop a reader of it, and the failed turn is committed again, to the new file.

It also keeps each webhook's spool usage (events and bytes), to trim a full spool by
dropping its oldest events, never one being delivered.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Sequence

from glustereventsd.spool import salvage as spool_recovery
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.pipeline.supervisor import Outlets
from glustereventsd.spool.acks import Dead, Delivered, Result
from glustereventsd.spool.db import is_corruption
from glustereventsd.models import NewEvent
from glustereventsd.spool.records import Record
from glustereventsd.spool.writer import Committed, SpoolWriter
from glustereventsd.base.stats import RateLimitedLog, Stats

log = logging.getLogger("glustereventsd.committer")

REBUILD_INTERVAL_SECS = 60.0  # a corrupt spool is rebuilt at most this often
MAX_PENDING_DEATHS = 10_000  # dead letters held in memory while the spool cannot be written
MAX_PENDING_DEATH_BYTES = 16 << 20  # and their bodies
Trims = list[tuple[int, int, tuple[int, ...]]]


class Committer:
    """See the module docstring."""

    def __init__(self, outlets: Outlets, stats: Stats, log_limiter: RateLimitedLog) -> None:
        self.outlets = outlets
        self.stats = stats
        self.log_limiter = log_limiter
        self._usage: dict[int, list[int]] = {}  # hook id -> [events, bytes] in the spool (an upper bound)
        self._pending_acks: list[int] = []  # deletes that a failed commit has to redo
        self._pending_deaths: list[tuple[Record, str]] = []  # likewise, dead letters
        self._unsettled: dict[int, list[int]] = {}  # row ids acked or dead, deletion not committed yet
        self.spool_error = ""  # why the last commit failed ("" once one succeeds); read by the daemon's status
        self._next_rebuild = 0.0  # monotonic time before which a corrupt spool is not rebuilt again

    @property
    def writer(self) -> SpoolWriter:
        """The spool writer in force (``Outlets`` holds the one reference; only ``rebuild_spool`` swaps it)."""
        return self.outlets.writer

    def take_seq(self) -> int:
        """The next per-node sequence number, from the writer in force (``Ingest`` numbers events with it)."""
        return self.outlets.writer.take_seq()

    def refresh_usage(self) -> None:
        """Count every webhook's spool usage exactly (at start and after a reload)."""
        self._usage = {hook_id: list(self.writer.usage(hook_id)) for hook_id in self.outlets.by_id}

    def turn(self, events: Sequence[NewEvent], results: list[Result]) -> None:
        """Commit one turn; never raises for a spool error (see the module docstring)."""
        appends = [(outlet.hook_id, event) for event in events for outlet in self.outlets.wanting(event.name)]
        acks, deaths = self._account(results)
        self._flush_counters()
        done = self._commit(appends, acks, deaths, events)
        if done is None:
            return
        committed, trims = done
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

    def _commit(self, appends: list[tuple[int, NewEvent]], acks: list[int],
                deaths: list[tuple[Record, str]], events: Sequence[NewEvent] = ()) -> tuple[Committed, Trims] | None:
        """Write the turn; on a corrupt spool rebuild it and write the turn to the fresh one.

        None when it could not be written (the turn then goes on from memory: ``_spool_failed``).
        """
        trims = self._trims(appends)
        try:
            return self.writer.commit(appends, acks, deaths, trims, events), trims
        except sqlite3.Error as err:
            if not (is_corruption(err) and self.rebuild_spool(str(err))):
                self._spool_failed(err, appends, acks, deaths)
                return None
        trims = self._trims(appends)  # from the fresh spool's usage
        try:
            return self.writer.commit(appends, acks, deaths, trims, events), trims
        except sqlite3.Error as err:
            self._spool_failed(err, appends, acks, deaths)
            return None

    def rebuild_spool(self, reason: str) -> bool:
        """Move the corrupt spool aside, recover it into a fresh one and go on with that; True when done.

        Row ids, hook ids and sequence numbers are kept (``Floor``), so the records in the
        outlets' windows, in flight and waiting for a retry stay valid, and acks pending from
        failed turns delete the right rows. Tried at most once a minute; when it fails the old
        writer goes on as before (and events go from memory while it cannot be written).
        Pipeline thread only: it owns the writer.
        """
        now = time.monotonic()
        if now < self._next_rebuild:
            return False
        self._next_rebuild = now + REBUILD_INTERVAL_SECS
        old = self.writer
        floor = spool_recovery.Floor(old.next_row_id, old.next_seq,
                                     {url: outlet.hook_id for url, outlet in self.outlets.by_url.items()})
        report = spool_recovery.recover(old.path, spool_recovery.Problem("corrupt", reason), floor, self.stats)
        if not report.replaced:
            return False
        try:
            fresh = SpoolWriter(old.path, durable=old.durable)
        except (sqlite3.Error, OSError) as err:
            log.error("Cannot open the rebuilt spool %s (%s); going on with the damaged one", old.path, err)
            return False
        fresh.counters, old.counters = old.counters, {}  # counted, not yet written: they go to the fresh file
        fresh.next_seq = max(fresh.next_seq, old.next_seq)
        old.close()  # the damaged file was moved aside: SQLite leaves it where it is now
        self.outlets.use_spool(fresh)
        self.refresh_usage()
        return True

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
        """A full disk, an I/O error, a corrupt spool not rebuilt: deliver from memory, count what was not spooled."""
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
        self._pending_deaths = self._bounded_deaths(deaths)

    def _bounded_deaths(self, deaths: list[tuple[Record, str]]) -> list[tuple[Record, str]]:
        """The dead letters to keep for the next write, oldest first, within a count and byte bound.

        While the spool cannot be written they wait in memory with their bodies; past the bound
        the newest are not kept as dead letters (counted: not_spooled{reason="dead_letter"}).
        """
        kept, size = 0, 0
        for record, _ in deaths:
            size += len(record.body)
            if kept >= MAX_PENDING_DEATHS or size > MAX_PENDING_DEATH_BYTES:
                break
            kept += 1
        if kept < len(deaths):
            self.stats.add("not_spooled", "dead_letter", len(deaths) - kept)
            self.log_limiter.log(log, logging.ERROR, "dead-unsaved", "Cannot write the spool: %d dead "
                                 "letters not kept (the spool is unwritable and %d already wait in memory)",
                                 len(deaths) - kept, kept)
        return deaths[:kept]

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
                if row_id:  # a memory-only record (id 0) has no row to delete
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

    def _trims(self, appends: list[tuple[int, NewEvent]]) -> Trims:
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
