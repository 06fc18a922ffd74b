"""The intake queue: datagrams from the UDP threads to the pipeline, bounded, on ``queue.SimpleQueue``.

``queue.Queue`` does its locking in Python (a mutex and two conditions per call): at
2,000 events a second a quarter of the pipeline thread's CPU went to its ``get`` and a good
part of each UDP thread's to its ``put``. ``SimpleQueue`` does the same in C. It has no
bound of its own, so ``put_nowait`` checks the size first; with one producer per socket the
bound holds to within the number of sockets (two), which is what a bound is for here: the
memory of a pipeline that cannot keep up stays capped, and the newest datagrams are dropped
and counted.
"""

from __future__ import annotations

import queue
from collections.abc import Callable
from typing import Generic, Optional, TypeVar

T = TypeVar("T")


class Intake(Generic[T]):
    """A bounded FIFO with ``queue.Queue``'s calls that the sources and the pipeline use."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._queue: queue.SimpleQueue[T] = queue.SimpleQueue()
        # The C methods themselves, not wrappers: these are called once per datagram.
        self.get: Callable[..., T] = self._queue.get  # (block=True, timeout=None); raises queue.Empty
        self.get_nowait: Callable[[], T] = self._queue.get_nowait
        self.qsize: Callable[[], int] = self._queue.qsize
        self.empty: Callable[[], bool] = self._queue.empty
        self._put: Callable[[T], None] = self._queue.put_nowait

    def put_nowait(self, item: T) -> None:
        """Add ``item``; raise ``queue.Full`` when ``maxsize`` items wait."""
        if self._queue.qsize() >= self.maxsize:
            raise queue.Full
        self._put(item)

    def put(self, item: T, block: bool = True, timeout: Optional[float] = None) -> None:
        """As ``put_nowait`` (never waits: a full intake drops, it does not block a receiving thread)."""
        self.put_nowait(item)
