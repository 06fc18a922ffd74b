"""What delivery tells the spool: a record delivered (delete it) or dead (move it), over a bounded channel.

Counters (delivered, retried, last error...) do not travel here: each webhook's ``Outlet``
keeps its own, and the committer takes them with each commit.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import NamedTuple, Union

from glustereventsd.spool.records import Record


class Delivered(NamedTuple):
    """A record the webhook accepted: delete it from the spool."""

    hook_id: int
    record_id: int


class Dead(NamedTuple):
    """A record that will never be delivered: move it to the dead letters."""

    record: Record
    reason: str


Result = Union[Delivered, Dead]


class ResultChannel:
    """Delivery results, from the delivery loop to the pipeline thread; bounded.

    ``collections.deque`` appends and pops are atomic in CPython, so reporting a result
    takes no lock and wakes nobody while the pipeline is busy: it drains the channel every
    turn (at most a commit wait apart). Measured, ``queue.Queue.put`` (a lock and a
    condition) was a tenth of the GIL time of delivery. The bound holds because the reporter
    waits while it is full.

    A pipeline with nothing to do sleeps (``going_to_sleep``) until data comes, or until a
    result or ``nudge`` rings its doorbell: only then does reporting wake anyone.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: collections.deque[Result] = collections.deque()
        self._asleep = False  # the pipeline sleeps: the next result or nudge rings the doorbell
        self._doorbell: Callable[[], None] = _nothing

    def set_doorbell(self, ring: Callable[[], None]) -> None:
        """How to wake the sleeping pipeline (any thread; it must not block)."""
        self._doorbell = ring

    def going_to_sleep(self) -> bool:
        """The pipeline is about to sleep: True when it may (no result waits), and then the next
        result or ``nudge`` rings the doorbell. ``awake`` when it woke up."""
        self._asleep = True
        if self._items:  # came in meanwhile
            self._asleep = False
            return False
        return True

    def awake(self) -> None:
        """The pipeline is awake again: reporting rings no doorbell."""
        self._asleep = False

    def nudge(self) -> None:
        """Wake the pipeline if it sleeps (any thread): it has work besides results (counters to flush)."""
        if self._asleep:
            self._asleep = False
            self._doorbell()

    def put(self, result: Result, stopping: threading.Event | None = None, wait_secs: float = 5.0) -> bool:
        """Add ``result``, waiting while full (at most ``wait_secs`` once stopping); False if not added.

        A result not added leaves its record in the spool: it is delivered again after a
        restart, never lost.
        """
        deadline = time.monotonic() + wait_secs
        while len(self._items) >= self.limit:
            if stopping is not None and stopping.is_set() and time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        self._items.append(result)
        if self._asleep:
            self.nudge()
        return True

    def drain(self, limit: int) -> list[Result]:
        """Take up to ``limit`` results, oldest first."""
        taken: list[Result] = []
        pop = self._items.popleft
        try:
            while len(taken) < limit:
                taken.append(pop())
        except IndexError:
            pass
        return taken

    def __len__(self) -> int:
        return len(self._items)


def _nothing() -> None:
    """The doorbell before the pipeline sets one."""
