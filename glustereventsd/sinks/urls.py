"""Destination URLs of every kind: checked and shown by their own kind's parser (``http/url``, ``nats/url``).

The one module that knows every kind's URL parser (the independence contract of
``.importlinter`` allows it exactly this), so that config, the supervisor and the CLI check
and show any destination without asking which kind it is.
"""

from __future__ import annotations

from glustereventsd.sinks import kinds
from glustereventsd.sinks.alertmanager import url as amurl
from glustereventsd.sinks.http import url as weburl
from glustereventsd.sinks.kinds import is_nats
from glustereventsd.sinks.nats import url as natsurl
from glustereventsd.sinks.urltext import UrlError


def canonical(url: str, format: str = "") -> str:
    """Check a destination URL (with ``format``) with its kind's parser; return it as configured (stripped).
    Raises UrlError."""
    kind = kinds.kind_of(url, format)
    if kind == kinds.ALERTMANAGER:
        return amurl.canonical(url)
    return natsurl.parse(url).text if kind == kinds.NATS else weburl.parse(url).text


def display(url: str) -> str:
    """A destination URL safe for logs, tables and messages: no credentials, query or fragment; printable.

    Several http(s) URLs joined by commas are an Alertmanager cluster: each is shown.
    """
    if is_nats(url):
        return natsurl.display(url)
    members = amurl.split(url)
    if len(members) > 1 and all(m.lower().startswith(("http://", "https://")) for m in members):
        return amurl.display(url)
    return weburl.display(url)


def label(url: str, hook_id: int) -> str:
    """The name of one destination in logs and metric labels: ``display(url)``, made unique.

    Two URLs that differ only in what ``display`` hides or rewrites (``?token=A`` and
    ``?token=B``, user info, a fragment; ``HTTP://Host:080/`` and ``http://host:80/``) would
    otherwise share one label, their counters merging: a URL that is not shown exactly as
    written gets its spool id too, which stays the same across restarts and says nothing of
    what was hidden.
    """
    shown = display(url)
    return shown if shown == url.strip() else f"{shown} (#{hook_id})"


__all__ = ["UrlError", "canonical", "display", "label"]
