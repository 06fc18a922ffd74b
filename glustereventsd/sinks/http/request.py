"""The headers of a webhook POST: agent, content type, credentials and the event's identity.

Split in two so the hot path formats as little as possible per event: ``fixed_headers``
never change for a webhook's settings (formatted once per settings change), and
``varying_headers`` are made per request (the JWT, ``webhook-id``, the timestamp, the
sequence number and the Standard Webhooks signature).
"""

from __future__ import annotations

from glustereventsd.sinks.http import auth
from glustereventsd.models import Webhook

USER_AGENT = "glustereventsd/1.0"


def fixed_headers(hook: Webhook, with_body: bool = True) -> list[tuple[str, str]]:
    """The headers that are the same on every POST to ``hook``: agent, content type, bearer token."""
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
