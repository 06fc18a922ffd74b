"""``listen``: a reference webhook receiver that prints each event it gets.

It verifies whichever authentication it was given (bearer token, HS256 JWT, Standard
Webhooks signature) with the standard library only, answers 401 to a request that fails it
and says why on stderr, answers test requests (``{}``, or upstream's empty body) with 200, and prints one line per
event (``--json``: the raw body, one per line). Runs until Ctrl-C or SIGTERM.

With ``--web`` it also serves a live page of what it receives (``listen.web``, fed by a
``listen.feed.Feed``): every POST, accepted or refused, is published there too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import http.server
import json
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from glustereventsd.sinks.http.auth import signing_key, standard_signature

if TYPE_CHECKING:
    from gluster_eventsapi.listen.web import WebSite

MAX_BODY_BYTES = 1 << 20  # the daemon's bodies are a few KiB; refuse anything huge
REQUEST_TIMEOUT_SECS = 10.0  # a client that stops sending mid-request is dropped
TIMESTAMP_TOLERANCE_SECS = 300  # Standard Webhooks: reject signatures older/newer than 5 min
JWT_LEEWAY_SECS = 5
TEST_BODIES = (b"", b"{}")  # webhook-test sends {}; Gluster's own CLI, no body


class AuthFailure(Exception):
    """A request that does not carry the expected credentials; the message says why."""


@dataclass(frozen=True)
class Auth:
    """What the listener expects; empty strings are not checked. Never printed."""

    token: str = ""
    secret: str = ""
    signing_secret: str = ""

    def describe(self) -> str:
        """Which checks are on, without the values."""
        kinds = [name for name, value in (("bearer token", self.token), ("JWT (HS256)", self.secret),
                                          ("Standard Webhooks signature", self.signing_secret))
                 if value]
        return ", ".join(kinds) or "none (every request accepted)"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token: str, secret: str, now: float) -> dict[str, Any]:
    """Check an HS256 JWT: algorithm, signature, expiry; return its claims."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthFailure("Authorization is not a JWT (expected header.payload.signature)")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, binascii.Error, RecursionError):
        raise AuthFailure("JWT is not valid base64url JSON") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        alg = header.get("alg") if isinstance(header, dict) else None
        raise AuthFailure(f"JWT algorithm {alg!r} refused: only HS256 is accepted")
    expected = hmac.new(secret.encode("utf-8"), f"{parts[0]}.{parts[1]}".encode("ascii"),
                        hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise AuthFailure("JWT signature does not match the secret given with -s "
                          "(is the webhook's secret the same?)")
    if not isinstance(claims, dict):
        raise AuthFailure("JWT claims are not an object")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise AuthFailure("JWT has no expiry (exp)")
    if exp + JWT_LEEWAY_SECS < now:
        raise AuthFailure(f"JWT expired {int(now - exp)}s ago (are the clocks of the sender "
                          "and this host in sync?)")
    return claims


def verify_signature(headers: Any, body: bytes, signing_secret: str, now: float) -> None:
    """Check the Standard Webhooks headers: id, timestamp within tolerance, a v1 signature."""
    message_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not message_id or not stamp or not signatures:
        raise AuthFailure("not signed: webhook-id, webhook-timestamp or webhook-signature "
                          "missing (was the webhook added with --signing-secret?)")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise AuthFailure("webhook-timestamp is not an integer") from None
    if abs(now - timestamp) > TIMESTAMP_TOLERANCE_SECS:
        raise AuthFailure(f"webhook-timestamp is {int(now - timestamp)}s off this host's "
                          f"clock (tolerance {TIMESTAMP_TOLERANCE_SECS}s)")
    expected = standard_signature(signing_key(signing_secret), message_id, timestamp, body)
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode("utf-8"), expected.encode("utf-8")):
            return
    raise AuthFailure("webhook-signature does not match the --signing-secret given")


def check_request(auth: Auth, headers: Any, body: bytes, now: float) -> str:
    """Verify a request; return a note for the log line, raise AuthFailure when it fails."""
    notes = []
    bearer = headers.get("Authorization") or ""
    presented = bearer[len("Bearer "):] if bearer.startswith("Bearer ") else ""
    if auth.token or auth.secret:
        if not presented:
            raise AuthFailure("no 'Authorization: Bearer' header")
        token_ok = bool(auth.token) and hmac.compare_digest(presented.encode("utf-8"),
                                                            auth.token.encode("utf-8"))
        if not token_ok:
            if not auth.secret:
                raise AuthFailure("bearer token does not match the token given with -t")
            verify_jwt(presented, auth.secret, now)
            notes.append("jwt ok")
        else:
            notes.append("token ok")
    if auth.signing_secret:
        if body not in TEST_BODIES or headers.get("webhook-signature"):  # a test may come unsigned
            verify_signature(headers, body, auth.signing_secret, now)
            notes.append("signature ok")
        else:
            notes.append("test requests are not signed")
    return ", ".join(notes)


def is_verified(auth: Auth, body: bytes) -> bool:
    """Whether a request that passed ``check_request`` had any credential checked."""
    return bool(auth.token or auth.secret or (auth.signing_secret and body not in TEST_BODIES))


def _value(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value) if (not value or any(c.isspace() for c in value)) else value
    return json.dumps(value)


def event_line(event: dict[str, Any]) -> str:
    """One readable line: time (local), node, event name, attributes."""
    ts = event.get("ts")
    when = str(ts)
    if isinstance(ts, int):
        try:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
        except (OverflowError, OSError, ValueError):  # a sender's ts past what the platform's time_t holds
            pass
    message = event.get("message")
    attributes = " ".join(f"{key}={_value(value)}" for key, value in message.items()) \
        if isinstance(message, dict) else _value(message)
    return f"{when}  node {event.get('nodeid', '?')}  {event.get('event', '?')}  {attributes}".rstrip()


@dataclass
class Output:
    """Where lines go: events to ``out``, everything else to ``err``; one lock for both."""

    out: TextIO
    err: TextIO
    as_json: bool
    lock: threading.Lock

    def event(self, text: str) -> None:
        with self.lock:
            self.out.write(text + "\n")
            self.out.flush()

    def note(self, text: str) -> None:
        with self.lock:
            self.err.write(text + "\n")
            self.err.flush()


def make_handler(auth: Auth, output: Output, clock: Callable[[], float],
                 web: WebSite | None = None) -> type[http.server.BaseHTTPRequestHandler]:
    """The request handler class bound to one listener's settings (``web``: also the page)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = REQUEST_TIMEOUT_SECS
        # Status, headers and body leave in one send (http.server flushes after each
        # request): written in two, Nagle and the client's delayed ACK cost 40 ms a request.
        wbufsize = 65536
        server_version = "gluster-eventsapi-listen"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's
            pass  # our own lines say what happened

        def _answer(self, status: int, text: str) -> None:
            data = (text + "\n").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _publish(self, kind: str, auth_state: str, note: str,
                     event: dict[str, Any] | None = None) -> None:
            if web is not None:
                web.feed.publish(kind, auth_state, note, str(self.client_address[0]),
                                 self.path, event)

        def _refuse(self, status: int, why: str) -> None:
            stamp = time.strftime("%H:%M:%S")
            output.note(f"{stamp}  REJECTED {self.command} {self.path} from "
                        f"{self.client_address[0]}: {why} (answered {status})")
            self.close_connection = True
            self._answer(status, why)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if web is not None:
                web.handle_get(self)
            else:
                self._answer(200, "gluster-eventsapi listen: POST events here")

        def do_POST(self) -> None:  # noqa: N802
            if self.headers.get("Transfer-Encoding"):
                self._refuse(411, "chunked bodies are not accepted: send Content-Length")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self._refuse(400, "Content-Length is not a number")
                return
            if not 0 <= length <= MAX_BODY_BYTES:
                self._refuse(413, f"body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit")
                return
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                self._refuse(400, "connection closed before the whole body arrived")
                return
            is_test = body in TEST_BODIES
            try:
                note = check_request(auth, self.headers, body, clock())
            except AuthFailure as failure:
                self._publish("test" if is_test else "event", "failed", str(failure),
                              _parsed(body))
                self._refuse(401, f"authentication failed: {failure}")
                return
            auth_state = "verified" if is_verified(auth, body) else "none"
            if is_test:
                self._publish("test", auth_state, note)
                output.note(f"{time.strftime('%Y-%m-%d %H:%M:%S')}  test request from "
                            f"{self.client_address[0]}" + (f" ({note})" if note else ""))
                self._answer(200, "OK")
                return
            try:
                event = json.loads(body)
            except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
                self._publish("invalid", auth_state, "body is not JSON (answered 400)")
                self._refuse(400, "body is not JSON")
                return
            if not isinstance(event, dict):
                self._publish("invalid", auth_state, "body is not a JSON object (answered 400)")
                self._refuse(400, "body is not a JSON object")
                return
            self._publish("event", auth_state, note, event)
            if output.as_json:
                output.event(body.decode("utf-8").strip())
            else:
                output.event(event_line(event))
            self._answer(200, "OK")

    return Handler


def _parsed(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object when it is one (to show a refused event), else None."""
    try:
        event = json.loads(body) if body else None
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deep
        return None
    return event if isinstance(event, dict) else None


def exposure_warning(host: str, web: bool) -> str:
    """The warning printed when listening beyond loopback ("" on loopback)."""
    from gluster_eventsapi.listen.web import is_loopback

    if is_loopback(host):
        return ""
    readers = (" and read every event it holds on its web page (which has no login)"
               if web else "")
    return (f"WARNING: listening on {host}, not only on loopback: any host that can reach this "
            f"port can send events to it{readers}. Use -t/-s/--signing-secret, a firewall, "
            "or --host 127.0.0.1.")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is not worth a traceback; anything else is."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def serve(host: str, port: int, auth: Auth, output: Output,
          clock: Callable[[], float] = time.time, web: WebSite | None = None,
          on_ready: Callable[[], None] | None = None) -> None:
    """Listen until SIGTERM or Ctrl-C (KeyboardInterrupt); raise OSError when it cannot bind.

    ``web``: also serve the live page; ``on_ready``: called once listening (starts the pool
    watcher, so that it never runs for a listener that could not bind).
    """
    server_class = _Server6 if ":" in host else _Server
    server = server_class((host, port), make_handler(auth, output, clock, web))
    stop = [False]  # a plain flag: Event.set() in a handler could wait on the lock its own wait() holds

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        stop[0] = True  # only record intent; the main loop shuts down within 0.2 s

    previous = signal.signal(signal.SIGTERM, on_sigterm) or signal.SIG_DFL
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                              name="listen", daemon=True)
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    shown_host = f"[{bound_host!s}]" if ":" in str(bound_host) else str(bound_host)
    output.note(f"Listening on http://{shown_host}:{bound_port}/ (authentication: "
                f"{auth.describe()}; {'raw JSON bodies' if output.as_json else 'one line per event'}"
                "). Register it with 'gluster-eventsapi webhook-add http://<this host>:"
                f"{bound_port}/ ...'. Ctrl-C to stop.")
    if web is not None:
        page_host = "127.0.0.1" if bound_host in ("0.0.0.0", "::") else shown_host
        output.note(f"Live page: open http://{page_host}:{bound_port}/ in a browser "
                    f"(the newest {web.feed.max_events} requests are kept"
                    + ("; pool delivery state every few seconds" if web.feed.pool_enabled else "")
                    + ").")
    warning = exposure_warning(str(bound_host), web is not None)
    if warning:
        output.note(warning)
    if on_ready is not None:
        on_ready()
    try:
        while not stop[0]:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if web is not None:
            web.feed.close()  # ends the live streams, so shutdown does not wait for them
        server.shutdown()
        server.server_close()
        thread.join(5)
    output.note("Stopped listening.")
