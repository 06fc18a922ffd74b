"""Adaptive concurrency: how many attempts one destination may have in flight, by AIMD.

A fixed limit is wrong for most receivers: too low for a slow one that could take more at
once (a 200 ms receiver with 8 in flight gets 40 events/s), too high for one that queues
or sheds what it cannot serve. So each destination's limit moves with what its receiver
shows, as TCP's congestion window does and as Vector's adaptive request concurrency does
for its sinks:

- **grow** by one after a round trip (a *window*) in which the limit was used in full and
  the mean response time held near the *baseline*: the receiver took more and did not
  slow down;
- **shrink** multiplicatively after a window whose mean response time rose well above the
  baseline (x ``RTT_DECREASE``: requests are queueing at the receiver), or in which the
  receiver refused (429, 503) or could not be reached (a connection error or a timeout:
  x ``REFUSED_DECREASE``);
- after a refusal, grow back quickly up to just below the limit that was refused, then wait
  ``KNEE_PATIENCE`` windows before trying it again: each refusal costs a backoff, so a
  receiver that sheds past N is asked for N + 1 seldom, not every few round trips;
- always between 1 and the ceiling (the destination's ``concurrency`` or the daemon's
  ``webhook-concurrency`` / ``nats-concurrency``), starting at ``min(start, ceiling)``.

The baseline is the receiver's response time when nothing of ours waits in front of it: the
lowest window mean seen (a request that found the receiver idle), followed upward slowly,
and taken as it is after a window at a limit of 1 (no request of ours queued behind
another). A rise counts when the window's mean is over ``RTT_RISE`` x baseline and over it
by ``RTT_NOISE_SECS``: a fast receiver's millisecond is mostly this daemon's own loop and
the scheduler, and shrinking on that would only slow it down.

An outcome of an attempt sent before the last decrease was judged already (it was sent
under the higher limit) and is not counted: eight requests failing together shrink the
limit once, not eight times, and the queue they built does not shrink it again.

Kind-neutral: fed by ``sinks.outlet.Outlet.finish`` with each attempt's outcome and round
trip, read by ``Outlet.slot_limit``. Driver thread only, except ``state`` (any thread: one
tuple replaced whole).
"""

from __future__ import annotations

from typing import NamedTuple

from glustereventsd.models import Outcome, OutcomeKind

RTT_DECREASE = 0.75  # the factor on a rise in response time (a measurement: it may be noise)
REFUSED_DECREASE = 0.5  # the factor on 429, 503 or a connection error (the receiver says so)
RTT_RISE = 1.5  # a window mean over this many baselines is a rise...
RTT_NOISE_SECS = 0.005  # ...and over it by this much (see the module docstring)
MIN_WINDOW_SECS = 0.02  # the shortest window (a loopback receiver answers in well under a millisecond)
BASELINE_DRIFT = 0.05  # how fast the baseline follows the window means upward (per window)
BASELINE_AT_ONE = 0.5  # the same after a window at a limit of 1 (no queueing of ours in it)
KNEE_PATIENCE = 8  # windows held just below the limit a receiver last refused, before trying it again

# Why the limit is what it is (webhook-status, metrics)
START = "start"
GROWING = "growing"
CEILING = "ceiling"
RTT_ROSE = "rtt rose"
CONNECT_ERROR = "connect error"
TIMEOUT = "timeout"
REASONS = (START, GROWING, CEILING, RTT_ROSE, "429", "503", CONNECT_ERROR, TIMEOUT)

_CONNECT_REASONS = frozenset({"connect", "dns", "tls", "proxy"})  # the Outcome reasons of a failed connection


class LimitState(NamedTuple):
    """The limit in force and why (read by other threads: status file, metrics)."""

    limit: int
    reason: str


def congestion(outcome: Outcome) -> str | None:
    """The reason an outcome says "fewer at once" (429, 503, connect error, timeout), or None."""
    if outcome.kind is not OutcomeKind.RETRY:
        return None
    if outcome.status in (429, 503):
        return str(outcome.status)
    if outcome.reason in _CONNECT_REASONS:
        return CONNECT_ERROR
    if outcome.reason == "timeout":
        return TIMEOUT
    return None


class AdaptiveLimit:
    """One destination's in-flight limit (see the module docstring); driver thread only but ``state``."""

    def __init__(self, start: int, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        first = max(1, min(start, self.ceiling))
        self.state = LimitState(first, CEILING if first == self.ceiling else START)
        self.baseline: float | None = None  # seconds
        self._shrunk_at = float("-inf")  # driver clock of the last decrease: attempts sent before are not counted
        self._window_end: float | None = None  # None: no window open
        self._sum = 0.0
        self._count = 0
        self._least = float("inf")
        self._full = False  # the limit was used in full during the window
        self._refused = ""  # a congestion reason seen during the window
        self._knee = 0  # the limit the receiver last refused (0: none known)
        self._held = 0  # windows spent just below the knee

    @property
    def limit(self) -> int:
        return self.state.limit

    def set_ceiling(self, ceiling: int) -> None:
        """The configured ceiling (it may change on reload): the limit stays within it."""
        ceiling = max(1, ceiling)
        if ceiling == self.ceiling:
            return
        self.ceiling = ceiling
        if self.state.limit > ceiling:
            self.state = LimitState(ceiling, CEILING)

    def in_flight(self, count: int) -> None:
        """The driver has ``count`` attempts in flight and asks for more: was the limit used in full?"""
        if count >= self.state.limit:
            self._full = True

    def observe(self, outcome: Outcome, started: float | None, now: float) -> None:
        """One attempt ended at ``now`` (driver clock), sent at ``started`` (None: unknown, not counted)."""
        if started is None or started < self._shrunk_at:
            return
        refused = congestion(outcome)
        if refused is not None:
            self._refused = self._refused or refused
        elif outcome.kind is OutcomeKind.DELIVERED:
            rtt = max(0.0, now - started)
            self._sum += rtt
            self._count += 1
            self._least = min(self._least, rtt)
        else:
            return  # another failure (5xx, a bad answer): the outlet's backoff deals with it
        if self._window_end is None:
            self._window_end = now + max(MIN_WINDOW_SECS, self.baseline or (now - started))
        if now >= self._window_end or self._refused:
            self._close_window(now)

    def _close_window(self, now: float) -> None:
        limit, reason = self.state
        mean = self._sum / self._count if self._count else None
        baseline = self.baseline
        rose = (mean is not None and baseline is not None and mean > baseline * RTT_RISE
                and mean - baseline > RTT_NOISE_SECS)
        if mean is not None:
            if baseline is None:
                baseline = self._least
            elif limit == 1:  # nothing of ours queued: what the receiver takes now
                baseline += (mean - baseline) * BASELINE_AT_ONE
            elif not rose:  # a slow change of the receiver's own pace (a rise is ours: not followed)
                baseline += (mean - baseline) * BASELINE_DRIFT
            self.baseline = min(baseline, mean)
        if self._refused:
            self._knee, self._held = limit, 0
            limit, reason = max(1, int(limit * REFUSED_DECREASE)), self._refused
        elif rose:
            limit, reason = max(1, int(limit * RTT_DECREASE)), RTT_ROSE
        elif self._full and limit < self.ceiling:
            if not self._knee or limit + 1 < self._knee:
                limit, reason = limit + 1, GROWING
            else:  # at the last refused limit or just below it: only now and then
                self._held += 1
                if self._held >= KNEE_PATIENCE:
                    limit, reason = limit + 1, GROWING
                    self._held = 0
                    if limit > self._knee:
                        self._knee = 0  # the receiver takes more now
        if limit >= self.ceiling:
            limit, reason = self.ceiling, CEILING
        if limit < self.state.limit:
            self._shrunk_at = now
        self.state = LimitState(limit, reason)
        self._window_end = None
        self._sum, self._count, self._least = 0.0, 0, float("inf")
        self._full = False
        self._refused = ""
