"""A daemon with nothing to do sleeps (issue 21): it waits on its sockets, queues and timers.

Counted as the issue counts it: voluntary plus involuntary context switches of every
thread (``/proc/PID/task/*/status``) while one webhook is registered and nothing is sent.
The goal is at most 2 a second (``python -m bench.adaptive_bench --only idle`` gives the
figure over 30 s); the bound here is generous so that a loaded machine does not fail it,
and still far below the 27 a second of the old short polls. Then it is shown awake: an
event sent after the quiet spell is delivered at once, and a stop is obeyed at once.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers import DaemonProcess, Receiver, send_lines, wait_for

SETTLE_SECS = 3.0  # start-up work done
MEASURE_SECS = 10.0
BOUND_PER_SEC = 5.0


def switches(pid: int) -> dict[int, tuple[str, int]]:
    """Per thread: (name, voluntary + involuntary context switches so far)."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            count = sum(int(line.split()[1]) for line in (task / "status").read_text().splitlines()
                        if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")))
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(task.name)] = (name, count)
    return found


def test_an_idle_daemon_sleeps_and_still_answers_at_once(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_lines(daemon.port, [b"1468303352 2 name=first"])
    wait_for(lambda: receiver.count() == 1, what="the first event")  # a driver and its connection exist
    assert daemon.proc is not None
    time.sleep(SETTLE_SECS)
    before, begin = switches(daemon.proc.pid), time.monotonic()
    time.sleep(MEASURE_SECS)
    after, elapsed = switches(daemon.proc.pid), time.monotonic() - begin
    per_thread: dict[str, int] = {}
    for tid, (name, count) in after.items():
        per_thread[name] = per_thread.get(name, 0) + count - before.get(tid, (name, 0))[1]
    rate = sum(per_thread.values()) / elapsed
    assert rate <= BOUND_PER_SEC, f"{rate:.1f} wake-ups/s: {per_thread}"
    start = time.monotonic()
    send_lines(daemon.port, [b"1468303352 2 name=after-the-quiet"])
    wait_for(lambda: receiver.count() == 2, timeout=5, what="an event after the quiet spell")
    assert time.monotonic() - start < 1.0  # not held until some poll's next turn
    start = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - start < 3.0  # SIGTERM wakes the main loop (and the UDP threads) at once
