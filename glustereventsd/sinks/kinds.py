"""The kinds of destination, decided in one place: which kind a URL is, and how any destination is shown.

A destination is registered by URL, and its scheme alone says what it is: ``http://`` and
``https://`` are webhooks, ``nats://`` and ``tls://`` are NATS JetStream sinks. Everything that
must treat the kinds differently (the supervisor choosing a driver, the CLI checking a URL,
the settings a kind accepts) asks ``kind_of`` here, so a new kind is added in this table
and in its own package under ``sinks/``.
"""

from __future__ import annotations

from glustereventsd.sinks.http import url as weburl
from glustereventsd.sinks.nats import url as natsurl
from glustereventsd.sinks.urltext import UrlError

HTTP = "http"
NATS = "nats"
KINDS = (HTTP, NATS)
NOUNS = {HTTP: "Webhook", NATS: "NATS sink"}  # what logs and messages call a destination of each kind
_BY_SCHEME = {"http": HTTP, "https": HTTP, "nats": NATS, "tls": NATS}


def kind_of(url: str) -> str:
    """The kind of the destination at ``url``; anything that is not NATS is a webhook (its parser says what is wrong)."""
    scheme, sep, _ = url.strip().partition("://")
    return _BY_SCHEME.get(scheme.lower(), HTTP) if sep else HTTP


def is_nats(url: str) -> bool:
    """True for a NATS sink URL (``nats://`` or ``tls://``), False for a webhook."""
    return kind_of(url) == NATS


def canonical(url: str) -> str:
    """Check a destination URL with its kind's parser; return it as configured (stripped). Raises UrlError."""
    return natsurl.parse(url).text if is_nats(url) else weburl.parse(url).text


def display(url: str) -> str:
    """A destination URL safe for logs, tables and messages: no credentials, query or fragment; printable."""
    return natsurl.display(url) if is_nats(url) else weburl.display(url)


def label(url: str, hook_id: int) -> str:
    """The name of one destination in logs and metric labels: ``display(url)``, made unique.

    Two URLs that differ only in what ``display`` hides (``?token=A`` and ``?token=B``, user
    info, a fragment) would otherwise share one label, their counters merging; such a URL's
    label adds its spool id, which stays the same across restarts and says nothing of the
    hidden part.
    """
    shown = display(url)
    text = url.strip()
    authority = text.partition("://")[2].split("/", 1)[0]
    hides = "?" in text or "#" in text or "@" in authority
    return f"{shown} (#{hook_id})" if hides else shown


__all__ = ["HTTP", "KINDS", "NATS", "NOUNS", "UrlError", "canonical", "display", "is_nats", "kind_of", "label"]
