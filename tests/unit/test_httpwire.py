"""The response reader (httptools/llhttp underneath): framing, limits and odd but legal answers.

Every case is fed whole, byte by byte, and (hypothesis) in arbitrary pieces: the answer must
not depend on how the network happened to split it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glustereventsd.sinks.http.wire import MAX_BODY_BYTES, MAX_HEAD_BYTES, ProtocolError, Response, ResponseReader


def feed_all(raw: bytes, pieces: list[int] | None = None, eof: bool = False) -> tuple[Response | None, bool]:
    """Feed ``raw`` split at ``pieces`` (sizes); return (answer, keep_alive)."""
    reader = ResponseReader()
    answer = None
    position = 0
    sizes = list(pieces or [len(raw)])
    while position < len(raw):
        size = sizes.pop(0) if sizes else len(raw) - position
        chunk = raw[position:position + max(1, size)]
        position += len(chunk)
        got = reader.feed(chunk)
        if got is not None:
            assert answer is None, "two answers to one request"
            answer = got
            break
    if answer is None and eof:
        answer = reader.eof()
    return answer, reader.keep_alive


def bytewise(raw: bytes, eof: bool = False) -> tuple[Response | None, bool]:
    return feed_all(raw, [1] * len(raw), eof)


CASES = [
    # (raw, eof, status, body, keep_alive)
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False, 200, b"ok", True),
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok", False, 200, b"ok", True),  # bare LF (RFC 9112 2.2)
    (b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\n",
     False, 201, b"abcde", True),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n", False, 202, b"", True),
    (b"HTTP/1.1 204 No Content\r\nDate: now\r\n\r\n", False, 204, b"", True),  # no length, no body
    (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", False, 304, b"", True),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", False, 200, b"x", False),  # 1.0 closes...
    (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", False, 200, b"x", True),
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False, 200, b"", False),
    (b"HTTP/1.1 200 OK\r\n\r\nuntil the server closes", True, 200, b"until the server closes", False),
    (b"HTTP/1.0 503 Busy\r\nRetry-After: 7\r\n\r\n", True, 503, b"", False),
]


@pytest.mark.parametrize("raw,eof,status,body,keep_alive", CASES)
def test_answers_whole_and_byte_by_byte(raw: bytes, eof: bool, status: int, body: bytes, keep_alive: bool) -> None:
    for answer, reused in (feed_all(raw, eof=eof), bytewise(raw, eof=eof)):
        assert answer is not None
        assert (answer.status, answer.body, reused) == (status, body, keep_alive)


@settings(max_examples=300, deadline=None)
@given(case=st.sampled_from(CASES), cuts=st.lists(st.integers(min_value=1, max_value=40), max_size=40))
def test_the_split_never_changes_the_answer(case: tuple[bytes, bool, int, bytes, bool], cuts: list[int]) -> None:
    raw, eof, status, body, keep_alive = case
    answer, reused = feed_all(raw, cuts, eof)
    assert answer is not None and (answer.status, answer.body, reused) == (status, body, keep_alive)


def test_headers_are_lower_case_and_repeats_are_joined() -> None:
    answer, _ = feed_all(b"HTTP/1.1 429 Slow\r\nRetry-After: 3\r\nX-A: 1\r\nx-a: 2\r\nContent-Length: 0\r\n\r\n")
    assert answer is not None and answer.headers["retry-after"] == "3" and answer.headers["x-a"] == "1, 2"


@pytest.mark.parametrize("raw,what", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokx", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", "Content-Length"),
    (b"garbage\r\n\r\n", "HTTP"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "status"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk"),
])
def test_broken_framing_is_a_protocol_error(raw: bytes, what: str) -> None:
    with pytest.raises(ProtocolError, match="invalid HTTP response") as caught:
        feed_all(raw)
    assert what.lower() in str(caught.value).lower()
    with pytest.raises(ProtocolError):
        bytewise(raw)


def test_an_answer_cut_short_by_the_server_is_an_error_unless_a_whole_2xx_head_came() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 503 Busy\r\nContent-Length: 10\r\n\r\nabc") is None
    with pytest.raises(ProtocolError, match="middle of its answer"):
        reader.eof()
    assert ResponseReader().eof() is None  # nothing at all: the caller decides (stale connection)
    half = ResponseReader()
    assert half.feed(b"HTTP/1.1 200 OK\r\nContent-Le") is None
    with pytest.raises(ProtocolError):
        half.eof()  # a head cut short is no answer, even with 200 in its first line
    accepted = ResponseReader()
    assert accepted.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc") is None
    answer = accepted.eof()  # the webhook took the event; only its body was cut
    assert answer is not None and answer.status == 200 and not answer.complete and not accepted.keep_alive


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",  # a broken chunk
    b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n1;" + b"e" * 200_000,  # endless extension
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + b"T: x\r\n" * 40_000,  # endless trailers
])
def test_a_whole_2xx_head_is_a_delivery_whatever_the_body_does(raw: bytes) -> None:
    """Sending again would deliver twice: the answer counts by its status, and the connection closes."""
    reader = ResponseReader()
    answer = None
    for start in range(0, len(raw), 65536):
        answer = reader.feed(raw[start:start + 65536])
        if answer is not None:
            break
    assert answer is not None and 200 <= answer.status < 300 and not answer.complete and not reader.keep_alive


@pytest.mark.parametrize("raw", [
    b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\nok",  # obs-fold (RFC 9112 5.2)
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",  # one value twice (RFC 9110 8.6)
    b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",  # whitespace before the colon
])
def test_legal_or_harmless_oddities_are_read(raw: bytes) -> None:
    for answer, keep_alive in (feed_all(raw), bytewise(raw)):
        assert answer is not None and (answer.status, answer.body, keep_alive) == (200, b"ok", True)


def test_a_101_is_refused_not_a_crash() -> None:
    with pytest.raises(ProtocolError, match="switched protocols"):
        feed_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")


def test_endless_interim_answers_hit_the_head_limit() -> None:
    reader = ResponseReader()
    with pytest.raises(ProtocolError, match="longer than"):
        for _ in range(MAX_HEAD_BYTES // 10):
            reader.feed(b"HTTP/1.1 102 Processing\r\n\r\n")


@pytest.mark.parametrize("status", [200, 503])
def test_oversized_headers_count_by_their_status_and_close(status: int) -> None:
    """A 2xx with huge headers is a delivery (never resent); a 5xx is retried; neither is reused."""
    reader = ResponseReader()
    reader.feed(b"HTTP/1.1 %d X\r\n" % status)
    answer = None
    for _ in range(MAX_HEAD_BYTES // 1000 + 2):
        answer = reader.feed(b"X-Pad: " + b"a" * 1000 + b"\r\n")
        if answer is not None:
            break
    assert answer is not None and answer.status == status and not answer.complete
    assert not reader.keep_alive


def test_a_long_body_is_cut_and_the_connection_not_reused() -> None:
    reader = ResponseReader()
    answer = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (10 * MAX_BODY_BYTES)
                         + b"b" * (MAX_BODY_BYTES + 10))
    assert answer is not None and answer.status == 200 and len(answer.body) == MAX_BODY_BYTES
    assert not answer.complete and not reader.keep_alive


def test_a_second_unasked_answer_makes_the_connection_unusable() -> None:
    answer, keep_alive = feed_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n")
    assert answer is not None and answer.status == 200 and not keep_alive


def test_one_reader_serves_a_keep_alive_connection() -> None:
    reader = ResponseReader()
    first = reader.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
    second = reader.feed(b"HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nb")
    assert first is not None and second is not None
    assert (first.status, first.body, second.status, second.body) == (200, b"a", 500, b"b")
    assert reader.keep_alive
