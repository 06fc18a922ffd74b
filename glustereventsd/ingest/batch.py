"""Datagrams -> events ready to spool: parse, enrich, number, and write them to events.log.

Runs in the pipeline thread, a batch at a time: one getrandom() for the whole batch's event
ids, one append to events.log, and counters added once per event name.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable

import eventtypes
from glustereventsd.ingest import enrich
from glustereventsd.ingest import parse
from glustereventsd.ingest.eventlog import EventLog
from glustereventsd.models import Settings
from glustereventsd.models import Datagram
from glustereventsd.models import NewEvent
from glustereventsd.base.stats import RateLimitedLog, Stats

log = logging.getLogger("glustereventsd.ingest")


class Ingest:
    """Turns a batch of datagrams into numbered events (see the module docstring)."""

    def __init__(self, nodeid: str, take_seq: Callable[[], int], stats: Stats, event_log: EventLog,
                 log_limiter: RateLimitedLog) -> None:
        self.nodeid = nodeid
        self.take_seq = take_seq  # the spool's per-node sequence (persisted with each commit)
        self.stats = stats
        self.event_log = event_log
        self.log_limiter = log_limiter

    def events_of(self, batch: list[Datagram], settings: Settings) -> list[NewEvent]:
        """The events of ``batch``, in order; malformed datagrams are counted and logged (rate-limited)."""
        names = eventtypes.names_for(settings.event_numbering)
        events = []
        received: Counter[str] = Counter()
        # One getrandom() per batch, not per event: 12 random bytes (24 hex digits) per event id.
        random_hex = os.urandom(12 * len(batch)).hex()
        for index, datagram in enumerate(batch):
            try:
                raw = parse.parse_datagram(datagram.data, settings.max_datagram_bytes, settings.max_attributes)
                event = enrich.enrich(raw, names, self.nodeid, self.stats)
            except parse.ParseError as err:
                self.stats.add("parse_errors", err.code)
                self.log_limiter.log(log, logging.WARNING, f"parse:{err.code}",
                                     "Dropped malformed datagram reason=%s sender=%s bytes=%d", err.code,
                                     datagram.sender, len(datagram.data))
                continue
            received[event.name] += 1
            events.append(NewEvent(f"msg_{random_hex[24 * index:24 * index + 24]}", self.take_seq(),
                                   event.name, event.ts, datagram.received, enrich.body_of(event)))
        for name, count in received.items():
            self.stats.add("received", name, count)
        if not settings.disable_events_log:
            self.event_log.write([event.body for event in events])
        return events
