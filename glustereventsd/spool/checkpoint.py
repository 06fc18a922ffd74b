"""The spool's checkpoints, off the commit path: a thread of their own copies the WAL into the file.

In WAL mode SQLite copies the log back into the database file (a checkpoint: the copy and two
fsyncs) inside whichever commit takes the log past 1,000 pages. That commit, and every event
waiting on it, then waits for the disk: at 2,000 events/s this was most of the latency tail
(``python -m bench.daemon_bench --only steady``: p99 5.8 to 33.6 ms with checkpoints inline,
2.7 to 5.9 ms with them here). So the writer turns automatic checkpoints down to a safety net
(``SAFETY_NET_PAGES``, reached only if this thread falls far behind) and calls ``due`` after
each commit. The thread sleeps while nothing is committed (no timer: a quiet daemon stays
asleep), lets commits gather for ``CHECKPOINT_SECS``, and runs a PASSIVE checkpoint on its own
connection, which never blocks the writer or a reader.

Durability: with ``synchronous=NORMAL`` a commit is in the WAL (it survives the daemon
being killed) and reaches the disk itself at the next checkpoint. Checkpoints now follow
commits within about ``CHECKPOINT_SECS``; before, a quiet spool's commits could wait for a
thousand pages of later ones.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

from glustereventsd.base.threadname import name_os_thread
from glustereventsd.spool.db import connect

log = logging.getLogger("glustereventsd.spool")

CHECKPOINT_SECS = 1.0
SAFETY_NET_PAGES = 16_000  # SQLite's own checkpoint, in the commit, past this many WAL pages (64 MB)


class Checkpointer:
    """Runs PASSIVE checkpoints of one spool file, in its own thread, after commits (see the module docstring).

    The writer's thread calls ``due`` (cheap: a flag test once it is set) and ``close``; the
    checkpoint thread owns its connection.
    """

    def __init__(self, path: Path, interval: float = CHECKPOINT_SECS) -> None:
        self.path = path
        self.interval = interval
        self._due = threading.Event()
        self._closing = threading.Event()
        self._failing = False  # the last checkpoint failed (logged once until one succeeds)
        self._thread = threading.Thread(target=self._run, name="checkpoint", daemon=True)

    def start(self) -> None:
        """Start the thread (it sleeps until the first ``due``)."""
        self._thread.start()

    def due(self) -> None:
        """A commit added to the WAL: checkpoint within ``interval`` (any thread; never blocks)."""
        if not self._due.is_set():
            self._due.set()

    def close(self, timeout: float = 5.0) -> None:
        """Checkpoint what is due now, then end the thread (waits up to ``timeout`` seconds)."""
        self._closing.set()
        self._due.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        name_os_thread("gev-checkpoint")
        db: sqlite3.Connection | None = None
        try:
            while True:
                self._due.wait()
                self._closing.wait(self.interval)  # let commits gather; a close cuts it short
                self._due.clear()
                db = self._checkpoint(db)
                if self._closing.is_set():
                    return
        except Exception:  # noqa: BLE001 - the writer's safety net checkpoints from now on
            log.exception("The spool's checkpoint thread stopped; SQLite checkpoints in the commits from now on")
        finally:
            if db is not None:
                db.close()

    def _checkpoint(self, db: sqlite3.Connection | None) -> sqlite3.Connection | None:
        """One PASSIVE checkpoint; an error is logged (once per streak) and the connection reopened next time."""
        try:
            if db is None:
                db = connect(self.path, create=False)
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as err:
            if not self._failing:
                log.warning("Could not checkpoint the spool (the WAL file grows until it can) path=%s error=%s",
                            self.path, err)
            self._failing = True
            if db is not None:
                db.close()
            return None
        if self._failing:
            log.info("Spool checkpoints work again path=%s", self.path)
        self._failing = False
        return db
