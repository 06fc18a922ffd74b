"""Webhook URLs: what is accepted, how one is shown, and the exact request target and Host it gives.

Administrators type URLs with spaces, non-ASCII paths and international host names, and
what goes on the wire must still be valid HTTP/1.1 that every server reads the same way:

- the request target is percent-encoded as UTF-8 (RFC 3986), keeping escapes already in
  the URL, so ``/a b`` goes out as ``/a%20b`` and ``/€`` as ``/%E2%82%AC``;
- the Host header carries the IDNA 2008 name (punycode, UTS 46 mapping, as python-requests
  sends it) and the port when it is not the scheme's default;
- control characters anywhere, and whitespace in the host, are refused up front: Python's
  ``urlsplit`` silently deletes CR, LF and TAB, so they are checked on the raw text.

A URL is shown (logs, tables, metric labels) without user info, query or fragment, which
may hold secrets, and with any character that is not printable escaped.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass

from glustereventsd.sinks.urltext import UrlError, ascii_host, printable

SCHEMES = {"http": 80, "https": 443}
# RFC 3986: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; quote() never encodes
# the unreserved letters, digits and "-._~". A path adds "/", a query adds "/" and "?".
_PATH_SAFE = "!$&'()*+,;=:@/%"
_QUERY_SAFE = _PATH_SAFE + "?"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_HOST_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`]")
_BRACKETED = re.compile(r"^(?:[^@]*@)?\[([^\]]+)\](?::\d*)?$")  # userinfo@[v6%zone]:port, nothing after


def _quote(text: str, safe: str) -> str:
    """Percent-encode ``text`` as UTF-8, keeping valid %XX escapes (a lone % becomes %25)."""
    return urllib.parse.quote(_LONE_PERCENT.sub("%25", text), safe=safe)


@dataclass(frozen=True)
class WebUrl:
    """A parsed webhook URL, with the bytes-ready pieces of a request to it."""

    scheme: str
    host: str  # ASCII (IDNA) name or IP literal, without brackets
    port: int
    target: str  # origin-form request target: percent-encoded path and query
    host_header: str  # host[:port], brackets around IPv6
    text: str  # the URL as configured

    @property
    def is_https(self) -> bool:
        """True for https://: TLS to the webhook."""
        return self.scheme == "https"

    @property
    def absolute(self) -> str:
        """The absolute-form target, sent to an HTTP proxy."""
        return f"{self.scheme}://{self.host_header}{self.target}"

    @property
    def authority(self) -> str:
        """host:port, as a CONNECT request names it (always with the port)."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self.port}"


def parse(url: str) -> WebUrl:
    """Parse and check a webhook URL; raise UrlError saying what is wrong.

    Refused: a scheme other than http/https, no host, credentials in the URL, control
    characters anywhere, whitespace or delimiters in the host, a bad port, an invalid
    international name. The fragment is never sent.
    """
    text = url.strip()
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        bare = re.split(r"[?#]", text, maxsplit=1)[0]  # as ``display`` shows it, control characters kept
        raise UrlError(f"webhook URL {printable(re.sub(r'//[^/@]*@', '//', bare))!r} contains control "
                       "characters (CR, LF, TAB...): remove them")
    shown = printable(display(text))
    try:
        parts = urllib.parse.urlsplit(text)
        hostname = parts.hostname
    except ValueError as err:  # bad brackets, NFKC tricks in the host
        raise UrlError(f"webhook URL {shown!r} is not a valid URL: {err}") from None
    try:
        explicit_port = parts.port
    except ValueError:
        raise UrlError(f"webhook URL {shown!r} has an invalid port (give 1 to 65535)") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlError(f"webhook URL {shown!r} must start with http:// or https:// "
                       "(or nats:// or tls:// for a NATS JetStream sink)")
    if parts.username is not None or parts.password is not None:
        raise UrlError("webhook URL must not embed credentials (user:password@); "
                       "use --bearer_token or --secret instead")
    if not hostname:
        raise UrlError(f"webhook URL {shown!r} has no host")
    if "[" in parts.netloc or "]" in parts.netloc:
        host, header_host = _ipv6_host(parts.netloc, shown)
    else:
        if _HOST_FORBIDDEN.search(hostname) or ":" in hostname:
            raise UrlError(f"webhook URL {shown!r} has whitespace or a delimiter in its host name")
        host = header_host = ascii_host(hostname)
    if explicit_port == 0:
        raise UrlError(f"webhook URL {shown!r} has an invalid port (give 1 to 65535)")
    port = explicit_port or SCHEMES[scheme]
    target = _quote(parts.path or "/", _PATH_SAFE)
    if parts.query:
        target += "?" + _quote(parts.query, _QUERY_SAFE)
    host_header = header_host if port == SCHEMES[scheme] else f"{header_host}:{port}"
    return WebUrl(scheme, host, port, target, host_header, text)


def _ipv6_host(netloc: str, shown: str) -> tuple[str, str]:
    """(host to connect to, Host header form) of a bracketed IPv6 literal, with an optional zone id.

    ``[fe80::1%25eth0]`` connects through eth0 (RFC 6874's ``%25`` is decoded); the zone id
    is not sent in the Host header, where it means nothing to the server.
    """
    match = _BRACKETED.match(netloc)
    if match is None:
        raise UrlError(f"webhook URL {shown!r} has a malformed [IPv6] host")
    literal = urllib.parse.unquote(match.group(1))
    address, _, zone = literal.partition("%")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise UrlError(f"webhook URL {shown!r} has no valid IPv6 address in brackets") from None
    if zone and not re.fullmatch(r"[A-Za-z0-9_.\-]+", zone):
        raise UrlError(f"webhook URL {shown!r} has an invalid IPv6 zone id")
    return literal, f"[{address}]"


def display(url: str) -> str:
    """A webhook URL safe for logs, tables and metric labels: no credentials, query or fragment; printable."""
    text = url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname or ""
    except ValueError:  # not even splittable: show it without anything after ?, # or user info
        bare = re.split(r"[?#]", text, maxsplit=1)[0]
        return printable(re.sub(r"//[^/@]*@", "//", bare))
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return printable(urllib.parse.urlunsplit((parts.scheme, host + port, parts.path, "", "")))
