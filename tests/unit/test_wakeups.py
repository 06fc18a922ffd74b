"""What wakes a sleeping daemon (issue 21): the pipeline's doorbell, the main loop's, the intake bound."""

from __future__ import annotations

import os
import queue
import signal
import threading
import time

import pytest

from glustereventsd.base.intake import Intake
from glustereventsd.runtime.doorbell import ControlQueue, Doorbell
from glustereventsd.spool.acks import Delivered, ResultChannel


def test_a_result_rings_a_sleeping_pipeline_once_and_a_busy_one_never() -> None:
    rings: list[int] = []
    channel = ResultChannel(10)
    channel.set_doorbell(lambda: rings.append(1))
    channel.put(Delivered(1, 1))
    assert rings == []  # awake (busy): reporting wakes nobody
    assert not channel.going_to_sleep()  # a result waits: no sleeping
    channel.drain(10)
    assert channel.going_to_sleep()
    channel.put(Delivered(1, 2))
    channel.put(Delivered(1, 3))
    assert rings == [1]  # the first result rings, the next ones find it ringing
    channel.awake()
    channel.drain(10)
    assert channel.going_to_sleep()
    channel.nudge()  # counters to flush (a counted retry)
    channel.nudge()
    assert rings == [1, 1]
    channel.awake()
    channel.nudge()
    assert rings == [1, 1]


def test_the_intake_is_bounded_and_first_in_first_out() -> None:
    intake: Intake[int] = Intake(3)
    for n in range(3):
        intake.put_nowait(n)
    with pytest.raises(queue.Full):
        intake.put_nowait(3)
    assert intake.qsize() == 3 and not intake.empty()
    assert [intake.get_nowait() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(queue.Empty):
        intake.get(timeout=0.01)
    threading.Timer(0.05, intake.put_nowait, (7,)).start()
    assert intake.get(timeout=5) == 7  # a blocked get wakes for a put


def test_a_request_and_a_signal_ring_the_main_loop_at_once() -> None:
    bell = Doorbell()
    control = ControlQueue(bell, maxsize=4)
    try:
        start = time.monotonic()
        assert not bell.wait(0.05)  # nothing: the timeout
        assert time.monotonic() - start >= 0.04
        threading.Timer(0.05, control.put_nowait, ("reload",)).start()
        start = time.monotonic()
        assert bell.wait(5) and time.monotonic() - start < 2
        assert control.get_nowait() == "reload"
        flags: list[int] = []
        previous = signal.signal(signal.SIGUSR1, lambda signum, frame: flags.append(signum))
        bell.catch_signals()  # pytest runs this in the main thread
        try:
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            start = time.monotonic()
            assert bell.wait(5) and time.monotonic() - start < 2
            assert flags == [signal.SIGUSR1]  # the handler ran (it only sets a flag), and the wait woke
        finally:
            bell.release_signals()
            signal.signal(signal.SIGUSR1, previous)
    finally:
        bell.close()
