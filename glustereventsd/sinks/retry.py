"""When a destination is tried again after a failure, and when an event is given up: the retry policy.

The same for every kind of sink: exponential backoff with jitter from ``retry-min-backoff-secs``
to ``retry-max-backoff-secs`` (or longer when the receiver asks, with Retry-After), and a dead
letter once an event is older than ``max-event-age-secs``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from glustereventsd.models import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again and when to give up."""

    min_backoff_secs: float = 1.0
    max_backoff_secs: float = 300.0
    max_age_secs: float = 86_400.0

    @classmethod
    def of(cls, settings: Settings) -> RetryPolicy:
        """The policy the daemon's settings give."""
        return cls(settings.retry_min_backoff_secs, settings.retry_max_backoff_secs, settings.max_event_age_secs)

    def backoff(self, failures: int, retry_after: float | None) -> float:
        """Seconds to wait after ``failures`` consecutive failures (full jitter on the upper half)."""
        ceiling = min(self.max_backoff_secs, self.min_backoff_secs * (2 ** min(failures - 1, 30)))
        delay = random.uniform(ceiling / 2, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_backoff_secs))
        return delay
