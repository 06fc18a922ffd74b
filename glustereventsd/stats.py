"""Counters of what the daemon received, published, delivered and dropped, and why.

Labels come from small fixed vocabularies (parse error codes, outcome reasons), never from
raw exception text, so the set of counters stays bounded whatever a sender does.
"""

from __future__ import annotations

import threading
import time
from collections import Counter


class Stats:
    """Thread-safe counters keyed by (name, label)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, name: str, label: str = "", amount: int = 1) -> None:
        """Add ``amount`` to counter ``name{label}``."""
        with self._lock:
            self._counts[(name, label)] += amount

    def get(self, name: str, label: str = "") -> int:
        """Current value of one counter."""
        with self._lock:
            return self._counts[(name, label)]

    def total(self, name: str) -> int:
        """Sum of a counter over all its labels."""
        with self._lock:
            return sum(value for (key, _), value in self._counts.items() if key == name)

    def snapshot(self) -> dict[tuple[str, str], int]:
        """A copy of every counter."""
        with self._lock:
            return dict(self._counts)


class RateLimitedLog:
    """Lets one message per key through per interval, and says how many were held back."""

    def __init__(self, interval_secs: float = 10.0) -> None:
        self.interval_secs = interval_secs
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: Counter[str] = Counter()

    def allow(self, key: str, now: float | None = None) -> int | None:
        """None to stay quiet; else the number of messages held back since the last one."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if now - self._last.get(key, -1e18) < self.interval_secs:
                self._held[key] += 1
                return None
            self._last[key] = now
            held = self._held.pop(key, 0)
            if len(self._last) > 1024:  # keys come from fixed vocabularies; stay bounded anyway
                self._last = {key: now}
            return held
