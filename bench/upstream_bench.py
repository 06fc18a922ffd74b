"""Gluster's own glustereventsd against ours: same harness, same run, same receiver.

Drives ``/usr/sbin/glustereventsd`` (the distribution's package, run as it is in private
mount and PID namespaces: bench/upstream.py; needs root) and ours (bench/daemon_bench.py's
process, spool on disk) in turn, through the same workloads:

- **burst**: 20,000 datagrams as fast as one Python sender goes; how many are lost;
- **steady**: 2,000 events/s for 10 s; send-to-webhook latency p50/p99, and daemon CPU per
  1,000 events delivered (every process of the daemon, from the first send to the last arrival);
- **outage**: 1,001 events at 1,000/s while the webhook is down, then it comes up; how many
  it gets in the next 60 s.

Not a test: it asserts nothing and prints one line per figure, then a table. Figures on a
shared machine are noisy; compare the two daemons of one run, not runs of different days.

    sudo python -m bench.upstream_bench            # both daemons, every workload
    sudo python -m bench.upstream_bench --quick    # 5 s of steady load instead of 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from bench.daemon_bench import ReceiverProcess, free_port, percentile, running, send, unique, wait_count
from bench.upstream import UpstreamDaemon, available

NODEID = "6a1e0c2d-4f67-4c33-9d0b-0b1ce1f00d11"
BURST = 20_000
RATE = 2_000
OUTAGE_EVENTS = 1_001
OUTAGE_RATE = 1_000
OUTAGE_WAIT_SECS = 60


# A daemon under test: a context manager yielding an object with ``port`` and ``cpu()``.
Launcher = Callable[[ReceiverProcess], AbstractContextManager[Any]]


@contextmanager
def ours(receiver: ReceiverProcess) -> Iterator[Any]:
    with running("disk", receiver) as daemon:
        yield daemon


@contextmanager
def theirs(receiver: ReceiverProcess) -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="gevbench-upstream-") as folder:
        daemon = UpstreamDaemon(Path(folder), free_port(), {receiver.url: {"token": "bench-token", "secret": ""}},
                                NODEID).start()
        try:
            yield daemon
        finally:
            daemon.stop()


def burst(launch: Launcher, count: int = BURST) -> dict[str, object]:
    receiver = ReceiverProcess().start()
    try:
        with launch(receiver) as daemon:
            send(daemon.port, count)
            got = wait_count(receiver, count, 180, idle=10)
            delivered = len(unique(receiver.arrivals()))
            return {"sent": count, "delivered": delivered, "lost": count - delivered,
                    "lost_pct": round(100 * (count - delivered) / count, 1), "got": got}
    finally:
        receiver.stop()


def steady(launch: Launcher, rate: int, secs: float) -> dict[str, object]:
    receiver = ReceiverProcess().start()
    try:
        with launch(receiver) as daemon:
            count = int(rate * secs)
            cpu_before = daemon.cpu()
            sent = send(daemon.port, count, rate)
            wait_count(receiver, count, 300, idle=10)
            cpu = daemon.cpu() - cpu_before
            arrivals = unique(receiver.arrivals())
            latencies = [(arrivals[i] - sent[i]) * 1000 for i in range(count) if i in arrivals]
            return {"sent": count, "delivered": len(arrivals), "lost": count - len(arrivals),
                    "p50_ms": round(percentile(latencies, 0.50), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
                    "cpu_s_per_1000": round(cpu / max(1, len(arrivals)) * 1000, 3)}
    finally:
        receiver.stop()


def outage(launch: Launcher, count: int = OUTAGE_EVENTS) -> dict[str, object]:
    receiver = ReceiverProcess()  # not started: connection refused while the events arrive
    try:
        with launch(receiver) as daemon:
            send(daemon.port, count, OUTAGE_RATE)
            time.sleep(0.5)
            receiver.start()
            begin = time.monotonic()
            got = wait_count(receiver, count, OUTAGE_WAIT_SECS, idle=20)
            return {"sent_while_down": count, "delivered": len(unique(receiver.arrivals())),
                    "secs_after_up": round(time.monotonic() - begin, 1), "got": got}
    finally:
        receiver.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 s of steady load instead of 10")
    args = parser.parse_args()
    reason = available()
    if reason:
        print(f"cannot run Gluster's own daemon here: {reason}", file=sys.stderr)
        return 1
    secs = 5 if args.quick else 10
    print(f"# Gluster's own glustereventsd vs ours, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    results: dict[str, dict[str, dict[str, object]]] = {}
    for name, launch in (("upstream", theirs), ("ours", ours)):
        found = results[name] = {}
        found["burst"] = burst(launch)
        print(f"{name:8} burst  {found['burst']}", flush=True)
        found["steady"] = steady(launch, RATE, secs)
        print(f"{name:8} steady {RATE}/s for {secs}s {found['steady']}", flush=True)
        found["outage"] = outage(launch)
        print(f"{name:8} outage {found['outage']}", flush=True)
    up, we = results["upstream"], results["ours"]
    print()
    print("| workload | Gluster's own glustereventsd | this glustereventsd |")
    print("| --- | --- | --- |")
    print(f"| events lost on a burst of {BURST:,} | {up['burst']['lost_pct']}% | {we['burst']['lost_pct']}% |")
    print(f"| send-to-webhook p99 at {RATE:,}/s | {up['steady']['p99_ms']} ms | {we['steady']['p99_ms']} ms |")
    print(f"| events kept of {OUTAGE_EVENTS:,} sent while the webhook was down | {up['outage']['delivered']} | "
          f"{we['outage']['delivered']} |")
    print(f"| CPU per 1,000 events (at {RATE:,}/s) | {up['steady']['cpu_s_per_1000']} s | "
          f"{we['steady']['cpu_s_per_1000']} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
