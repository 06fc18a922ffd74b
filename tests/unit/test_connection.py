"""One client connection driven step by step over a socket pair: partial reads, resets, stale
keep-alives, TLS that needs reads and writes in turn, and proxy tunnels.

The test plays the server on the other end of the pair and calls ``on_ready`` itself, so
every interleaving here is deterministic.
"""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.sinks.http import url as weburl
from glustereventsd.sinks.http.connection import HANDSHAKE, READ, READY, WRITE, Connection, Route, StaleConnection
from glustereventsd.sinks.http.wire import ConnectError, ProtocolError, ProxyAuthError, ProxyError, Response, TlsError
from glustereventsd.sinks.http.proxies import parse_proxy
from tests.tls import make_certificates

REQUEST = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    server.settimeout(5)
    yield client, server
    for sock in (client, server):
        sock.close()


def connection(client: socket.socket, url: str = "http://h/", proxy: str = "",
               tls: ssl.SSLContext | None = None) -> Connection:
    conn = Connection(Route(weburl.parse(url), parse_proxy(proxy) if proxy else None, tls))
    conn.adopt(client)
    return conn


def read_request(server: socket.socket, size: int = len(REQUEST)) -> bytes:
    data = b""
    while len(data) < size:
        data += server.recv(65536)
    return data


def test_a_response_in_pieces_completes_only_at_its_end(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    conn = connection(client)
    conn.request(REQUEST)
    assert read_request(server) == REQUEST
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    for index in range(len(answer)):
        server.sendall(answer[index:index + 1])
        conn.on_ready(READ)
        result = conn.take_result()
        if index < len(answer) - 1:
            assert result is None, index
    assert isinstance(result, Response) and result.status == 200 and result.body == b"hello"
    assert conn.idle and conn.interest == READ  # kept alive, watched for the server closing it


def test_a_reset_in_the_middle_of_the_answer_is_a_lost_connection(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    conn = connection(client)
    conn.request(REQUEST)
    read_request(server)
    server.sendall(b"HTTP/1.1 503 Busy\r\nContent-Length: 100\r\n\r\npartial")
    conn.on_ready(READ)
    server.close()
    conn.on_ready(READ)
    result = conn.take_result()
    assert isinstance(result, ProtocolError) and "middle of its answer" in str(result)
    assert conn.sock is None


def test_a_2xx_cut_short_is_a_delivery_not_a_retry(pair: tuple[socket.socket, socket.socket]) -> None:
    """The whole head said 200: sending again would deliver the event twice."""
    client, server = pair
    conn = connection(client)
    conn.request(REQUEST)
    read_request(server)
    server.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
    conn.on_ready(READ)
    server.close()
    conn.on_ready(READ)
    result = conn.take_result()
    assert isinstance(result, Response) and result.status == 200 and not result.complete and conn.sock is None


def test_no_socket_to_be_had_is_a_clear_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise OSError(24, "Too many open files")

    conn = Connection(Route(weburl.parse("http://127.0.0.1:9/")))
    monkeypatch.setattr(socket, "socket", refuse)
    conn.request(REQUEST)
    assert conn.start()
    result = conn.take_result()
    assert isinstance(result, ConnectError) and "LimitNOFILE" in str(result)


def test_a_reset_during_the_tls_handshake_is_a_tls_error(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    conn = connection(client, "https://127.0.0.1/x", tls=ssl.create_default_context())
    conn.request(REQUEST)
    server.close()
    conn.on_ready(READ | WRITE)
    assert isinstance(conn.take_result(), TlsError)


def test_a_tcp_reset_is_reported_as_such() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    conn = connection(client)
    conn.request(REQUEST)
    read_request(server)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.close()  # RST
    conn.on_ready(READ)
    result = conn.take_result()
    assert isinstance(result, ProtocolError) and "connection lost" in str(result)
    listener.close()


def test_an_idle_keep_alive_closed_before_the_answer_is_stale(pair: tuple[socket.socket, socket.socket]) -> None:
    """Reused, and closed without one byte of answer: safe to send again (nothing was delivered)."""
    client, server = pair
    conn = connection(client)
    conn.request(REQUEST)
    read_request(server)
    server.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    conn.on_ready(READ)
    assert isinstance(conn.take_result(), Response)
    conn.request(REQUEST)  # the second request on the same connection
    read_request(server)
    server.shutdown(socket.SHUT_WR)  # the server gives up on the idle connection
    conn.on_ready(READ)
    assert isinstance(conn.take_result(), StaleConnection)


def test_a_first_request_closed_without_an_answer_is_not_stale(pair: tuple[socket.socket, socket.socket]) -> None:
    """Not reused: the server read the request and said nothing; sending again could deliver twice."""
    client, server = pair
    conn = connection(client)
    conn.request(REQUEST)
    read_request(server)
    server.shutdown(socket.SHUT_WR)
    conn.on_ready(READ)
    result = conn.take_result()
    assert isinstance(result, ProtocolError) and not isinstance(result, StaleConnection)


def test_a_request_larger_than_the_socket_buffer_waits_for_write(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2_000_000
    conn = connection(client)
    conn.request(big)
    assert conn.interest == READ | WRITE  # the rest waits for the socket
    received = b""
    while len(received) < len(big):
        received += server.recv(1 << 20)
        conn.on_ready(WRITE)
    assert received == big and conn.interest == READ


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def server_tls(certificates: dict[str, Path], sock: socket.socket) -> ssl.SSLSocket:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates["cert"], certificates["key"])
    sock.setblocking(False)
    return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)


def pump_handshake(conn: Connection, server: ssl.SSLSocket) -> int:
    """Alternate client and server until both finished the handshake; return the client's steps."""
    steps = 0
    server_done = False
    for _ in range(50):
        if not server_done:
            try:
                server.do_handshake()
                server_done = True
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
        conn.on_ready(READ | WRITE)
        steps += 1
        if server_done and conn.state == READY:
            return steps
    raise AssertionError("handshake did not finish")


def test_tls_handshake_in_steps_then_a_request(pair: tuple[socket.socket, socket.socket],
                                              certificates: dict[str, Path]) -> None:
    client, raw_server = pair
    tls = ssl.create_default_context(cafile=str(certificates["ca"]))
    conn = connection(client, "https://127.0.0.1/x", tls=tls)
    assert conn.state == HANDSHAKE
    server = server_tls(certificates, raw_server)
    conn.request(REQUEST)  # queued until the handshake is done
    assert pump_handshake(conn, server) >= 2  # it needed reads and writes in turn
    server.settimeout(5)
    received = b""
    while len(received) < len(REQUEST):
        conn.on_ready(WRITE)
        try:
            received += server.recv(65536)
        except ssl.SSLWantReadError:
            continue
    assert received == REQUEST
    server.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    result = None
    for _ in range(20):
        conn.on_ready(READ)
        result = conn.take_result()
        if result is not None:
            break
    assert isinstance(result, Response) and result.status == 201


def test_an_untrusted_certificate_fails_the_handshake(pair: tuple[socket.socket, socket.socket],
                                                     certificates: dict[str, Path]) -> None:
    client, raw_server = pair
    conn = connection(client, "https://127.0.0.1/x", tls=ssl.create_default_context())  # system store only
    conn.request(REQUEST)
    server = server_tls(certificates, raw_server)
    for _ in range(20):
        try:
            server.do_handshake()
        except (ssl.SSLError, OSError):
            pass
        conn.on_ready(READ | WRITE)
        result = conn.take_result()
        if result is not None:
            break
    assert isinstance(result, TlsError) and "not trusted" in str(result)


def tunnel_answer(pair: tuple[socket.socket, socket.socket], answer: bytes, proxy: str) -> object:
    client, server = pair
    conn = connection(client, "https://hook.example:8443/x", proxy=proxy, tls=ssl.create_default_context())
    conn.request(REQUEST)
    head = b""
    while b"\r\n\r\n" not in head:
        head += server.recv(65536)
    server.sendall(answer)
    conn.on_ready(READ)
    return head, conn


def test_connect_tunnel_request_and_credentials(pair: tuple[socket.socket, socket.socket]) -> None:
    head, conn = tunnel_answer(pair, b"HTTP/1.1 200 Connection established\r\n\r\n",
                               "http://alice:s%40cret@proxy.example:3128")
    assert isinstance(head, bytes) and head.startswith(b"CONNECT hook.example:8443 HTTP/1.1\r\n")
    assert b"Host: hook.example:8443\r\n" in head
    assert b"Proxy-Authorization: Basic YWxpY2U6c0BjcmV0\r\n" in head  # alice:s@cret
    assert isinstance(conn, Connection) and conn.state == HANDSHAKE  # TLS to the webhook, inside


@pytest.mark.parametrize("answer,error,words", [
    (b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", ProxyAuthError, "wants credentials"),
    (b"HTTP/1.1 403 Forbidden\r\n\r\n", ProxyError, "refused the tunnel"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", ProxyError, "not HTTP"),
])
def test_a_refused_tunnel_is_a_proxy_error(pair: tuple[socket.socket, socket.socket], answer: bytes,
                                           error: type, words: str) -> None:
    _, conn = tunnel_answer(pair, answer, "http://proxy.example:3128")
    assert isinstance(conn, Connection)
    result = conn.take_result()
    assert isinstance(result, error) and words in str(result)
    assert "alice" not in str(result)


def test_plain_http_through_a_proxy_uses_the_absolute_form() -> None:
    route = Route(weburl.parse("http://hook.example:8080/a b?q=ä"), parse_proxy("http://u:p@proxy:3128"))
    assert route.request_line() == "POST http://hook.example:8080/a%20b?q=%C3%A4 HTTP/1.1"
    assert route.proxy_headers() == [("Proxy-Authorization", "Basic dTpw")]
    assert route.connect_to == ("proxy", 3128)
