"""The live feed behind ``listen --web``: the events held, their counts, and the browsers.

One ``Feed`` owns every piece of shared state, under one lock: the newest ``max_events``
requests (older ones are forgotten), counts per event type and per node since the listener
started, events per second over the last ``TIMELINE_SECS``, the latest pool health, the open
conditions of the "now" panel (``listen.now``), and the connected browsers. Publishing never waits for a browser: each one has a bounded buffer,
and a browser whose buffer is full (too slow, or gone without closing) is dropped; its page
reconnects and starts again from a snapshot.

Everything in a row comes from the request, so everything in it is attacker-controlled: it
is sent as JSON, and the page only ever puts it into the document as text.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from gluster_eventsapi.listen.now import OpenConditions, event_time
from gluster_eventsapi.results import ConditionsReport

#: Requests held for the page (the newest ones); documented in docs/CLI.md.
MAX_EVENTS_HELD = 1000
#: Browsers connected at once; one more is answered 503.
MAX_CLIENTS = 8
#: Messages waiting for one browser before it is dropped as too slow.
CLIENT_BUFFER = 2000
#: Length of the events-per-second timeline.
TIMELINE_SECS = 300
#: Distinct event names (and nodes) counted; the rest are counted under OTHER.
MAX_COUNTED_KEYS = 500
OTHER = "(other)"
#: A row keeps at most this much of an event's attributes (as JSON); more is cut with a note.
MAX_ATTRIBUTES_CHARS = 16384
#: Longest text kept of a name, a node id, a path or a note.
MAX_FIELD_CHARS = 256

KINDS = ("event", "test", "invalid")
AUTH_STATES = ("verified", "failed", "none")


def _text(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= limit else text[:limit] + "…"


def make_row(seq: int, received: float, kind: str, auth: str, note: str, peer: str,
             path: str, event: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One request as the page shows it: bounded in size, every field plain JSON.

    ``kind``: ``event``, ``test`` (empty body) or ``invalid`` (not a JSON object); ``auth``:
    ``verified``, ``failed`` or ``none`` (nothing to check); ``note`` says why.
    """
    assert kind in KINDS and auth in AUTH_STATES
    row: dict[str, Any] = {"seq": seq, "received": round(received, 3), "kind": kind,
                           "auth": auth, "note": _text(note, 512), "peer": _text(peer),
                           "path": _text(path), "event": "", "node": "", "ts": None,
                           "message": {}}
    if event is not None:
        row["event"] = _text(event.get("event", ""))
        row["node"] = _text(event.get("nodeid", ""))
        ts = event.get("ts")
        row["ts"] = ts if event_time(ts) is not None else None
        message = event.get("message", {})
        try:
            shown = json.dumps(message, allow_nan=False)
        except ValueError:  # NaN or Infinity: the page's JSON.parse would refuse the row, and every snapshot
            row["message"] = {}
            row["note"] = _text(f"{row['note']}; attributes with NaN or Infinity not shown "
                                "(see --json for the whole body)".lstrip("; "), 512)
            return row
        if len(shown) > MAX_ATTRIBUTES_CHARS:
            row["message"] = {}
            row["note"] = _text(f"{row['note']}; attributes of {len(shown)} characters not shown "
                                "(see --json for the whole body)".lstrip("; "), 512)
        else:
            row["message"] = message if isinstance(message, dict) else {"(message)": message}
    return row


def sse_message(kind: str, data: object) -> bytes:
    """One Server-Sent Events message (``event:`` and one ``data:`` line of JSON)."""
    # json.dumps never writes a raw line break, so the data is always one line.
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode("utf-8")


class BoundedCounts:
    """Counts by key, with at most ``limit`` keys: the rest go to ``OTHER``."""

    def __init__(self, limit: int = MAX_COUNTED_KEYS) -> None:
        self.limit = limit
        self.counts: collections.Counter[str] = collections.Counter()

    def add(self, key: str) -> str:
        """Count one; return the key it was counted under."""
        if key not in self.counts and len(self.counts) >= self.limit:
            key = OTHER
        self.counts[key] += 1
        return key

    def as_dict(self) -> dict[str, int]:
        return dict(self.counts.most_common())


class Timeline:
    """Events per second for the last ``length`` seconds (a ring of per-second buckets)."""

    def __init__(self, length: int = TIMELINE_SECS) -> None:
        self.length = length
        self.buckets = [0] * length
        self.latest = 0  # the second the newest bucket stands for

    def _advance(self, second: int) -> None:
        if second <= self.latest:
            return
        for past in range(max(self.latest + 1, second - self.length + 1), second + 1):
            self.buckets[past % self.length] = 0
        self.latest = second

    def add(self, when: float) -> None:
        second = int(when)
        self._advance(second)
        if second > self.latest - self.length:
            self.buckets[second % self.length] += 1

    def series(self, now: float) -> dict[str, Any]:
        """``{"end": second, "counts": [oldest .. newest]}`` up to ``now``."""
        self._advance(int(now))
        end = self.latest
        return {"end": end, "counts": [self.buckets[s % self.length]
                                       for s in range(end - self.length + 1, end + 1)]}


class Subscriber:
    """One browser's buffer of messages; written by the feed, read by its own thread."""

    def __init__(self, limit: int = CLIENT_BUFFER) -> None:
        self.limit = limit
        self._messages: collections.deque[bytes] = collections.deque()
        self._ready = threading.Condition(threading.Lock())
        self.dropped = False  # too slow: the connection is to be closed

    def offer(self, message: bytes) -> bool:
        """Queue one message; False (and marked dropped) when the buffer is full."""
        with self._ready:
            if self.dropped:
                return False
            if len(self._messages) >= self.limit:
                self.dropped = True
                self._messages.clear()
                self._ready.notify()
                return False
            self._messages.append(message)
            self._ready.notify()
            return True

    def wake(self) -> None:
        """Wake the reader now (the feed is closing)."""
        with self._ready:
            self._ready.notify()

    def take(self, timeout: float) -> list[bytes]:
        """Every message waiting (waiting up to ``timeout`` seconds for the first)."""
        with self._ready:
            if not self._messages and not self.dropped:
                self._ready.wait(timeout)
            taken = list(self._messages)
            self._messages.clear()
            return taken


@dataclass
class Feed:
    """The state ``listen --web`` serves; every method is safe to call from any thread."""

    catalog: Sequence[str] = ()
    max_events: int = MAX_EVENTS_HELD
    max_clients: int = MAX_CLIENTS
    client_buffer: int = CLIENT_BUFFER
    pool_enabled: bool = False
    clock: Callable[[], float] = time.time
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _rows: collections.deque[dict[str, Any]] = field(init=False, repr=False)
    _events: BoundedCounts = field(default_factory=BoundedCounts, repr=False)
    _nodes: BoundedCounts = field(default_factory=BoundedCounts, repr=False)
    _kinds: collections.Counter[str] = field(default_factory=collections.Counter, repr=False)
    _timeline: Timeline = field(default_factory=Timeline, repr=False)
    _subscribers: list[Subscriber] = field(default_factory=list, repr=False)
    _pool: dict[str, Any] | None = field(default=None, repr=False)
    #: The "now" panel's open conditions (None: no panel), and what to call when a page opens.
    now: Optional[OpenConditions] = field(default=None, repr=False)
    on_subscribe: Optional[Callable[[], None]] = field(default=None, repr=False)
    _seq: int = 0
    closed: threading.Event = field(default_factory=threading.Event, repr=False)

    def __post_init__(self) -> None:
        self._rows = collections.deque(maxlen=self.max_events)

    def publish(self, kind: str, auth: str, note: str, peer: str, path: str,
                event: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Record one request and hand it to every browser; return its row."""
        with self._lock:
            self._seq += 1
            row = make_row(self._seq, self.clock(), kind, auth, note, peer, path, event)
            self._rows.append(row)
            self._kinds[f"{kind}:{auth}"] += 1
            if kind == "event" and auth != "failed":  # a forged event is not counted as one
                self._events.add(row["event"] or "?")
                self._nodes.add(row["node"] or "?")
                self._timeline.add(row["received"])
            self._broadcast(sse_message("row", row))
            if self.now is not None and kind == "event" and auth != "failed" and event is not None:
                self._send_conditions(self.now.apply_event(event, row["received"]))
        return row

    def _send_conditions(self, keys: Sequence[str]) -> None:
        """One ``condition`` message per changed key: its entry, or null when it closed (lock held)."""
        assert self.now is not None
        for key in keys:
            self._broadcast(sse_message("condition", {"key": key, "entry": self.now.entry(key)}))

    def _expire(self) -> None:
        if self.now is not None:
            self._send_conditions(self.now.expire(self.clock()))

    def begin_conditions(self) -> int:
        """A read of the pool's conditions starts: the events applied so far (replayed over its answer)."""
        with self._lock:
            return self.now.seq if self.now is not None else 0

    def set_conditions(self, report: ConditionsReport, since_seq: int) -> None:
        """The pool's open conditions (``pool_conditions``): replace the panel's and send it to every browser."""
        with self._lock:
            if self.now is not None:
                self.now.replace(report, since_seq, self.clock())
                self._broadcast(sse_message("conditions", self.now.snapshot()))

    def conditions_failed(self, error: str) -> None:
        """The pool's conditions could not be read: every browser is told why."""
        with self._lock:
            if self.now is not None:
                self.now.failed(error, self.clock())
                self._broadcast(sse_message("conditions", self.now.snapshot()))

    def set_pool(self, state: dict[str, Any]) -> None:
        """Replace the pool health (from the pool watcher) and send it to every browser."""
        with self._lock:
            self._pool = state
            self._broadcast(sse_message("pool", state))

    def _broadcast(self, message: bytes) -> None:
        """Offer a message to every browser; drop those that cannot keep up (lock held)."""
        for subscriber in list(self._subscribers):
            if not subscriber.offer(message):
                self._subscribers.remove(subscriber)

    def _stats(self) -> dict[str, Any]:
        now = self.clock()
        return {"now": round(now, 3), "events": self._events.as_dict(),
                "nodes": self._nodes.as_dict(), "kinds": dict(self._kinds),
                "timeline": self._timeline.series(now), "clients": len(self._subscribers)}

    def stats(self) -> dict[str, Any]:
        """Counts since the start and the timeline (sent to every browser each second); alarms whose
        time is up leave the "now" panel here."""
        with self._lock:
            self._expire()
            return self._stats()

    def _snapshot(self) -> dict[str, Any]:
        # Rows are never changed once made, so a shallow copy is a consistent snapshot.
        self._expire()
        return {"max_events": self.max_events, "timeline_secs": self._timeline.length,
                "catalog": list(self.catalog), "rows": list(self._rows),
                "stats": self._stats(), "pool_enabled": self.pool_enabled, "pool": self._pool,
                "conditions": self.now.snapshot() if self.now is not None else None}

    def snapshot(self) -> dict[str, Any]:
        """Everything a page needs to start: limits, catalog, rows held, counts, pool."""
        with self._lock:
            return self._snapshot()

    def subscribe(self) -> tuple[Subscriber, bytes] | None:
        """A new browser's buffer and its first message (the snapshot); None when full.

        Snapshot and subscription are taken under one lock, so every row is either in the
        snapshot or in the buffer, never in both or neither.
        """
        with self._lock:
            if self.closed.is_set() or len(self._subscribers) >= self.max_clients:
                return None
            subscriber = Subscriber(self.client_buffer)
            self._subscribers.append(subscriber)
            snapshot = self._snapshot()
        if self.on_subscribe is not None:
            self.on_subscribe()  # the "now" panel reads the pool's conditions again
        return subscriber, sse_message("snapshot", snapshot)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def client_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """Stop every stream (the listener is stopping)."""
        self.closed.set()
        with self._lock:
            subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            subscriber.wake()
