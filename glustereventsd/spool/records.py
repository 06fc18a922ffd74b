"""The spool's records: what the sinks get from the spool and give back to it.

``Record`` is one event waiting for one destination (its columns are the ``queue`` table's,
``schema.QUEUE``), ``HookCounters`` a destination's counters on their way to the ``hooks``
table. Types only: no SQL here, so the sinks use them without the spool's file. What ingest
hands the spool (``models.NewEvent``) is in ``models``: the stages never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Record(NamedTuple):
    """One event waiting for one webhook."""

    id: int  # spool row id: increases with arrival, per file
    hook_id: int
    event_id: str  # the webhook-id header: the same on every retry
    seq: int  # per-node sequence number
    name: str
    ts: int
    received: float
    body: bytes


@dataclass
class HookCounters:
    """Counters of one webhook, flushed to the ``hooks`` table with each commit."""

    delivered: int = 0
    retried: int = 0
    dropped: int = 0
    dead: int = 0
    last_error: str = ""
    last_error_at: float = 0.0
    last_success_at: float = 0.0
    duplicates: int = 0  # of ``delivered``: the receiver already had it (a NATS stream's PubAck said so)

    def merge(self, other: HookCounters) -> None:
        """Add ``other``'s counts, and take its latest error and success times."""
        self.delivered += other.delivered
        self.duplicates += other.duplicates
        self.retried += other.retried
        self.dropped += other.dropped
        self.dead += other.dead
        if other.last_error_at >= self.last_error_at and other.last_error_at:
            self.last_error, self.last_error_at = other.last_error, other.last_error_at
        self.last_success_at = max(self.last_success_at, other.last_success_at)

    def pending(self) -> bool:
        """True when there is something to flush."""
        return bool(self.delivered or self.retried or self.dropped or self.dead or self.duplicates
                    or self.last_error_at or self.last_success_at)


class ConditionRow(NamedTuple):
    """One row of the ``conditions`` table (``schema.CONDITIONS``): a condition or alarm of this node."""

    key: str
    alertname: str
    kind: str  # "condition" or "alarm"
    labels: str  # JSON object
    annotations: str  # JSON object
    opened_at: float
    last_open_at: float
    closed_at: float  # 0: open
    ends_at: float  # an alarm's end, a condition's expiry; 0: none
    open_event: str
    close_event: str
    nodeid: str
    open_id: str  # the opening event's id (its webhook-id): the alert's generatorURL may name it
