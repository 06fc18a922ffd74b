"""A spool found corrupt while the daemon runs is rebuilt in place by the committer (issue 10).

The real engine parts the daemon wires (SpoolWriter on a file, Outlets with its delivery
thread and NATS thread, Committer) are driven turn by turn from the test, as the pipeline
thread drives them. The webhook and the NATS sink are loopback ports nothing listens on, so
every record stays queued.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.pipeline.commit import Committer
from glustereventsd.models import Settings, Destination
from glustereventsd.pipeline.supervisor import Outlets
from glustereventsd.sinks import kinds
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.spool.db import connect, is_corruption
from glustereventsd.spool.reader import SpoolReader
from glustereventsd.models import NewEvent
from glustereventsd.spool.writer import SpoolWriter
from glustereventsd.base.stats import RateLimitedLog, Stats

URL = "http://127.0.0.1:9/hook"  # the discard port: refused, so the records wait
MALFORMED = "database disk image is malformed"


class Engine:
    """The committer, the outlets and the writer of one spool file, as ``daemon.py`` wires them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stats = Stats()
        limiter = RateLimitedLog()
        self.settings = Settings(retry_min_backoff_secs=30, retry_max_backoff_secs=60)
        self.outlets = Outlets(SpoolWriter(path), self.settings, ResultChannel(10_000), self.stats, limiter)
        self.committer = Committer(self.outlets, self.stats, limiter)
        with socket.socket() as sock:  # a port nothing listens on: the NATS sink's connects are refused
            sock.bind(("127.0.0.1", 0))
            self.nats_url = f"nats://127.0.0.1:{sock.getsockname()[1]}/gluster.events"
        self.outlets.apply(self.settings, [Destination(url=URL), Destination(url=self.nats_url)])
        self.committer.refresh_usage()
        self.sent = 0

    def events(self, count: int, pad: int = 0) -> list[NewEvent]:
        made = []
        for _ in range(count):
            body = b'{"event": "VOLUME_CREATE", "message": {"n": %d, "pad": "%s"}, "nodeid": "n", "ts": 1}' % (
                self.sent, b"x" * pad)
            made.append(NewEvent(f"msg_{self.sent:024x}", self.committer.take_seq(), "VOLUME_CREATE", 1,
                                 time.time(), body))
            self.sent += 1
        return made

    def rows(self) -> list[tuple[int, str, int]]:
        db = connect(self.path, readonly=True)
        try:
            return db.execute("SELECT id, event_id, seq FROM queue ORDER BY id").fetchall()
        finally:
            db.close()

    def close(self) -> None:
        self.outlets.stop(time.monotonic() + 2)
        self.committer.writer.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = Engine(tmp_path / "spool.sqlite3")
    yield made
    made.close()


def moved_aside(path: Path) -> list[Path]:
    return [p for p in path.parent.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]


def test_a_commit_that_finds_the_spool_corrupt_rebuilds_it_and_spools_the_turn(engine: Engine,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    engine.committer.turn(engine.events(100), [])
    before = engine.rows()
    old_writer = engine.committer.writer
    loops = [engine.outlets.driver_of(kinds.HTTP), engine.outlets.driver_of(kinds.NATS)]
    old_readers = [loop.reader if loop is not None else None for loop in loops]
    assert all(old_readers)

    def corrupt(*args: object) -> object:
        raise sqlite3.DatabaseError(MALFORMED)

    monkeypatch.setattr(old_writer, "commit", corrupt)
    engine.committer.turn(engine.events(10), [])

    fresh = engine.committer.writer
    assert fresh is not old_writer and engine.outlets.writer is fresh  # one reference, swapped once
    assert len(moved_aside(engine.path)) == 1
    after = engine.rows()
    assert after[:200] == before  # the queued rows kept their row ids, event ids and sequence numbers
    assert len(after) == 220 and [row[0] for row in after] == sorted({row[0] for row in after})
    assert sorted({row[2] for row in after}) == list(range(1, 111))  # numbering goes on, never back
    counts = engine.stats.snapshot()
    assert counts.get(("spool_recoveries", "rebuilt")) == 1
    assert not counts.get(("not_spooled", "write_failed"))  # the failed turn went to the fresh file
    assert engine.committer.spool_error == ""
    # Each driving thread switches to a reader of the fresh file before its next refill.
    for loop, old_reader in zip(loops, old_readers):
        assert loop is not None and old_reader is not None
        deadline = time.monotonic() + 10
        while loop.reader is old_reader and time.monotonic() < deadline:
            time.sleep(0.01)
        assert loop.reader is not old_reader and loop.reader is not None, type(loop).__name__
        with pytest.raises(sqlite3.ProgrammingError):  # the old one is closed
            old_reader.load(1, 0, 1)
    engine.committer.turn(engine.events(5), [])
    assert len(engine.rows()) == 230
    assert engine.committer.rebuild_spool(MALFORMED) is False  # at most once a minute


def test_a_read_that_finds_the_spool_corrupt_flags_it_for_the_pipeline(engine: Engine) -> None:
    engine.committer.turn(engine.events(3000, pad=500), [])
    engine.committer.writer.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    size = engine.path.stat().st_size
    assert size > 1 << 20
    with open(engine.path, "r+b") as handle:  # garbage over the middle of the queue's pages
        handle.seek(size // 2 // 4096 * 4096)
        handle.write(os.urandom(64 * 4096))
    gauges = engine.outlets.queue_gauges()  # a metrics scrape: counts every queued row
    assert engine.outlets.spool_damaged.is_set()
    assert sorted(gauge.webhook for gauge in gauges) == sorted([URL, engine.nats_url])  # from memory, no exception
    engine.outlets.spool_damaged.clear()
    assert engine.committer.rebuild_spool(MALFORMED) is True  # what the pipeline does next
    assert len(moved_aside(engine.path)) == 1
    recovered = engine.rows()
    assert 0 < len(recovered) < 6000 and len(recovered) == len(set(recovered))
    engine.committer.turn(engine.events(1), [])
    assert engine.rows()[-1][0] > 6000  # a row id above every one the damaged file used


def test_text_that_is_no_longer_utf8_is_read_as_corruption(tmp_path: Path) -> None:
    """Python cannot decode it: the reader's error counts as corruption and flags it, like SQLite's own."""
    writer = SpoolWriter(tmp_path / "spool.sqlite3")
    hook = writer.hook_id(URL)
    writer.commit([(hook, NewEvent("msg_1", writer.take_seq(), "VOLUME_CREATE", 1, time.time(), b"{}"))], [], [], [])
    writer.db.execute("UPDATE queue SET event_id = CAST(x'ff00' AS TEXT)")  # what a damaged page can hold
    damaged = threading.Event()
    reader = SpoolReader(writer.path, damaged)
    try:
        with pytest.raises(sqlite3.DatabaseError) as caught:
            reader.load(hook, 0, 10)
        assert is_corruption(caught.value) and damaged.is_set()
    finally:
        reader.close()
        writer.close()
