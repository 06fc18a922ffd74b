"""Adaptive concurrency (``sinks.concurrency``) on a fake clock: the AIMD rule, then each driver.

First the rule alone, driving simulated receivers event by event (each answer's time is
computed, nothing sleeps): one that answers in 200 ms whatever the load (grow), one that
serves one request at a time (shrink to its knee), one that answers 503 past 4 at once.
Then the webhook driver over socket pairs the test answers itself, as test_delivery_loop
does: the limit grows while answers come in the same time, halves on 503s, and a
concurrency of 1 stays one request at a time, in order.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable

import pytest

from glustereventsd.models import Outcome, OutcomeKind
from glustereventsd.sinks import concurrency
from glustereventsd.sinks.concurrency import AdaptiveLimit, congestion

OK = Outcome(OutcomeKind.DELIVERED, "ok", 200)
BUSY = Outcome(OutcomeKind.RETRY, "http_503", 503, None, "HTTP 503")


def simulate(limiter: AdaptiveLimit, answer: Callable[[float, int], tuple[float, Outcome]], secs: float,
             backlog: int = 1_000_000) -> tuple[int, list[int], int, dict[float, int]]:
    """Send from an endless backlog as the drivers do, for ``secs`` simulated seconds.

    ``answer(now, in_flight)`` gives (seconds until the answer, outcome) of a request sent
    now with ``in_flight`` others out. Returns (delivered, the limit after each answer, the
    most in flight at once).
    """
    now, sent, delivered, most, refused = 0.0, 0, 0, 0, 0
    at: dict[float, int] = {}  # the limit at each whole tenth of a second
    flights: list[tuple[float, int, float, Outcome]] = []  # (answer at, n, started, outcome)
    limits = []
    while now < secs:
        while sent < backlog:
            limiter.in_flight(len(flights))
            if len(flights) >= limiter.limit:
                break
            delay, outcome = answer(now, len(flights))
            heapq.heappush(flights, (now + delay, sent, now, outcome))
            sent += 1
            most = max(most, len(flights))
        if not flights:
            break
        now, _, started, outcome = heapq.heappop(flights)
        limiter.observe(outcome, started, now)
        if outcome.kind is OutcomeKind.DELIVERED:
            delivered += 1
        else:
            refused += 1
        limits.append(limiter.limit)
        at.setdefault(round(now, 1), limiter.limit)
    at[-1.0] = refused
    return delivered, limits, most, at


def test_a_slow_receiver_that_keeps_its_pace_gets_more_at_once_up_to_the_ceiling() -> None:
    limiter = AdaptiveLimit(8, 64)
    delivered, limits, _, at = simulate(limiter, lambda now, busy: (0.2, OK), 30.0)
    assert limits[0] == 8
    # one more per round trip of 200 ms: at 14 after 6 round trips (1.2 s), the ceiling after 56 (11.2 s)
    assert 13 <= at[1.2] <= 15 and 60 <= at[11.0] <= 64
    assert limiter.state == (64, concurrency.CEILING)
    assert delivered > 1900  # the goal: a 200 ms webhook, 2,000 in 30 s (a fixed 8 gets 1,200)


def test_a_receiver_that_serves_one_at_a_time_is_not_driven_past_its_knee() -> None:
    """One worker, 20 ms a request: each one more in flight only waits longer."""
    free_at = [0.0]

    def serial(now: float, busy: int) -> tuple[float, Outcome]:
        start = max(now, free_at[0])
        free_at[0] = start + 0.02
        return free_at[0] - now, OK

    limiter = AdaptiveLimit(8, 64)
    delivered, limits, _, _ = simulate(limiter, serial, 10.0)
    assert limits[0] == 8 and min(limits[:40]) <= 2  # down from 8 within the first round trips
    settled = limits[len(limits) // 2:]
    assert max(settled) <= 3 and sum(settled) / len(settled) < 2.5  # hovers at its knee (1), probing 2
    assert delivered >= 0.95 * 10.0 / 0.02  # and it is kept busy all the same: as fast as one worker goes


def test_a_receiver_that_sheds_past_four_is_held_near_four() -> None:
    def shed(now: float, busy: int) -> tuple[float, Outcome]:
        return (0.001, BUSY) if busy >= 4 else (0.02, OK)

    limiter = AdaptiveLimit(8, 64)
    delivered, limits, _, at = simulate(limiter, shed, 20.0)
    settled = limits[len(limits) // 2:]
    assert max(settled) <= 5 and 2.5 <= sum(settled) / len(settled) <= 4.5  # 503 halves it, it creeps back up
    assert at[-1.0] < 0.1 * delivered  # few are refused, and the backoff (not simulated) spaces them more
    assert concurrency.congestion(BUSY) == "503"


def test_rtt_noise_of_a_fast_receiver_does_not_shrink_it() -> None:
    """A loopback receiver's millisecond or two of jitter is the daemon's own scheduling, not queueing."""
    tick = [0]

    def jittery(now: float, busy: int) -> tuple[float, Outcome]:
        tick[0] += 1
        return (0.0003 if tick[0] % 3 else 0.003), OK

    limiter = AdaptiveLimit(8, 64)
    _, limits, _, _ = simulate(limiter, jittery, 5.0)
    assert min(limits) == 8 and limiter.limit == 64


def test_answers_to_requests_sent_before_a_change_count_once() -> None:
    """Eight failing together halve the limit once: they were sent before the first of them was counted."""
    limiter = AdaptiveLimit(8, 64)
    for _ in range(8):
        limiter.in_flight(8)
    for n in range(8):
        limiter.observe(BUSY, 0.0, 0.01 + n * 0.001)
    assert limiter.state == (4, "503")
    limiter.observe(Outcome(OutcomeKind.RETRY, "connect", 0, None, "refused"), 0.02, 0.03)
    assert limiter.state == (2, concurrency.CONNECT_ERROR)


@pytest.mark.parametrize("outcome, reason", [
    (Outcome(OutcomeKind.RETRY, "http_429", 429, 3.0, "HTTP 429"), "429"),
    (BUSY, "503"),
    (Outcome(OutcomeKind.RETRY, "connect", 0, None, "connection refused"), "connect error"),
    (Outcome(OutcomeKind.RETRY, "dns", 0, None, "no such host"), "connect error"),
    (Outcome(OutcomeKind.RETRY, "timeout", 0, None, "no answer within 10s"), "timeout"),
    (Outcome(OutcomeKind.RETRY, "http_500", 500, None, "HTTP 500"), None),  # broken, not busy: the backoff's
    (Outcome(OutcomeKind.REJECT, "http_400", 400, None, "HTTP 400"), None),
    (OK, None),
])
def test_which_outcomes_say_fewer_at_once(outcome: Outcome, reason: str | None) -> None:
    assert congestion(outcome) == reason


def test_the_limit_stays_between_one_and_the_ceiling() -> None:
    limiter = AdaptiveLimit(8, 1)
    assert limiter.state == (1, concurrency.CEILING)
    limiter.in_flight(1)
    limiter.observe(OK, 0.0, 0.5)
    assert limiter.state == (1, concurrency.CEILING)  # concurrency 1: one at a time, in order
    limiter = AdaptiveLimit(8, 64)
    for n in range(20):
        limiter.observe(BUSY, float(n), float(n) + 0.01)
    assert limiter.limit == 1
    limiter.set_ceiling(16)
    assert limiter.limit == 1
    big = AdaptiveLimit(32, 64)
    big.set_ceiling(10)  # a reload lowered it
    assert big.state == (10, concurrency.CEILING)


# -- the webhook driver -------------------------------------------------------------------------------
from tests.unit import test_delivery_loop as loop_tests  # noqa: E402 - the webhook driver's own harness

HTTP_OK = loop_tests.OK
harness = loop_tests.harness


def test_the_webhook_driver_grows_while_answers_keep_their_time_and_halves_on_503(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(concurrency=64)
    h.offer(*range(1, 2001))
    h.spin()
    pending = h.all_requests()
    counts = [len(pending)]
    for _ in range(12):
        h.now += 0.2
        for index, _ in pending:
            h.servers[index].sendall(HTTP_OK)
        h.spin(10)
        pending = h.all_requests()
        counts.append(len(pending))
    assert counts[0] == 8 and counts[-1] >= 16 and counts == sorted(counts)  # never down, one more a round
    state = h.outlet.concurrency()
    assert state is not None and state.reason == concurrency.GROWING
    limit = state.limit
    h.now += 0.2
    for index, _ in pending:
        h.servers[index].sendall(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n")
    h.spin(10)
    state = h.outlet.concurrency()
    assert state is not None and state == (limit // 2, "503")  # once for the lot, not once per answer
    assert h.outlet.failures == 1


def test_the_webhook_driver_with_concurrency_one_sends_one_at_a_time_in_order(harness) -> None:  # type: ignore[no-untyped-def]
    h = harness(concurrency=1)
    h.offer(*range(1, 21))
    seen = []
    for _ in range(20):
        h.spin()
        pending = h.all_requests()
        assert len(pending) == 1
        seen.append(pending[0][1])
        h.now += 0.001
        h.servers[pending[0][0]].sendall(HTTP_OK)
    assert seen == list(range(1, 21))
    assert h.outlet.concurrency() == (1, concurrency.CEILING)


# -- the NATS driver ------------------------------------------------------------------------------------
from tests.unit import test_nats_loop as nats_tests  # noqa: E402 - the NATS driver's own harness

nats_harness = nats_tests.harness


def test_the_nats_driver_has_fewer_awaiting_their_puback_when_the_stream_slows_down(nats_harness) -> None:  # type: ignore[no-untyped-def]
    """A stream that acknowledges in 10 ms, then in 100 ms: the limit comes down from its ceiling."""
    h = nats_harness(concurrency=8)
    h.offer(*range(1, 401))
    acked = 0
    limits = []

    def outstanding() -> int:
        return len(h.client.published) - acked

    for rtt in [0.01] * 6 + [0.1] * 6:
        state = h.outlet.concurrency()
        want = state.limit if state is not None else 8
        h.settle(lambda: outstanding() == want, f"{want} awaiting their PubAck")
        time.sleep(0.02)
        assert outstanding() == want  # never more than the limit
        pending = h.client.published[acked:]
        h.now += rtt
        for _, _, reply, _ in pending:
            acked += 1
            h.ack(reply, {"stream": "GLUSTER", "seq": acked})
        state = h.outlet.concurrency()
        assert state is not None
        limits.append(state)
    assert all(state.limit == 8 for state in limits[:6])  # at the ceiling while the PubAcks keep their time
    assert limits[-1].limit < 8 and concurrency.RTT_ROSE in {state.reason for state in limits[6:]}
