"""NATS sink URLs and the subjects events are published to.

A NATS sink is registered like a webhook, by URL: the servers (comma-separated, as NATS
clients list them), then the subject prefix as the path::

    nats://nats1:4222,nats2:4222/gluster.events
    tls://nats1.example.com/gluster.events      # TLS required (the NATS clients' convention)

``nats://`` uses TLS whenever the server asks for it, or when the sink has a CA bundle or a
client certificate; ``tls://`` refuses a server that does not. The port defaults to 4222.
Credentials never go in the URL (they would end up in argv, logs and tables): they are
separate settings of the sink.

Each event goes to ``<prefix>.<nodeid>.<EVENT_NAME>``, so a consumer can subscribe to
``gluster.events.*.BRICK_DISCONNECTED`` (one event, every node) or
``gluster.events.<nodeid>.>`` (one node).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from glustereventsd.sinks.urltext import UrlError, ascii_host, printable

SCHEMES = {"nats": False, "tls": True}  # scheme -> TLS required
DEFAULT_PORT = 4222
MAX_PREFIX_CHARS = 200
_HOST_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`/?#@%]")
_TOKEN_FORBIDDEN = re.compile(r"[^\x21-\x7e]|[*>.]")  # what a subject token may not hold
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x21-\x7e]")
_SERVER = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]+))(?::(?P<port>[^:]*))?$")


@dataclass(frozen=True)
class NatsUrl:
    """A parsed NATS sink URL."""

    scheme: str  # "nats" or "tls"
    servers: tuple[tuple[str, int], ...]  # (ASCII host or IP literal, port), in the order given
    prefix: str  # the subject prefix, e.g. gluster.events
    text: str  # the URL as configured

    @property
    def tls_required(self) -> bool:
        """True for ``tls://``: the connection must be TLS whatever the server offers."""
        return SCHEMES[self.scheme]

    @property
    def server_urls(self) -> list[str]:
        """The servers as nats-py takes them (``nats://host:port``)."""
        return [f"{self.scheme}://{_bracketed(host)}:{port}" for host, port in self.servers]

    @property
    def servers_text(self) -> str:
        """``host:port,host:port`` for messages."""
        return ",".join(f"{_bracketed(host)}:{port}" for host, port in self.servers)

    def subject(self, nodeid: str, event: str) -> str:
        """The subject of one event: ``<prefix>.<nodeid>.<EVENT_NAME>``."""
        return f"{self.prefix}.{subject_token(nodeid)}.{subject_token(event)}"



def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def subject_token(text: str) -> str:
    """``text`` made safe as one subject token: no dot, wildcard, space or control character."""
    if text and not _TOKEN_FORBIDDEN.search(text):
        return text
    return _TOKEN_FORBIDDEN.sub("_", text) or "_"


def check_prefix(prefix: str, shown: str) -> str:
    """Validate a subject prefix (dot-separated tokens, no wildcards); return it."""
    if not prefix:
        raise UrlError(f"NATS URL {shown!r} has no subject prefix: give it after the servers, "
                       "e.g. nats://nats1:4222/gluster.events")
    if len(prefix) > MAX_PREFIX_CHARS:
        raise UrlError(f"NATS URL {shown!r}: the subject prefix is longer than {MAX_PREFIX_CHARS} characters")
    for token in prefix.split("."):
        if not token:
            raise UrlError(f"NATS URL {shown!r}: the subject prefix {printable(prefix)!r} has an empty token "
                           "(two dots in a row, or a dot at an end)")
        if token in ("*", ">") or "*" in token or ">" in token:
            raise UrlError(f"NATS URL {shown!r}: the subject prefix {printable(prefix)!r} must not hold the "
                           "wildcards * or > (events are published to it, not subscribed from it)")
        if _NOT_PRINTABLE_ASCII.search(token):
            raise UrlError(f"NATS URL {shown!r}: the subject prefix {printable(prefix)!r} may hold only "
                           "printable ASCII without spaces")
    return prefix


def parse(url: str) -> NatsUrl:
    """Parse and check a NATS sink URL; raise UrlError saying what is wrong."""
    text = url.strip()
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise UrlError(f"NATS URL {display(text)!r} contains control characters (CR, LF, TAB...): remove them")
    shown = printable(display(text))
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SCHEMES:
        raise UrlError(f"NATS URL {shown!r} must start with nats:// or tls://")
    netloc, slash, path = rest.partition("/")
    if "@" in netloc:
        raise UrlError("NATS URL must not embed credentials (user:password@ or a token): give them with "
                       "--nats-user/--nats-password, --nats-token, --nats-nkey or --nats-creds")
    if "?" in rest or "#" in rest:
        raise UrlError(f"NATS URL {shown!r} must not have a query or fragment: only servers and a subject prefix")
    if not netloc:
        raise UrlError(f"NATS URL {shown!r} has no server")
    servers = []
    for item in netloc.split(","):
        servers.append(_server(item.strip(), shown))
    if len(set(servers)) != len(servers):
        raise UrlError(f"NATS URL {shown!r} lists a server twice")
    prefix = check_prefix(path, shown) if slash else check_prefix("", shown)
    return NatsUrl(scheme, tuple(servers), prefix, text)


def _server(item: str, shown: str) -> tuple[str, int]:
    match = _SERVER.match(item)
    if not item or match is None:
        raise UrlError(f"NATS URL {shown!r}: {printable(item)!r} is not host or host:port (separate servers "
                       "with commas, IPv6 addresses in brackets)")
    host = match.group("v6") or match.group("host") or ""
    if match.group("host") and _HOST_FORBIDDEN.search(host):
        raise UrlError(f"NATS URL {shown!r} has whitespace or a delimiter in the host name {printable(host)!r}")
    port_text = match.group("port")
    if port_text is None:
        port = DEFAULT_PORT
    elif port_text.isascii() and port_text.isdigit() and 1 <= int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise UrlError(f"NATS URL {shown!r} has an invalid port {printable(port_text)!r} (give 1 to 65535)")
    return (host.lower() if match.group("v6") else ascii_host(host)), port


def display(url: str) -> str:
    """A NATS URL safe for logs, tables and metric labels: no credentials, query or fragment; printable."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        return printable(text)
    rest = rest.split("?", 1)[0].split("#", 1)[0]  # before the servers: a URL with no path may end in ?token=
    netloc, slash, path = rest.partition("/")
    netloc = ",".join(server.rpartition("@")[2] for server in netloc.split(","))
    return printable(f"{scheme.lower()}://{netloc}{slash}{path}")


def covers(pattern: str, subject: str) -> bool:
    """True when every subject ``subject`` names (itself, or all it matches if it has wildcards) is
    matched by the subject pattern ``pattern`` (``*``: one token, ``>``: one or more at the end)."""
    want = pattern.split(".")
    have = subject.split(".")
    for index, token in enumerate(want):
        if token == ">":
            return len(have) > index
        if index >= len(have) or have[index] == ">":
            return False
        if token != "*" and token != have[index]:
            return False
    return len(want) == len(have)
