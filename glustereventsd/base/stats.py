"""Counters of what the daemon received, published, delivered and dropped, and why.

Labels come from small fixed vocabularies (parse error codes, outcome reasons), never from
raw exception text, so the set of counters stays bounded whatever a sender does.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Optional, Tuple, Union


Label = Union[str, Tuple[str, ...]]

#: Upper bounds (seconds) of the delivery latency histogram's buckets.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


class Histogram:
    """Counts of observations per bucket (not cumulative), their sum and count."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Record one observation."""
        self.buckets[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, cumulative count) pairs as Prometheus exposes them."""
        total, pairs = 0, []
        for bound, count in zip((*map(str, self.bounds), "+Inf"), self.buckets):
            total += count
            pairs.append((bound, total))
        return pairs


class Stats:
    """Thread-safe counters keyed by (name, label), and latency histograms per label."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, Label]] = Counter()
        self._histograms: dict[tuple[str, Label], Histogram] = {}

    def add(self, name: str, label: Label = "", amount: int = 1) -> int:
        """Add ``amount`` to counter ``name{label}``; return its new value."""
        with self._lock:
            self._counts[(name, label)] += amount
            return self._counts[(name, label)]

    def observe(self, name: str, label: Label, value: float) -> None:
        """Record ``value`` in histogram ``name{label}``."""
        with self._lock:
            histogram = self._histograms.get((name, label))
            if histogram is None:
                histogram = self._histograms[(name, label)] = Histogram()
            histogram.observe(value)

    def histograms(self, name: str) -> dict[Label, Histogram]:
        """Copies of the histograms called ``name``, by label."""
        with self._lock:
            found = {}
            for (key, label), histogram in self._histograms.items():
                if key == name:
                    copy = Histogram(histogram.bounds)
                    copy.buckets, copy.sum, copy.count = list(histogram.buckets), histogram.sum, histogram.count
                    found[label] = copy
            return found

    def forget(self, label: Label) -> None:
        """Drop every counter and histogram of a label (a removed webhook), keeping sets bounded."""
        with self._lock:
            def matches(other: Label) -> bool:
                return other == label or (isinstance(other, tuple) and other[:1] == (label,))
            for key in [k for k in self._counts if matches(k[1])]:
                del self._counts[key]
            for key in [k for k in self._histograms if matches(k[1])]:
                del self._histograms[key]

    def get(self, name: str, label: Label = "") -> int:
        """Current value of one counter."""
        with self._lock:
            return self._counts[(name, label)]

    def total(self, name: str) -> int:
        """Sum of a counter over all its labels."""
        with self._lock:
            return sum(value for (key, _), value in self._counts.items() if key == name)

    def snapshot(self) -> dict[tuple[str, Label], int]:
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

    def log(self, logger: logging.Logger, level: int, key: str, message: str, *args: object) -> None:
        """Log ``message % args`` unless ``key`` spoke within the interval; say how many were held back."""
        held = self.allow(key)
        if held is not None:
            logger.log(level, message + "%s", *args, f" ({held} similar messages suppressed)" if held else "")


@dataclass(frozen=True)
class QueueGauge:
    """One webhook's backlog at scrape time."""

    webhook: str
    depth: int
    oldest_age_secs: float
    memory_only: int = 0  # of ``depth``: events not in the spool (spool memory, or it could not be written)
    concurrency: Optional[tuple[int, str]] = None  # the adaptive in-flight limit and why (None: not yet set)
