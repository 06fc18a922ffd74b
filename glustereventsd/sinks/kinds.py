"""The kinds of destination, decided in one place: which kind a URL is, and how any destination is shown.

A destination is registered by URL, and its scheme says what it is: ``http://`` and
``https://`` are webhooks, ``nats://`` and ``tls://`` are NATS JetStream sinks; one setting
makes http(s) URLs another kind: format ``alertmanager`` (the URL lists Alertmanagers). Everything that
must treat the kinds differently (the supervisor choosing a driver, the CLI checking a URL,
the settings a kind accepts) asks ``kind_of`` here, so a new kind is added in this table
and in its own package under ``sinks/``. No imports: every kind's driver may use this.
"""

from __future__ import annotations

HTTP = "http"
NATS = "nats"
ALERTMANAGER = "alertmanager"
KINDS = (HTTP, NATS, ALERTMANAGER)
NOUNS = {HTTP: "Webhook", NATS: "NATS sink", ALERTMANAGER: "Alertmanager sink"}  # what logs and messages call a destination of each kind
# What a webhook's POST carries (webhooks.json "format"): the Gluster body (the default), the same
# body as a CloudEvent (``http/cloudevents``), or alerts for the Alertmanagers the URL lists (a kind of its own).
GLUSTER_FORMAT = "gluster"
FORMATS = (GLUSTER_FORMAT, "cloudevents", ALERTMANAGER)
_BY_SCHEME = {"http": HTTP, "https": HTTP, "nats": NATS, "tls": NATS}


def kind_of(url: str, format: str = "") -> str:
    """The kind of the destination at ``url`` with ``format``; anything that is not NATS or an
    Alertmanager is a webhook (its parser says what is wrong)."""
    scheme, sep, _ = url.strip().partition("://")
    kind = _BY_SCHEME.get(scheme.lower(), HTTP) if sep else HTTP
    return ALERTMANAGER if kind == HTTP and format == ALERTMANAGER else kind


def is_nats(url: str) -> bool:
    """True for a NATS sink URL (``nats://`` or ``tls://``), False for a webhook."""
    return kind_of(url) == NATS
