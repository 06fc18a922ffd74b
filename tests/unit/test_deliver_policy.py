"""Classification of HTTP answers, Retry-After, and the retry backoff."""

from __future__ import annotations

import email.utils

import pytest

from glustereventsd.sinks.http.outcomes import classify, parse_retry_after
from glustereventsd.sinks.retry import RetryPolicy
from glustereventsd.models import OutcomeKind


@pytest.mark.parametrize("status,kind", [
    (200, OutcomeKind.DELIVERED), (201, OutcomeKind.DELIVERED), (204, OutcomeKind.DELIVERED),
    (500, OutcomeKind.RETRY), (502, OutcomeKind.RETRY), (503, OutcomeKind.RETRY), (408, OutcomeKind.RETRY),
    (429, OutcomeKind.RETRY), (400, OutcomeKind.REJECT), (401, OutcomeKind.REJECT), (404, OutcomeKind.REJECT),
    (410, OutcomeKind.REJECT), (301, OutcomeKind.REJECT), (307, OutcomeKind.REJECT),
])
def test_classify(status: int, kind: OutcomeKind) -> None:
    outcome = classify(status)
    assert outcome.kind is kind
    assert outcome.status == status
    assert outcome.reason == ("ok" if kind is OutcomeKind.DELIVERED else f"http_{status}")


def test_retry_after_forms() -> None:
    assert parse_retry_after("3", 0) == 3.0
    assert parse_retry_after(" 10 ", 0) == 10.0
    assert parse_retry_after(None, 0) is None
    assert parse_retry_after("soon", 0) is None
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now) == 0.0


def test_backoff_grows_to_cap_with_jitter() -> None:
    policy = RetryPolicy(min_backoff_secs=1.0, max_backoff_secs=8.0)
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (200, 8.0)):
        delays = [policy.backoff(failures, None) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (failures, delays)
        assert len(set(delays)) > 1  # jittered


def test_backoff_honours_retry_after_within_cap() -> None:
    policy = RetryPolicy(min_backoff_secs=0.1, max_backoff_secs=5.0)
    assert all(3.0 <= policy.backoff(1, 3.0) <= 5.0 for _ in range(20))
    assert policy.backoff(1, 999.0) == 5.0
