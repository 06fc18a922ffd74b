"""Sending one request to one webhook and classifying what happened.

``send_once`` turns every possible result into an ``Outcome``: DELIVERED (2xx), RETRY
(network error, timeout, 5xx, 408, 429: worth trying again later) or REJECT (anything else:
it will never succeed as it is). It never raises for a network problem, and redirects are
never followed (a POST must not silently become a GET elsewhere). The daemon's delivery loop
(``dispatcher``) uses ``request_headers``, ``outcome_of`` and ``failure``; the CLI's
``webhook-test`` uses ``post_test``.
"""

from __future__ import annotations

import email.utils
import os
import ssl
import time

from glustereventsd import auth
from glustereventsd.httpclient import HttpConnection, HttpError, Origin, Response, is_digits
from glustereventsd.models import Outcome, OutcomeKind, Webhook

USER_AGENT = "glustereventsd/1.0"
DEFAULT_TIMEOUT_SECS = 10.0
RETRY_STATUSES = frozenset({408, 425, 429})


def tls_context(hook: Webhook) -> ssl.SSLContext | None:
    """The TLS settings of a webhook: system store, its CA bundle, or the explicit opt-out.

    Raises ssl.SSLError or OSError when the CA bundle cannot be loaded.
    """
    if not hook.url.startswith("https:"):
        return None
    if hook.insecure_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if hook.ca_bundle:
        return ssl.create_default_context(cafile=hook.ca_bundle)
    return ssl.create_default_context()


def open_connection(hook: Webhook, timeout_secs: float | None = None) -> HttpConnection:
    """A keep-alive connection for ``hook``; raises ValueError/OSError for a bad URL or CA file."""
    timeout = timeout_secs or hook.timeout_secs or DEFAULT_TIMEOUT_SECS
    return HttpConnection(Origin.from_url(hook.url), timeout, tls_context(hook))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if is_digits(value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def fixed_headers(hook: Webhook, with_body: bool = True) -> list[tuple[str, str]]:
    """The headers that are the same on every POST to ``hook``: agent, content type, bearer token.

    The delivery loop formats them once per settings change, not once per event.
    """
    headers = [("User-Agent", USER_AGENT)]
    if with_body:
        headers.append(("Content-Type", "application/json"))
    if not hook.secret:  # a bearer token never changes; a JWT (secret set) is made per request
        credential = auth.authorization(hook.token, "", "", 0, 0)
        if credential:
            headers.append(("Authorization", credential))
    return headers


def varying_headers(
    hook: Webhook,
    subject: str,
    issued_at: int,
    now: int,
    body: bytes,
    message_id: str = "",
    sequence: int | None = None,
    signing_key: bytes | None = None,
) -> list[tuple[str, str]]:
    """The headers of one POST that change with each request: the JWT and the identity headers.

    ``message_id`` (the ``webhook-id``) is what a Standard Webhooks signature covers;
    ``sequence`` is the per-node event number (None for a test request, which has none).
    ``signing_key`` is the decoded signing secret, when the caller has it at hand.
    """
    headers = []
    jwt = auth.authorization("", hook.secret, subject, issued_at, now) if hook.secret else None
    if jwt:
        headers.append(("Authorization", jwt))
    if message_id:
        headers.append(("webhook-id", message_id))
        headers.append(("webhook-timestamp", str(now)))
        if sequence is not None:
            headers.append(("X-Gluster-Event-Seq", str(sequence)))
        if hook.signing_secret:
            key = signing_key or auth.signing_key(hook.signing_secret)
            headers.append(("webhook-signature", auth.standard_signature(key, message_id, now, body)))
    return headers


def request_headers(
    hook: Webhook,
    subject: str,
    issued_at: int,
    now: int,
    body: bytes,
    message_id: str = "",
    sequence: int | None = None,
) -> list[tuple[str, str]]:
    """All the headers of one POST: ``fixed_headers`` then ``varying_headers``."""
    return fixed_headers(hook, bool(body)) + varying_headers(hook, subject, issued_at, now, body, message_id, sequence)


_DELIVERED = Outcome(OutcomeKind.DELIVERED, "ok", 200)


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


def outcome_of(response: Response) -> Outcome:
    """Classify a complete response, honouring its Retry-After."""
    if response.status == 200:
        return _DELIVERED  # the common answer, without the general path's work
    return classify(response.status, parse_retry_after(response.headers.get("retry-after"), time.time()))


def failure(err: HttpError) -> Outcome:
    """The outcome of a request that got no usable answer: always worth retrying."""
    return Outcome(OutcomeKind.RETRY, err.reason, 0, None, str(err))


def send_once(connection: HttpConnection, headers: list[tuple[str, str]], body: bytes) -> Outcome:
    """POST once on ``connection`` and classify the result; never raises for network errors."""
    try:
        response = connection.post(headers, body)
    except HttpError as err:
        return failure(err)
    return outcome_of(response)


def post_test(hook: Webhook, now: int, timeout_secs: float | None = None) -> Outcome:
    """Send the webhook-test request: an empty POST, with a JWT whose sub is TEST and iat now.

    With a signing secret it is signed like an event (over the empty body), so a receiver
    that verifies signatures can check its secret with a test too.
    """
    try:
        connection = open_connection(hook, timeout_secs)
    except (ValueError, OSError, ssl.SSLError) as err:
        return Outcome(OutcomeKind.REJECT, "config", 0, None, f"cannot use webhook settings: {err}")
    try:
        message_id = f"msg_test_{os.urandom(12).hex()}" if hook.signing_secret else ""
        headers = request_headers(hook, "TEST", now, now, b"", message_id)
    except auth.SigningSecretError as err:
        return Outcome(OutcomeKind.REJECT, "config", 0, None, str(err))
    try:
        return send_once(connection, headers, b"")
    finally:
        connection.close()
