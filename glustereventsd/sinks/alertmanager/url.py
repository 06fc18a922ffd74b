"""An Alertmanager destination's URL: one or more Alertmanagers of one cluster, comma-separated.

``http://am1:9093,http://am2:9093`` names two members; each is a webhook URL (``http/url``:
TLS, user info, international names) that is the Alertmanager's base, and alerts go to
``<base>/api/v2/alerts``. Every member gets every alert: Alertmanager members share
silences and notifications, not alerts, so a client must post to each (never balance).
No imports but the webhook URL parser: the config and the CLI check these too.
"""

from __future__ import annotations

from glustereventsd.sinks.http import url as weburl
from glustereventsd.sinks.urltext import UrlError

ALERTS_PATH = "/api/v2/alerts"
STATUS_PATH = "/api/v2/status"


def split(text: str) -> list[str]:
    """The members' URLs as given (stripped; empty parts ignored)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse(text: str) -> list[weburl.WebUrl]:
    """Check every member's URL; raises UrlError naming the member at fault."""
    members = split(text)
    if not members:
        raise UrlError("an Alertmanager destination needs at least one http(s):// URL (several: comma-separated)")
    parsed = []
    for member in members:
        url = weburl.parse(member)
        if "?" in member or "#" in member:
            raise UrlError(f"{weburl.display(member)!r}: an Alertmanager URL is its base address "
                           "(http://host:9093 or http://host/prefix), without a query or fragment")
        parsed.append(url)
    if len({url.absolute for url in parsed}) != len(parsed):
        raise UrlError(f"{display(text)!r} names one Alertmanager twice")
    return parsed


def canonical(text: str) -> str:
    """The destination as configured: its members, checked, joined by commas."""
    return ",".join(url.text for url in parse(text))


def display(text: str) -> str:
    """Every member as ``weburl.display`` shows it (no credentials), comma-separated."""
    return ",".join(weburl.display(member) for member in split(text)) or text.strip()


def endpoint_url(member: str, path: str = ALERTS_PATH) -> str:
    """The URL of ``path`` (the alerts API) under one member's base URL."""
    return member.strip().rstrip("/") + path
