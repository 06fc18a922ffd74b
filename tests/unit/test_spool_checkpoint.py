"""The spool's checkpoints run in a thread of their own, after commits, and never in a commit (issue 21)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from glustereventsd.models import NewEvent
from glustereventsd.spool import checkpoint
from glustereventsd.spool.checkpoint import Checkpointer
from glustereventsd.spool.writer import SpoolWriter


def fill(writer: SpoolWriter, count: int) -> None:
    hook = writer.hook_id("http://a/")
    body = b"x" * 1000
    for start in range(0, count, 100):
        writer.commit([(hook, NewEvent(f"e{i}", writer.take_seq(), "VOLUME_CREATE", 1, 1.0, body))
                       for i in range(start, start + 100)], [], [], [])


def wait_until(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def switches(thread: threading.Thread) -> int:
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return sum(int(line.split()[1]) for line in status.splitlines() if line.endswith("ctxt_switches") or
               "ctxt_switches:" in line)


def test_commits_reach_the_file_by_the_thread_not_by_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer = SpoolWriter(path)
    empty = path.stat().st_size
    fill(writer, 600)  # ~600 KB: past nothing SQLite would checkpoint on its own below SAFETY_NET_PAGES
    assert path.stat().st_size == empty, "a commit checkpointed inline"
    assert Path(f"{path}-wal").stat().st_size > 600_000
    assert wait_until(lambda: path.stat().st_size > 600_000, checkpoint.CHECKPOINT_SECS + 5), \
        "the checkpoint thread did not copy the WAL into the file"
    writer.close()


def test_close_checkpoints_at_once_and_ends_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer = SpoolWriter(path)
    thread = writer._checkpointer._thread  # type: ignore[union-attr]
    fill(writer, 300)
    began = time.monotonic()
    writer.close()
    assert time.monotonic() - began < checkpoint.CHECKPOINT_SECS  # the gathering wait is cut short
    assert not thread.is_alive()
    assert path.stat().st_size > 300_000


def test_a_quiet_spool_leaves_the_thread_asleep(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "spool.sqlite3")
    fill(writer, 100)
    thread = writer._checkpointer._thread  # type: ignore[union-attr]
    assert wait_until(lambda: not writer._checkpointer._due.is_set(), 5)  # type: ignore[union-attr]
    time.sleep(0.3)  # the checkpoint itself finishes
    before = switches(thread)
    time.sleep(1.5)
    assert switches(thread) == before, "the checkpoint thread woke with nothing committed"
    writer.close()


class Captured(logging.Handler):
    """The records of one logger, whatever an earlier test did to propagation or levels."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_no_spool_is_made_where_there_is_none_and_the_failure_is_said_once(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "spool.sqlite3"
    captured = Captured()
    logger = logging.getLogger("glustereventsd.spool")
    logger.addHandler(captured)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        checkpointer = Checkpointer(missing, interval=0.05)
        checkpointer.start()
        for _ in range(3):
            checkpointer.due()
            time.sleep(0.2)
        checkpointer.close()
    finally:
        logger.removeHandler(captured)
        logger.setLevel(level)
    assert not missing.exists() and not missing.parent.exists()
    warnings = [m for m in captured.messages if "Could not checkpoint" in m]
    assert len(warnings) == 1 and str(missing) in warnings[0]


def test_the_memory_spool_has_no_checkpoint_thread(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "spool.sqlite3", durable=False)
    assert writer._checkpointer is None
    writer.close()
