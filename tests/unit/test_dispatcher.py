"""The delivery loop of one webhook, run in-process against real local sockets."""

from __future__ import annotations

import socket
import threading
import time

from glustereventsd.dispatcher import WebhookDispatcher
from glustereventsd.models import Webhook
from glustereventsd.spool import Record
from glustereventsd.stats import RateLimitedLog, Stats
from glustereventsd.worker import HookQueue, ResultChannel, RetryPolicy


class FailingQueue(HookQueue):
    """A queue whose second take() raises, as an unforeseen bug would."""

    takes = 0

    def take(self) -> Record | None:
        self.takes += 1
        if self.takes == 2:
            raise RuntimeError("unforeseen")
        return super().take()


def record(seq: int) -> Record:
    return Record(0, 1, f"msg_{seq}", seq, "VOLUME_CREATE", 1, time.time(), b"{}")


def test_a_dispatcher_that_dies_ends_and_gives_its_events_back() -> None:
    """It must really end (is_alive False), so the pipeline starts a new one; nothing is lost."""
    with socket.socket() as silent:  # accepts, never answers: the first event stays in flight
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hook = Webhook(url=f"http://127.0.0.1:{silent.getsockname()[1]}/", timeout_secs=30)
        queue = FailingQueue(hook, 1, None, 100, 100)
        queue.offer([record(1), record(2)])
        stopping = threading.Event()
        dispatcher = WebhookDispatcher(queue, ResultChannel(100), RetryPolicy(), Stats(), RateLimitedLog(),
                                       stopping, concurrency=2)
        dispatcher.start()
        dispatcher.join(10)
        assert not dispatcher.is_alive()
        taken = []
        while (item := HookQueue.take(queue)) is not None:
            taken.append(item.seq)
        assert taken == [1, 2]  # the in-flight one first again, then the one never taken
        stopping.set()
