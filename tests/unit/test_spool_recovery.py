"""Spool recovery (issue 10): damaged spool files are moved aside, read as far as they can be, rebuilt.

Each test makes a real spool with SpoolWriter, damages the file the way a disk or a person
would, and checks the rebuilt spool against what was in it: the same event ids, sequence
numbers and row ids, no duplicates, the evidence kept byte for byte, and the count of
recovered plus lost events equal to what was queued.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glustereventsd.spool import salvage as spool_recovery
from glustereventsd.spool import startup
from glustereventsd.spool.db import connect
from glustereventsd.models import NewEvent
from glustereventsd.spool.writer import SpoolWriter
from glustereventsd.base.stats import Stats

URL = "http://127.0.0.1:9/hook"
OTHER = "http://127.0.0.1:9/other"


def make_spool(path: Path, count: int, body_bytes: int = 200) -> list[tuple[str, int]]:
    """A spool with ``count`` events queued for URL, 10 delivered and a removed webhook; returns (event id, seq)."""
    writer = SpoolWriter(path)
    hook = writer.hook_id(URL)
    removed = writer.hook_id(OTHER)
    queued = []
    batch = []
    for index in range(count + 10):
        body = b'{"event": "VOLUME_CREATE", "message": {"i": %d, "pad": "%s"}, "nodeid": "n", "ts": 1}' % (
            index, b"x" * body_bytes)
        event = NewEvent(f"msg_{index:024x}", writer.take_seq(), "VOLUME_CREATE", 1, time.time(), body)
        batch.append((hook, event))
        batch.append((removed, event))
        if index >= 10:
            queued.append((event.event_id, event.seq))
    committed = writer.commit(batch, [], [], [])
    delivered = [r.id for r in committed.added if r.hook_id == hook][:10]
    writer.count(hook).delivered += 10
    writer.commit([], delivered, [], [])
    writer.discard_hook(removed)  # its rows leave without a counter: 'retired'
    writer.close()
    return queued


def rows_of(path: Path) -> list[tuple[str, int, int]]:
    db = connect(path, readonly=True)
    try:
        return db.execute("SELECT q.event_id, q.seq, q.id FROM queue q JOIN hooks h ON h.hook_id=q.hook_id "
                          "WHERE h.url=? ORDER BY q.id", (URL,)).fetchall()
    finally:
        db.close()


def evidence(path: Path) -> list[Path]:
    """The damaged files moved aside (their -wal and -shm not counted)."""
    return sorted(p for p in path.parent.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm")))


def test_a_healthy_spool_is_opened_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    make_spool(path, 50)
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is None and not evidence(path)
    assert len(rows_of(path)) == 50


def test_truncated_spool_recovers_the_readable_half_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    queued = make_spool(path, 4000)
    os.truncate(path, path.stat().st_size // 2)
    damaged = path.read_bytes()
    stats = Stats()
    opened = startup.open_spool(path, durable=True, stats=stats)
    report = opened.report
    assert report is not None and report.replaced and report.method in ("row by row and page scan", "sqlite3 .recover")
    rows = rows_of(path)
    writer = opened.writer
    assert 0 < len(rows) < len(queued) and report.events == len(rows)
    assert report.lost == len(queued) - len(rows)  # the file's own counters add up exactly here
    assert {(e, s) for e, s, _ in rows} <= set(queued) and len({e for e, _, _ in rows}) == len(rows)
    assert writer.next_seq > max(s for _, s in queued) and writer.next_row_id > max(i for _, _, i in rows)
    writer.close()
    (moved,) = evidence(path)
    assert moved.read_bytes() == damaged  # the evidence is kept as it was
    assert stats.get("spool_recoveries", "rebuilt") == 1
    assert stats.get("spool_recovered_events", report.method) == len(rows)
    assert stats.get("spool_lost_events", "corrupt") == report.lost


def test_garbage_over_the_header_recovers_everything(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    queued = make_spool(path, 500)
    with open(path, "r+b") as handle:
        handle.write(os.urandom(100))
    assert startup.diagnose(path) == spool_recovery.Problem(
        "corrupt", "its header is not an SQLite header (file is not a database)")
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is not None and opened.report.lost == 0
    assert [(e, s) for e, s, _ in rows_of(path)] == queued


def test_garbage_in_the_middle_skips_only_the_damaged_rows(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    queued = make_spool(path, 4000)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek((size // 2) // 4096 * 4096)
        handle.write(os.urandom(3 * 4096))  # three pages of the queue's b-tree
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    rows = rows_of(path)
    assert opened.report is not None and len(rows) > len(queued) // 2
    ids = [e for e, _, _ in rows]
    assert ids[-1] == queued[-1][0]  # read on past the damage, to the newest event
    assert len(set(ids)) == len(ids) and set(ids) <= {e for e, _ in queued}


def hooks_of(path: Path) -> list[tuple[str, int, int]]:
    db = connect(path, readonly=True)
    try:
        return db.execute("SELECT url, delivered, duplicates FROM hooks ORDER BY hook_id").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("damage", ["garbage over the header", "zeros over the first page"])
def test_a_spool_made_before_the_duplicates_column_is_recovered_with_its_counters(tmp_path: Path,
                                                                                 damage: str) -> None:
    """Spools older than NATS sinks lack hooks.duplicates: read without it (SQL and page scan), counters kept."""
    path = tmp_path / "spool.sqlite3"
    queued = make_spool(path, 300)
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE hooks DROP COLUMN duplicates")  # rewrites the rows without it, as an old spool held them
    db.execute("VACUUM")
    db.close()
    with open(path, "r+b") as handle:
        handle.write(os.urandom(100) if damage == "garbage over the header" else bytes(4096))
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is not None and opened.report.replaced
    assert [(e, s) for e, s, _ in rows_of(path)] == queued
    assert hooks_of(path) == [(URL, 10, 0)]  # the webhook and its delivered counter, duplicates 0


def test_a_schema_of_non_utf8_garbage_is_corruption_not_a_crash(tmp_path: Path) -> None:
    """Python cannot decode what SQLite says about such a schema: that too is a corrupt spool, recovered."""
    path = tmp_path / "spool.sqlite3"
    make_spool(path, 50)
    data = bytearray(path.read_bytes())
    where = data.find(b"CREATE TABLE hooks")
    assert 0 < where < 4096
    data[where + 7:where + 12] = b"\xb7\x86\x83\xd8\xff"  # inside the CREATE TABLE text of page 1
    path.write_bytes(bytes(data))
    problem = startup.diagnose(path)
    assert problem is not None and problem.cause == "corrupt"
    opened = startup.open_spool(path, durable=True)
    try:
        assert opened.report is not None and opened.report.replaced and not opened.memory_only
        hook = opened.writer.hook_id(URL)
        event = NewEvent("msg_new", opened.writer.take_seq(), "VOLUME_CREATE", 1, time.time(), b"{}")
        assert opened.writer.commit([(hook, event)], [], [], []).added[0].id > 0
    finally:
        opened.writer.close()


def test_a_folder_in_place_of_the_spool_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    path.mkdir()
    (path / "keep").write_text("evidence")
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is not None and opened.report.problem.cause == "not_a_file"
    (moved,) = evidence(path)
    assert (moved / "keep").read_text() == "evidence" and path.is_file()


@pytest.fixture
def immutable_spool(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "spool.sqlite3"
    make_spool(path, 20)
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {done.stderr.decode().strip()}")
    yield path
    subprocess.run(["chattr", "-i", str(path)], check=False)


def test_an_immutable_spool_is_left_untouched_and_events_wait_in_memory(immutable_spool: Path) -> None:
    path = immutable_spool
    before = path.read_bytes()
    assert startup.diagnose(path) == spool_recovery.Problem(
        "unwritable", "the file is immutable or append-only (chattr +i / +a)")
    stats = Stats()
    opened = startup.open_spool(path, durable=True, stats=stats)
    assert opened.memory_only and not opened.writer.durable
    opened.writer.commit([], [], [], [])  # works: counters only, in memory
    opened.writer.close()
    assert path.read_bytes() == before and not evidence(path)
    assert stats.get("spool_recoveries", "failed") == 1
    assert len(rows_of(path)) == 20  # its events wait there for the restart after the fix


def test_a_recovery_interrupted_by_a_crash_is_finished_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    queued = make_spool(path, 30)
    shutil.copyfile(path, path.with_name("spool.sqlite3.recovered"))  # built, then the crash before the renames
    os.rename(path, path.with_name("spool.sqlite3.corrupt-x"))
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is None and [(e, s) for e, s, _ in rows_of(path)] == queued
    assert not path.with_name("spool.sqlite3.recovered").exists()


def test_the_pipeline_floor_keeps_row_ids_and_sequence_numbers_going_up(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    make_spool(path, 100)
    os.truncate(path, 4096 * 3)  # everything past the first pages is gone, meta and sequences too
    floor = spool_recovery.Floor(next_row_id=5000, next_seq=7000, hooks={URL: 1, "http://new/": 9})
    report = spool_recovery.recover(path, spool_recovery.Problem("corrupt", "test"), floor)
    assert report.replaced
    writer = SpoolWriter(path)
    assert writer.next_row_id >= 5000 and writer.next_seq >= 7000
    assert writer.known_hooks() == {URL: 1, "http://new/": 9}
    assert writer.hook_id("http://another/") > 9  # a hook id in use is never handed out again
    writer.close()


def working_sqlite3_recover() -> bool:
    cli = shutil.which("sqlite3")
    if cli is None:
        return False
    done = subprocess.run([cli, ":memory:", ".recover"], capture_output=True, check=False, timeout=30)
    return done.returncode == 0


@pytest.mark.skipif(not working_sqlite3_recover(), reason="this machine's sqlite3 CLI cannot .recover (Debian 12's "
                                                          "lacks the sqlite_dbpage table); the row-by-row path runs")
def test_sqlite3_recover_is_used_where_it_works(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    queued = make_spool(path, 300)
    with open(path, "r+b") as handle:
        handle.write(os.urandom(100))
    opened = startup.open_spool(path, durable=True)
    opened.writer.close()
    assert opened.report is not None and opened.report.method == "sqlite3 .recover"
    assert [(e, s) for e, s, _ in rows_of(path)] == queued


def test_without_a_working_sqlite3_recover_the_reason_is_noted(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    make_spool(path, 10)
    os.truncate(path, path.stat().st_size - 4096)
    report = spool_recovery.recover(path, spool_recovery.Problem("corrupt", "test"))
    if report.method == "row by row":
        assert any("sqlite3" in note for note in report.notes), report.notes


# -- hypothesis: any damage to a real spool -----------------------------------------------------

@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="i10-files-spool-") as folder:
        path = Path(folder) / "spool.sqlite3"
        make_spool(path, 300, body_bytes=50)
        yield path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.lists(st.tuples(st.sampled_from(["garbage", "zeros", "truncate"]), st.integers(0, 200_000),
                                 st.integers(1, 9000)), min_size=1, max_size=4) | st.binary(max_size=300))
def test_any_damage_gives_a_working_spool(template: Path, damage: object) -> None:
    with tempfile.TemporaryDirectory(prefix="i10-files-damage-") as folder:
        path = Path(folder) / "spool.sqlite3"
        if isinstance(damage, bytes):
            data = bytearray(damage)
        else:
            data = bytearray(template.read_bytes())
            for kind, where, length in damage:  # type: ignore[attr-defined]
                where %= max(1, len(data))
                if kind == "truncate":
                    del data[where:]
                else:
                    data[where:where + length] = os.urandom(length) if kind == "garbage" else bytes(length)
        path.write_bytes(bytes(data))
        opened = startup.open_spool(path, durable=True)
        assert opened.report is None or not any("stopped" in note for note in opened.report.notes)
        try:
            hook = opened.writer.hook_id(URL)
            event = NewEvent("msg_new", opened.writer.take_seq(), "VOLUME_CREATE", 1, time.time(), b"{}")
            committed = opened.writer.commit([(hook, event)], [], [], [])
            assert committed.added[0].id > 0
        finally:
            opened.writer.close()
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            assert db.execute("PRAGMA quick_check").fetchall() == [("ok",)]
        finally:
            db.close()
