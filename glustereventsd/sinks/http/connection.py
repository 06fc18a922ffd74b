"""One non-blocking client connection: lookup, connect, proxy tunnel, TLS, one request at a time.

The delivery loop owns every connection and drives it with ``selectors``; nothing here ever
blocks. A connection goes through these states:

    RESOLVING -> CONNECTING -> TUNNEL (CONNECT through a proxy) -> HANDSHAKE (TLS) -> READY

and in READY carries one request at a time (``request``), reading the answer with an
``httpwire.ResponseReader``. TLS runs over memory BIOs (``ssl.SSLObject``), so the socket
itself stays a plain non-blocking socket whatever is layered on it: a TLS read that needs
a write (or the reverse) is just bytes waiting in a buffer, never a busy loop.

Timeouts are the caller's: it closes a connection whose request is past its deadline.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from glustereventsd.sinks.http import wire as httpwire
from glustereventsd.sinks.http import resolver
from glustereventsd.sinks.http.wire import (ConnectError, HttpError, ProtocolError, ProxyAuthError, ProxyError,
                                     ResolveError, Response, TlsError)
from glustereventsd.sinks.http.proxies import Proxy
from glustereventsd.sinks.http.resolver import Address
from glustereventsd.sinks.http.url import WebUrl

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE

RESOLVING, CONNECTING, TUNNEL, HANDSHAKE, READY, CLOSED = range(6)


class StaleConnection(ProtocolError):
    """A reused keep-alive connection ended before one byte of the answer: safe to send again."""


@dataclass(frozen=True)
class Route:
    """Where a webhook's requests go, through which proxy, with which TLS settings."""

    url: WebUrl
    proxy: Proxy | None = None
    tls: ssl.SSLContext | None = None  # for https:// webhooks

    @property
    def tunnel(self) -> bool:
        """True when requests go through a CONNECT tunnel (https via a proxy)."""
        return self.proxy is not None and self.url.is_https

    @property
    def connect_to(self) -> tuple[str, int]:
        """The host and port of the TCP connection: the proxy's, or the webhook's."""
        if self.proxy is not None:
            return self.proxy.host, self.proxy.port
        return self.url.host, self.url.port

    def request_line(self, method: str = "POST") -> str:
        """The request line: absolute-form to a plain HTTP proxy, origin-form otherwise."""
        absolute = self.proxy is not None and not self.url.is_https
        return f"{method} {self.url.absolute if absolute else self.url.target} HTTP/1.1"

    def proxy_headers(self) -> list[tuple[str, str]]:
        """Headers for the proxy on each request (plain HTTP through a proxy with credentials)."""
        if self.proxy is not None and self.proxy.authorization and not self.url.is_https:
            return [("Proxy-Authorization", self.proxy.authorization)]
        return []

    def describe(self) -> str:
        """The route in words, for error messages: never a credential."""
        return f"via proxy {self.proxy.shown}" if self.proxy is not None else "direct"


class TlsLayer:
    """TLS over two memory BIOs: ciphertext in and out, plaintext through ``SSLObject``."""

    __slots__ = ("incoming", "outgoing", "tls", "host")

    def __init__(self, context: ssl.SSLContext, host: str) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)
        self.host = host

    def handshake(self) -> bool:
        """Advance the handshake; True once done. Raises TlsError."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLCertVerificationError as err:
            raise TlsError(f"TLS certificate of {self.host} not trusted: {err.verify_message}") from None
        except ssl.SSLError as err:
            raise TlsError(f"TLS handshake with {self.host} failed: {err.reason or err}") from None
        return True

    def write(self, data: bytes) -> None:
        """Encrypt ``data`` (after the handshake); the ciphertext waits in ``outgoing``."""
        try:
            self.tls.write(data)
        except ssl.SSLError as err:
            raise ProtocolError(f"TLS write failed: {err.reason or err}") from None

    def read(self) -> tuple[bytes, bool]:
        """Plaintext decrypted so far, and whether the peer closed TLS (close_notify)."""
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self.tls.read(httpwire.RECV_BYTES)
            except ssl.SSLWantReadError:
                return b"".join(chunks), False
            except ssl.SSLZeroReturnError:
                return b"".join(chunks), True
            except ssl.SSLError as err:
                raise ProtocolError(f"TLS error: {err.reason or err}") from None
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)


def tunnel_status(head: bytes) -> int:
    """The status of a proxy's answer to CONNECT, from its complete head (no body follows)."""
    reader = httpwire.ResponseReader()
    answer = reader.feed(head)
    if answer is not None:
        return answer.status
    status = reader.status
    if status < 200:
        raise ProtocolError("proxy answered CONNECT with no final status")
    return status


class Connection:
    """One connection to one route (see the module docstring); driven by ``on_ready``."""

    __slots__ = ("route", "state", "sock", "_addresses", "_out", "_tls", "_reader", "_tunnel_buffer",
                 "request_bytes", "busy", "reused", "answered", "_response", "_error", "interest", "served", "on_close")

    def __init__(self, route: Route) -> None:
        self.route = route
        self.state = RESOLVING
        self.sock: socket.socket | None = None
        self._addresses: list[Address] = []
        self._out = b""  # bytes for the socket not sent yet (ciphertext under TLS)
        self._tls: TlsLayer | None = None
        self._reader = httpwire.ResponseReader()
        self._tunnel_buffer = b""
        self.request_bytes = b""  # the request in flight, kept to send again on a stale connection
        self.busy = False  # a request is in flight
        self.reused = False  # this connection carried an earlier request
        self.answered = False  # any byte of the current answer arrived
        self._response: Response | None = None
        self._error: HttpError | None = None
        self.interest = 0  # the selector events this connection waits for now (0: none)
        self.served = 0  # requests answered on this connection
        self.on_close: Callable[[socket.socket], None] | None = None  # called before the socket closes

    # -- set-up ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Begin: connect at once to an IP literal; False when a name lookup is needed first."""
        host, port = self.route.connect_to
        addresses = resolver.numeric_addresses(host, port)
        if addresses is None:
            return False
        self.resolved(addresses, "")
        return True

    def resolved(self, addresses: list[Address], error: str) -> None:
        """The lookup's answer: connect to the first address (the others on failure)."""
        if self.state != RESOLVING:
            return
        if error or not addresses:
            host = self.route.connect_to[0]
            what = "proxy " if self.route.proxy is not None else ""
            self._fail(ResolveError(f"{what}{error or f'cannot resolve {host}'}"))
            return
        self._addresses = list(addresses)
        self._connect_next(None)

    def adopt(self, sock: socket.socket) -> None:
        """Use an already connected socket (tests drive connections over socket pairs)."""
        sock.setblocking(False)
        self.sock = sock
        self.state = CONNECTING
        self._established()

    def _connect_next(self, last_error: OSError | None) -> None:
        self._close_socket()
        if not self._addresses:
            # [v6]:port, as a URL writes it: ``::1:9000`` reads as one address
            what = f"proxy {self.route.proxy.shown}" if self.route.proxy is not None else self.route.url.authority
            reason = (last_error.strerror or str(last_error)) if last_error else "no address"
            error: HttpError = (ProxyError if self.route.proxy is not None else ConnectError)(
                f"cannot connect to {what}: {reason}")
            self._fail(error)
            return
        family, address = self._addresses.pop(0)
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError as err:  # out of file descriptors, or a family the kernel lacks
            hint = " (raise the open-files limit, LimitNOFILE= in the unit)" if err.errno == errno.EMFILE else ""
            self._fail(ConnectError(f"cannot open a socket: {err.strerror or err}{hint}"))
            return
        sock.setblocking(False)
        self.sock = sock
        self.state = CONNECTING
        code = sock.connect_ex(address)
        if code in (0, errno.EISCONN):
            self._established()
        elif code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            self.interest = WRITE
        else:
            self._connect_next(OSError(code, os.strerror(code)))

    def _connected(self) -> None:
        assert self.sock is not None
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._connect_next(OSError(code, os.strerror(code)))
            return
        self._established()

    def _established(self) -> None:
        assert self.sock is not None
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # a socket pair in tests, or a family without TCP options
        if self.route.tunnel:
            self.state = TUNNEL
            url = self.route.url
            headers = [("Host", url.authority)]
            if self.route.proxy is not None and self.route.proxy.authorization:
                headers.append(("Proxy-Authorization", self.route.proxy.authorization))
            self._out += httpwire.request_head(f"CONNECT {url.authority} HTTP/1.1", headers) + b"\r\n"
            self._flush()
            return
        self._secure_or_ready()

    def _secure_or_ready(self) -> None:
        if self.route.url.is_https:
            context = self.route.tls or ssl.create_default_context()
            try:
                self._tls = TlsLayer(context, self.route.url.host)
            except (ssl.SSLError, ValueError) as err:
                self._fail(TlsError(f"cannot start TLS with {self.route.url.host}: {err}"))
                return
            self.state = HANDSHAKE
            self._handshake()
            return
        self._ready()

    def _handshake(self) -> None:
        assert self._tls is not None
        try:
            done = self._tls.handshake()
        except TlsError as err:
            self._out += self._tls.outgoing.read()  # the alert, if any
            self._flush()
            self._fail(err)
            return
        self._out += self._tls.outgoing.read()
        if done:
            self._ready()
        else:
            self._flush()

    def _ready(self) -> None:
        self.state = READY
        if self.request_bytes and self.busy:
            self._send_request()
        else:
            self._flush()

    # -- requests --------------------------------------------------------------------------
    def request(self, data: bytes) -> None:
        """Send one request (now, or once the connection is set up); its answer comes from ``on_ready``."""
        self.reused = self.served > 0
        self.request_bytes = data
        self.busy = True
        self.answered = False
        self._response = None
        if self.state == READY:
            self._send_request()

    def _send_request(self) -> None:
        if self._tls is not None:
            try:
                self._tls.write(self.request_bytes)
            except ProtocolError as err:
                self._fail(err)
                return
            self._out += self._tls.outgoing.read()
        else:
            self._out += self.request_bytes
        self._flush()

    def accepted_answer(self) -> Response | None:
        """For a request past its deadline: the answer so far if a whole 2xx head came (a delivery)."""
        if self.busy and self._reader.accepted():
            return self._reader.cut()
        return None

    def take_result(self) -> Response | HttpError | None:
        """The finished request's answer or error (once), or None while it is in flight."""
        if self._error is not None:
            error, self._error = self._error, None
            self.busy = False
            return error
        if self._response is not None:
            response, self._response = self._response, None
            self.busy = False
            return response
        return None

    # -- I/O -------------------------------------------------------------------------------
    def on_ready(self, events: int) -> None:
        """The socket is readable and/or writable: move on as far as possible without blocking."""
        if self.state == CLOSED:
            return
        if self.state == CONNECTING:
            if events & (WRITE | READ):
                self._connected()
            return
        if events & WRITE:
            self._flush()
        if events & READ and self.state != CLOSED:
            self._receive()

    def _flush(self) -> None:
        sock = self.sock
        if sock is None or self.state == CLOSED:
            return
        while self._out:
            try:
                sent = sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as err:
                self._lost(err)
                return
            self._out = self._out[sent:]
        self.interest = READ | (WRITE if self._out else 0)

    def _receive(self) -> None:
        sock = self.sock
        assert sock is not None
        try:
            data = sock.recv(httpwire.RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as err:
            self._lost(err)
            return
        if not data:
            self._on_eof()
            return
        if self._tls is not None:
            self._tls.incoming.write(data)
            if self.state == HANDSHAKE:
                self._handshake()
                if self.state != READY:
                    return
            try:
                data, closed = self._tls.read()
            except ProtocolError as err:
                self._fail(err)
                return
            self._out += self._tls.outgoing.read()  # key updates and the like
            if data:
                self._plaintext(data)
            if closed and self.state != CLOSED:
                self._on_eof()
                return
            self._flush()
            return
        self._plaintext(data)

    def _plaintext(self, data: bytes) -> None:
        if self.state == TUNNEL:
            self._tunnel_reply(data)
            return
        if not self.busy:
            self.close()  # bytes nobody asked for on an idle connection: not reusable
            return
        self.answered = True
        try:
            response = self._reader.feed(data)
        except ProtocolError as err:
            self._fail(err)
            return
        if response is not None:
            self._done(response)

    def _tunnel_reply(self, data: bytes) -> None:
        self._tunnel_buffer += data
        head_end = httpwire.head_end(self._tunnel_buffer)
        if head_end < 0:
            if len(self._tunnel_buffer) > httpwire.MAX_HEAD_BYTES:
                self._fail(ProxyError("proxy answered CONNECT with headers that never end"))
            return
        head, rest = self._tunnel_buffer[:head_end], self._tunnel_buffer[head_end:]
        self._tunnel_buffer = b""
        proxy = self.route.proxy
        shown = proxy.shown if proxy is not None else "proxy"
        try:
            status = tunnel_status(head)
        except ProtocolError as err:
            self._fail(ProxyError(f"proxy {shown} answered CONNECT with something that is not HTTP ({err})"))
            return
        if status == 407:
            has_credentials = proxy is not None and bool(proxy.authorization)
            self._fail(ProxyAuthError(
                f"proxy {shown} refused the credentials in the proxy URL (407)" if has_credentials else
                f"proxy {shown} wants credentials (407): put user:password@ in the proxy URL"))
            return
        if not 200 <= status < 300:
            self._fail(ProxyError(f"proxy {shown} refused the tunnel to {self.route.url.authority}: HTTP {status}"))
            return
        if rest:
            self._fail(ProxyError(f"proxy {shown} sent bytes before the TLS handshake"))
            return
        self._secure_or_ready()

    def _on_eof(self) -> None:
        if self.state == TUNNEL:
            self._fail(ProxyError(f"proxy {self.route.proxy.shown if self.route.proxy else ''} closed the "
                                  "connection instead of opening the tunnel"))
            return
        if self.state == HANDSHAKE:
            self._fail(TlsError(f"TLS handshake with {self.route.url.host} failed: the server closed the connection"))
            return
        if not self.busy:
            self.close()
            return
        try:
            response = self._reader.eof()
        except ProtocolError as err:
            self._fail(err)
            return
        if response is not None:
            self._done(response)
            return
        self._lost(None)

    def _done(self, response: Response) -> None:
        self._response = response
        self.request_bytes = b""
        self.served += 1
        if not self._reader.keep_alive:
            self._close_socket()
            self.state = CLOSED

    def _lost(self, err: OSError | None) -> None:
        """The connection failed or closed before a complete answer."""
        reason = (err.strerror or str(err)) if err is not None else "the server closed the connection"
        if self.state == HANDSHAKE:
            self._fail(TlsError(f"TLS handshake with {self.route.url.host} failed: {reason}"))
        elif self.state == TUNNEL:
            shown = self.route.proxy.shown if self.route.proxy is not None else "the proxy"
            self._fail(ProxyError(f"proxy {shown} dropped the connection before opening the tunnel: {reason}"))
        elif not self.answered and self.reused:
            self._fail(StaleConnection("the server closed an idle keep-alive connection"))
        elif err is None:
            self._fail(ProtocolError("server closed the connection before answering"))
        elif isinstance(err, ConnectionError):
            self._fail(ProtocolError(f"connection lost: {err.strerror or err}"))
        else:
            self._fail(ConnectError(f"connection failed: {err.strerror or err}"))

    def _fail(self, error: HttpError) -> None:
        if self.busy and self._reader.accepted():
            self._done(self._reader.cut())  # after a whole 2xx head nothing makes the event undelivered
            self.close()
            return
        self._error = error
        self.close()

    def close(self) -> None:
        """Close the socket; the connection cannot be used again."""
        self._close_socket()
        self.state = CLOSED
        self.interest = 0

    def _close_socket(self) -> None:
        if self.sock is not None:
            if self.on_close is not None:
                self.on_close(self.sock)
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        self.interest = 0

    @property
    def idle(self) -> bool:
        """Set up and carrying no request: ready for the next one."""
        return self.state == READY and not self.busy
