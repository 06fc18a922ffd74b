"""Bad input of every kind: counted, logged once per kind, never delivered; the daemon stays up."""

from __future__ import annotations

import os
import signal

from glustereventsd.ingest import parse
from tests.helpers import DaemonProcess, InProcessDaemon, Receiver, send_lines, wait_for

# (datagram, the parse error code it must be counted under)
BAD: list[tuple[bytes, str]] = [
    (b"1 2 name=" + b"x" * 65000, parse.TOO_LONG),
    (b"1468303352 2 name=" + b"y" * 64990, parse.TOO_LONG),
    (b"1 2 name=\xff\xfe\xfd", parse.NOT_UTF8),
    (b"\x80\x81 2 name=x", parse.NOT_UTF8),
    (b"", parse.BAD_FORMAT),
    (b"1468303352", parse.BAD_FORMAT),
    (b"hello", parse.BAD_FORMAT),
    (b"abc 2 name=x", parse.BAD_TIMESTAMP),
    (b"-1 2 name=x", parse.BAD_TIMESTAMP),
    (b"99999999999 2 name=x", parse.BAD_TIMESTAMP),
    (b"1 two name=x", parse.BAD_TYPE),
    (b"1 99999999999999999999 name=x", parse.BAD_TYPE),
    (b"1 -99999999999 name=x", parse.BAD_TYPE),
    (b"1 2 name", parse.BAD_ATTRIBUTE),
    (b"1 2 name=x;volume", parse.BAD_ATTRIBUTE),
    (b"1 2 =x", parse.BAD_ATTRIBUTE),
    (b"1 2 " + b";".join(b"k%d=v" % i for i in range(65)), parse.TOO_MANY_ATTRIBUTES),
    (b"1 2 name=" + b"z" * 5000, parse.ATTRIBUTE_TOO_LONG),
    (b"1 142 name=x", parse.UNKNOWN_TYPE),
    (b"1 -1 name=x", parse.UNKNOWN_TYPE),
    (b"1 -142 name=x", parse.UNKNOWN_TYPE),
    (b"1 999999 name=x", parse.UNKNOWN_TYPE),
]


def expected_counts() -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, code in BAD:
        counts[code] = counts.get(code, 0) + 1
    return counts


def test_every_bad_input_counted_by_code_and_never_delivered(inproc: InProcessDaemon, receiver: Receiver) -> None:
    inproc.write_webhooks({receiver.url: {}})
    inproc.start()
    send_lines(inproc.port, [data for data, _ in BAD])
    send_lines(inproc.port, [data for data, _ in BAD], host="::1")
    wait_for(lambda: inproc.stats.total("parse_errors") >= 2 * len(BAD), what="all bad input counted")
    send_lines(inproc.port, [b"1 2 name=good"])
    wait_for(lambda: receiver.count() == 1, what="the good event")
    assert receiver.events()[0]["message"] == {"name": "good"}
    counted = {code: inproc.stats.get("parse_errors", code) for code in parse.CODES}
    assert counted == {code: 2 * expected_counts().get(code, 0) for code in parse.CODES}
    assert set(counted) == set(parse.CODES) and all(counted.values())  # every code exercised
    assert inproc.stats.total("received") == 1
    log = inproc.log_text()
    for code in parse.CODES:  # logged once per kind (rate-limited), with the reason
        assert log.count(f"Dropped malformed datagram reason={code} ") == 1, code


def test_daemon_process_survives_bad_input_without_traceback(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    for _ in range(3):
        send_lines(daemon.port, [data for data, _ in BAD])
        send_lines(daemon.port, [os.urandom(n) for n in (1, 7, 100, 1500, 9000)])
    send_lines(daemon.port, [b"1 2 name=after-garbage"])
    wait_for(lambda: receiver.count() == 1, what="the good event after garbage")
    assert daemon.proc is not None and daemon.proc.poll() is None
    assert receiver.names() == ["after-garbage"]
    assert "Traceback" not in daemon.log_text()
    assert "Dropped malformed datagram reason=too_long sender=127.0.0.1 bytes=65009" in daemon.log_text()
    # And it still stops cleanly.
    daemon.signal(signal.SIGTERM)
    assert daemon.proc.wait(15) == 0
    assert daemon.stderr_text() == ""
