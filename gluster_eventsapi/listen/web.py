"""The GET side of ``listen --web``: the page, its assets, a JSON snapshot and the live stream.

Routes: ``/`` (the page), ``/app.js``, ``/style.css``, ``/favicon.svg`` (all read from the
installed package, ``gluster_eventsapi/listen/webpage/``: nothing comes from another site),
``/state`` (the feed's snapshot as JSON) and ``/events`` (Server-Sent Events: a snapshot,
then one ``row`` message per request, ``pool`` when the pool health changes and ``stats``
every second). Each stream is served by its own thread of the listener's threaded server
and writes with a timeout, so a stuck browser costs one thread for a few seconds and never
delays a POST.

Every answer forbids inline scripts, framing and other origins (Content-Security-Policy), as
a second line of defence behind the page's own escaping. Bound to loopback, the page answers
only requests whose Host is a loopback name, so a web site cannot read it through DNS
rebinding.
"""

from __future__ import annotations

import http.server
import ipaddress
import json
import time
from dataclasses import dataclass
from importlib import resources

from gluster_eventsapi.listen.feed import Feed, sse_message

ASSETS = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/favicon.svg": ("favicon.svg", "image/svg+xml"),
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
STATS_EVERY_SECS = 1.0
WRITE_TIMEOUT_SECS = 5.0  # a browser that does not read for this long is dropped
RECONNECT_MILLIS = 2000
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class MissingAsset(RuntimeError):
    """The package was installed without its web page files."""


def load_assets() -> dict[str, bytes]:
    """The page's files, from the installed package."""
    folder = resources.files("gluster_eventsapi.listen").joinpath("webpage")
    found = {}
    for name, _ in ASSETS.values():
        try:
            found[name] = folder.joinpath(name).read_bytes()
        except OSError as err:
            raise MissingAsset(f"the web page file webpage/{name} is missing from the installed "
                               f"gluster_eventsapi package ({err.strerror or err}); reinstall "
                               "it (pip install gluster-eventsapi)") from None
    return found


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str:
    """The host part of a Host header (``[::1]:9000`` -> ``::1``, ``a:9000`` -> ``a``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


@dataclass
class WebSite:
    """Serves the page and the stream of one ``Feed``."""

    feed: Feed
    assets: dict[str, bytes]
    loopback_only: bool  # bound to loopback: refuse requests for any other Host

    def _send(self, handler: http.server.BaseHTTPRequestHandler, status: int, content_type: str,
              data: bytes, cache: bool = False) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.send_header("Cache-Control", "max-age=60" if cache else "no-store")
        for name, value in SECURITY_HEADERS.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _text(self, handler: http.server.BaseHTTPRequestHandler, status: int, text: str) -> None:
        self._send(handler, status, "text/plain; charset=utf-8", (text + "\n").encode("utf-8"))

    def handle_get(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        """Answer one GET."""
        path = handler.path.split("?", 1)[0]
        host = host_name(handler.headers.get("Host") or "")
        if self.loopback_only and not is_loopback(host):
            handler.close_connection = True
            self._text(handler, 403, f"Host {host!r} refused: this page is bound to loopback "
                       "and answers only 127.0.0.1, [::1] or localhost (run listen with --host "
                       "to serve other names)")
            return
        if path in ASSETS:
            name, content_type = ASSETS[path]
            self._send(handler, 200, content_type, self.assets[name], cache=path != "/")
        elif path == "/state":
            body = json.dumps(self.feed.snapshot(), separators=(",", ":")).encode("utf-8")
            self._send(handler, 200, "application/json", body)
        elif path == "/events":
            self._stream(handler)
        else:
            self._text(handler, 404, f"no page at {path[:100]}: open / for the live events "
                       "(events are POSTed to any path)")

    def _stream(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        """Send the live feed until the browser goes away, falls behind or the listener stops."""
        subscribed = self.feed.subscribe()
        if subscribed is None:
            handler.close_connection = True
            self._text(handler, 503, f"too many pages open (at most {self.feed.max_clients} at "
                       "once): close one and reload")
            return
        subscriber, first = subscribed
        handler.close_connection = True  # the stream ends only with the connection
        try:
            handler.connection.settimeout(WRITE_TIMEOUT_SECS)
            handler.send_response(200)
            handler.send_header("Content-Type", "text/event-stream; charset=utf-8")
            handler.send_header("Cache-Control", "no-store")
            handler.send_header("Connection", "close")
            handler.send_header("X-Accel-Buffering", "no")
            for name, value in SECURITY_HEADERS.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.flush()
            # The stream goes straight to the socket: nothing is left in the handler's buffer
            # for http.server to flush (and block on again) after a write timed out.
            send = handler.connection.sendall
            send(f"retry: {RECONNECT_MILLIS}\n\n".encode("ascii") + first)
            next_stats = time.monotonic() + STATS_EVERY_SECS
            while not self.feed.closed.is_set():
                messages = subscriber.take(max(0.0, next_stats - time.monotonic()))
                if subscriber.dropped:
                    break  # fell behind: closing makes the page reconnect and start afresh
                if time.monotonic() >= next_stats:
                    messages.append(sse_message("stats", self.feed.stats()))
                    next_stats = time.monotonic() + STATS_EVERY_SECS
                if messages:
                    send(b"".join(messages))
        except OSError:
            pass  # the browser went away or stopped reading
        finally:
            self.feed.unsubscribe(subscriber)
