"""The bytes of a webhook POST: where it goes (``Endpoint``), its headers and its body.

The headers are split in two so the hot path formats as little as possible per event:
``fixed_headers`` never change for a webhook's settings (formatted once per settings
change, into the ``Endpoint``), and ``varying_headers`` are made per request (the JWT,
``webhook-id``, the timestamp, the sequence number and the Standard Webhooks signature).
"""

from __future__ import annotations

from glustereventsd.models import Destination
from glustereventsd.sinks import tls as tlsconfig
from glustereventsd.sinks.http import auth, cloudevents, proxies
from glustereventsd.sinks.http import url as weburl
from glustereventsd.sinks.http.connection import Route
from glustereventsd.sinks.http.proxies import ProxyRules
from glustereventsd.sinks.http.wire import format_request, request_head
from glustereventsd.spool.records import Record

USER_AGENT = "glustereventsd/1.0"
DEFAULT_TIMEOUT_SECS = 10.0


def fixed_headers(hook: Destination, with_body: bool = True) -> list[tuple[str, str]]:
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
    hook: Destination,
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


class Endpoint:
    """One generation of a webhook's settings, made ready to send (formatted once per change)."""

    __slots__ = ("hook", "route", "timeout_secs", "head", "empty_head", "signing_key", "proxied_plain",
                 "cloudevents")

    def __init__(self, hook: Destination, config: ProxyRules, environment: ProxyRules, nodeid: str = "") -> None:
        """Raises ValueError (bad URL, proxy or signing secret) or OSError (a TLS file).

        ``nodeid`` names this node in what the format adds (a CloudEvent's ``ce-source``).
        """
        url = weburl.parse(hook.url)
        proxy = proxies.choose(url.scheme, url.host, url.port, hook.proxy, config, environment)
        self.hook = hook
        self.route = Route(url, proxy, tlsconfig.tls_context(hook))
        self.timeout_secs = hook.timeout_secs or DEFAULT_TIMEOUT_SECS
        base = [("Host", url.host_header), *self.route.proxy_headers()]
        line = self.route.request_line()
        self.cloudevents = hook.format == cloudevents.FORMAT
        if self.cloudevents:
            base += cloudevents.fixed_headers(nodeid)
        self.head = request_head(line, base + fixed_headers(hook, with_body=True))
        self.empty_head = request_head(line, base + fixed_headers(hook, with_body=False))
        self.signing_key = auth.signing_key(hook.signing_secret) if hook.signing_secret else None
        self.proxied_plain = proxy is not None and not url.is_https

    def request(self, record: Record, now: int) -> bytes:
        """The bytes of the POST carrying ``record``, sent at ``now`` (a test request, sub TEST, has ``probe.TEST_BODY``)."""
        headers = varying_headers(self.hook, record.name, record.ts, now, record.body,
                                  record.event_id, record.seq or None, self.signing_key)
        if self.cloudevents:
            headers += cloudevents.varying_headers(record, now)
        return format_request(self.head if record.body else self.empty_head, headers, record.body)
