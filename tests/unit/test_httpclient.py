"""The HTTP response parser shared by the daemon's delivery loop and the blocking client."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glustereventsd.httpclient import (MAX_BODY_BYTES, MAX_HEAD_BYTES, HttpConnection, Origin, ProtocolError,
                                       parse_response)


def test_content_length_body_and_the_bytes_after_it() -> None:
    parsed = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nokNEXT", False)
    assert parsed is not None
    assert (parsed.response.status, parsed.response.body, parsed.rest, parsed.keep_alive) == (200, b"ok", b"NEXT", True)
    assert parsed.response.headers["x-a"] == "b"


def test_incomplete_answers_wait_for_more() -> None:
    assert parse_response(b"HTTP/1.1 200 OK\r\nContent-Le", False) is None
    assert parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", False) is None


def test_chunked_with_trailers() -> None:
    raw = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n"
    assert parse_response(raw[:-3], False) is None
    parsed = parse_response(raw, False)
    assert parsed is not None and parsed.response.body == b"abcde" and parsed.keep_alive


def test_body_until_close() -> None:
    raw = b"HTTP/1.1 200 OK\r\n\r\npartial"
    assert parse_response(raw, False) is None
    parsed = parse_response(raw, True)
    assert parsed is not None and parsed.response.body == b"partial" and not parsed.keep_alive


def test_interim_answers_are_skipped() -> None:
    parsed = parse_response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", False)
    assert parsed is not None and parsed.response.status == 201


def test_endless_interim_answers_hit_the_head_limit() -> None:
    flood = b"HTTP/1.1 102 Processing\r\n\r\n" * (MAX_HEAD_BYTES // 20)
    with pytest.raises(ProtocolError, match="too long"):
        parse_response(flood, False)


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_are_complete_without_length(status: int) -> None:
    parsed = parse_response(b"HTTP/1.1 %d X\r\nDate: now\r\n\r\n" % status, False)
    assert parsed is not None and parsed.response.body == b"" and parsed.keep_alive


def test_http10_closes_unless_keep_alive() -> None:
    closing = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False)
    kept = parse_response(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", False)
    assert closing is not None and not closing.keep_alive
    assert kept is not None and kept.keep_alive


def test_huge_body_is_cut_and_the_connection_dropped() -> None:
    parsed = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nxyz" % (MAX_BODY_BYTES + 1), False)
    assert parsed is not None and not parsed.keep_alive and parsed.response.body == b"xyz"


@pytest.mark.parametrize("raw", [
    b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 2\xb20 OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_garbage_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_response(raw, False)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_parse_or_fail_cleanly(raw: bytes, eof: bool) -> None:
    try:
        parse_response(b"HTTP/1.1 " + raw, eof)
    except ProtocolError:
        pass


def test_blocking_client_returns_on_a_204_without_length() -> None:
    """A 204 with no Content-Length on a kept-open connection (as Go's net/http sends it)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 204 No Content\r\nDate: now\r\n\r\n")
                time.sleep(3)  # keep the connection open

        threading.Thread(target=answer, daemon=True).start()
        connection = HttpConnection(Origin.from_url(f"http://127.0.0.1:{server.getsockname()[1]}/"), 2.0)
        started = time.monotonic()
        response = connection.post([], b"{}")
        connection.close()
    assert response.status == 204 and time.monotonic() - started < 1.0
