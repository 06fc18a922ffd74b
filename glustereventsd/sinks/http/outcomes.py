"""How one webhook request ended: an HTTP answer, or none, classified as an ``Outcome``.

Every result becomes an ``Outcome``: DELIVERED (2xx), RETRY (no usable answer, a timeout,
5xx, 408, 425, 429, or a proxy error: worth trying again later) or REJECT (any other answer:
it will never succeed as it is). Redirects are never followed (a POST must not silently
become a GET elsewhere).
"""

from __future__ import annotations

import email.utils
import time

from glustereventsd.sinks.http.wire import HttpError, Response
from glustereventsd.models import Outcome, OutcomeKind

RETRY_STATUSES = frozenset({408, 425, 429})


def is_digits(text: str) -> bool:
    """True for a non-empty run of ASCII digits (``str.isdigit`` also accepts '²' and the like)."""
    return text.isascii() and text.isdigit()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if is_digits(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - now)


def classify(status: int, retry_after: float | None = None) -> Outcome:
    """Turn an HTTP status into an Outcome."""
    if 200 <= status < 300:
        return Outcome(OutcomeKind.DELIVERED, "ok", status)
    if status >= 500 or status in RETRY_STATUSES:
        return Outcome(OutcomeKind.RETRY, f"http_{status}", status, retry_after, f"HTTP {status}")
    if 300 <= status < 400:
        return Outcome(OutcomeKind.REJECT, f"http_{status}", status, None,
                       f"HTTP {status} redirect (not followed: register the final URL)")
    return Outcome(OutcomeKind.REJECT, f"http_{status}", status, None, f"HTTP {status}")


_DELIVERED = Outcome(OutcomeKind.DELIVERED, "ok", 200)


def outcome_of(response: Response, proxied_plain_http: bool = False) -> Outcome:
    """Classify a complete (or cut) response, honouring its Retry-After.

    Through a plain-HTTP proxy a 407 is the proxy's, not the webhook's: it is retried, and
    says to fix the proxy credentials.
    """
    if response.status == 200:
        return _DELIVERED  # the common answer, without the general path's work
    if response.status == 407 and proxied_plain_http:
        return Outcome(OutcomeKind.RETRY, "proxy_auth", 407, None,
                       "the proxy wants credentials or refused them (407): fix user:password in the proxy URL")
    return classify(response.status, parse_retry_after(response.headers.get("retry-after"), time.time()))


def failure(err: HttpError) -> Outcome:
    """The outcome of a request that got no usable answer: always worth retrying."""
    return Outcome(OutcomeKind.RETRY, err.reason, 0, None, str(err))
