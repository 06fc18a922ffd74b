"""Which HTTP proxy, if any, a webhook request goes through: the rules python-requests follows.

Storage nodes often reach their webhooks only through the site's proxy. Three layers choose
it, the first that says something wins:

1. the webhook's own ``proxy`` setting (``gluster-eventsapi webhook-add --proxy URL|none``);
2. the daemon-wide ``webhook-proxy`` config key (with ``webhook-no-proxy`` as its bypass list);
3. the daemon's environment: ``https_proxy``/``http_proxy``/``all_proxy`` and ``no_proxy``,
   lower-case first, then upper-case, as curl and requests read them (``HTTP_PROXY`` in
   upper case is ignored when ``REQUEST_METHOD`` is set: the httpoxy rule).

``none`` at any layer means a direct connection. ``no_proxy`` entries are host names (a
leading dot optional, matching subdomains too), ``host:port``, IP addresses, CIDR networks
or ``*``. Proxies are ``http://[user:password@]host[:port]``: the credentials go in a
``Proxy-Authorization`` header and are never shown (``Proxy.shown``).
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from glustereventsd.sinks.urltext import UrlError, ascii_host, printable

NONE_WORDS = frozenset({"none", "direct"})


@dataclass(frozen=True)
class Proxy:
    """One forward proxy: where it is, and the credentials to send it (never shown)."""

    host: str
    port: int
    authorization: str = field(default="", repr=False)  # the Proxy-Authorization value, if any

    @property
    def shown(self) -> str:
        """How logs and tables name the proxy: no credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def masked(text: str) -> str:
    """A proxy setting as shown in tables and logs: ``http://***@host:port`` when it holds credentials.

    Everything before the last ``@`` is hidden, so a password with an unencoded ``/``, ``?``
    or ``#`` (which would end the authority early) is hidden too.
    """
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    if "@" not in rest:
        return printable(value)
    return printable(f"{scheme + '://' if scheme else ''}***@{rest.rpartition('@')[2]}")


def parse_proxy(text: str) -> Proxy:
    """Parse ``http://[user:password@]host[:port]`` (scheme optional); raise UrlError.

    A proxy reached over TLS (``https://``) is refused with a message saying what to use:
    HTTPS webhooks are tunnelled end to end through an ``http://`` proxy with CONNECT.
    """
    value = text.strip()
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise UrlError("proxy URL contains control characters: remove them")
    if "://" not in value:
        value = "http://" + value
    try:
        parts = urllib.parse.urlsplit(value)
        hostname = parts.hostname
    except ValueError:
        raise UrlError(f"proxy URL {masked(value)} is not a valid URL") from None
    shown = printable(f"{parts.scheme}://{hostname or ''}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UrlError(f"proxy URL {masked(value)} has a path, query or fragment: give http://host:port; if "
                       "the password holds / ? # or @, percent-encode them (%2F %3F %23 %40)")
    if parts.scheme.lower() == "https":
        raise UrlError(f"proxy {shown} is reached over TLS, which is not supported: give its http:// "
                       "address (HTTPS webhooks stay encrypted end to end through a CONNECT tunnel)")
    if parts.scheme.lower() != "http":
        raise UrlError(f"proxy {shown} must be an http:// URL (SOCKS proxies are not supported)")
    if not hostname:
        raise UrlError("proxy URL has no host: give http://host:port")
    try:
        port = parts.port or 80
    except ValueError:
        raise UrlError(f"proxy {shown} has an invalid port (give 1 to 65535)") from None
    host = hostname if ":" in hostname else ascii_host(hostname)
    authorization = ""
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
        authorization = f"Basic {token}"
    return Proxy(host, port, authorization)


def _matches(entry: str, host: str, port: int) -> bool:
    """True when one no_proxy entry covers ``host:port``."""
    if entry == "*":
        return True
    try:
        network = ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        network = None
    if network is not None:
        try:
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False
    name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
        return False
    name = name.lstrip(".").lower()
    return bool(name) and (host == name or host.endswith("." + name))


def bypassed(no_proxy: str, host: str, port: int) -> bool:
    """True when ``no_proxy`` (comma- or space-separated entries) says to connect directly."""
    return any(_matches(entry, host.lower(), port) for entry in no_proxy.replace(" ", ",").split(",") if entry)


@dataclass(frozen=True)
class ProxyRules:
    """The proxies of one layer (config or environment): by scheme, and the bypass list."""

    http: str = ""
    https: str = ""
    no_proxy: str = ""

    def choose(self, scheme: str, host: str, port: int) -> str | None:
        """The proxy URL for a request (``"none"`` for direct), or None when this layer is silent."""
        chosen = self.https if scheme == "https" else self.http
        if not chosen:
            return None
        if chosen.strip().lower() in NONE_WORDS or bypassed(self.no_proxy, host, port):
            return "none"
        return chosen


def config_rules(proxy: str, no_proxy: str) -> ProxyRules:
    """The daemon-wide layer from the ``webhook-proxy`` and ``webhook-no-proxy`` config keys."""
    return ProxyRules(proxy, proxy, no_proxy) if proxy else ProxyRules()


def rules_from_environment(environ: Mapping[str, str]) -> ProxyRules:
    """Read ``*_proxy`` variables as curl and python-requests do (see the module docstring)."""
    def lookup(name: str) -> str:
        lower = environ.get(name)
        if lower is not None:
            return lower.strip()
        if name == "http_proxy" and "REQUEST_METHOD" in environ:
            return ""  # httpoxy: a CGI environment's HTTP_PROXY may come from a request header
        return environ.get(name.upper(), "").strip()

    fallback = lookup("all_proxy")
    return ProxyRules(lookup("http_proxy") or fallback, lookup("https_proxy") or fallback, lookup("no_proxy"))


def choose(
    scheme: str,
    host: str,
    port: int,
    webhook_proxy: str,
    config: ProxyRules,
    environment: ProxyRules,
) -> Proxy | None:
    """The proxy a request to ``scheme://host:port`` goes through, or None for direct.

    Raises UrlError when the chosen proxy URL is unusable.
    """
    chosen: str | None = webhook_proxy.strip() or None
    if chosen is None:
        chosen = config.choose(scheme, host, port)
    if chosen is None:
        chosen = environment.choose(scheme, host, port)
    if chosen is None or chosen.lower() in NONE_WORDS:
        return None
    return parse_proxy(chosen)
