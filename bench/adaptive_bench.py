"""Benchmarks of issue 21: receivers slow, degrading, shedding and fast; and a daemon at rest.

The daemon runs as a real process (bench/daemon_bench.py's harness), the receiver as another
(bench/receiver.py, in the mode each workload names). Not a test: it asserts nothing, it
prints one line per figure.

- **slow**: each request answered after 200 ms; of 2,000 events sent at 500/s, how many are
  delivered within 30 s (a fixed limit of 8 in flight caps it at 8 x 5/s x 30 s = 1,200);
- **degrade**: a receiver with one worker, 20 ms per request, the rest queued: its response
  time grows with every request in flight. 2,000 events at 500/s; delivered/s, the receiver's
  own service time and queueing (p50/p99) and the most it had in flight;
- **shed**: at most 4 requests in service at once, 20 ms each; the fifth is answered 503 at
  once. The same figures and how many 503s;
- **fast**: a backlog drained by a receiver that answers at once (delivered/s, CPU per 1,000);
- **idle**: one webhook, nothing sent; context switches (voluntary + involuntary, every thread,
  /proc/PID/task/*/status) per second and CPU % over 30 s.

degrade, shed and fast run with the daemon's default limit and with fixed limits of 8 and 64
(``webhook-concurrency`` and the webhook's own ``concurrency`` both set to it).

    python -m bench.adaptive_bench                       # every workload
    python -m bench.adaptive_bench --only degrade,shed --quick
    python -m bench.adaptive_bench --only degrade --limits default,8
    python -m bench.compare --before ../main --only slow,degrade,shed,fast,idle   # before and after
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional

from bench.daemon_bench import (ReceiverProcess, bench_slow, bench_throughput, percentile, running, send,
                                switches_between, thread_switches)

LIMITS = ("default", "8", "64")  # the daemon's own choice, then fixed limits
SERVICE_SECS = 0.02  # degrade and shed: one request's service time at the receiver
SHED_LIMIT = 4  # shed: requests in service at once before it answers 503
SEND_COUNT = 2000
SEND_RATE = 500
IDLE_SETTLE_SECS = 3.0  # after the start, before counting: the daemon's start-up work is done


def fixed(limit: str) -> tuple[Optional[int], dict[str, object]]:
    """(webhook-concurrency, webhook entry keys) for a limit of LIMITS."""
    if limit == "default":
        return None, {}
    return int(limit), {"concurrency": int(limit)}


def ms(values: list[float], fraction: float) -> float:
    return round(percentile(values, fraction) * 1000, 1)


def bench_receiver_mode(mode: str, limit: str, window: float, spool: str = "disk") -> dict[str, object]:
    """SEND_COUNT events at SEND_RATE to a ``serial`` or ``limit`` receiver; what it saw within ``window`` s."""
    receiver = ReceiverProcess(mode=mode, service=SERVICE_SECS, limit=SHED_LIMIT).start()
    concurrency, hook = fixed(limit)
    try:
        with running(spool, receiver, concurrency, {"retry-max-backoff-secs": 2.0}, hook) as daemon:
            begin_wall, begin = time.time(), time.monotonic()
            send(daemon.port, SEND_COUNT, SEND_RATE)
            time.sleep(max(0.0, window - (time.monotonic() - begin)))
            timings = [t for t in receiver.timings() if t[2] <= begin_wall + window]
            max_in_flight, max_connections = receiver.max_in_flight(), receiver.max_connections()
    finally:
        receiver.stop()
    served = [t for t in timings if t[3] == 200]
    last = max((t[2] for t in served), default=begin_wall + window)
    return {"limit": limit, "delivered": len(served),
            "delivered_per_s": round(len(served) / max(0.001, last - begin_wall), 1),
            "status_503": sum(1 for t in timings if t[3] == 503),
            "service_p50_ms": ms([end - start for _, start, end, _ in served], 0.5),
            "service_p99_ms": ms([end - start for _, start, end, _ in served], 0.99),
            "queue_p50_ms": ms([start - arrived for arrived, start, _, _ in served], 0.5),
            "queue_p99_ms": ms([start - arrived for arrived, start, _, _ in served], 0.99),
            "response_p99_ms": ms([end - arrived for arrived, _, end, _ in served], 0.99),
            "receiver_max_in_flight": max_in_flight, "receiver_max_connections": max_connections,
            "window_s": window}


def bench_fast(limit: str, count: int, spool: str = "disk") -> dict[str, object]:
    """A backlog of ``count`` drained by a receiver that answers at once (bench_throughput)."""
    concurrency, _ = fixed(limit)  # bench_throughput sets the daemon-wide limit only: the webhook follows it
    return {"limit": limit, **bench_throughput(spool, count, concurrency)}


def bench_idle(secs: float, spool: str = "disk") -> dict[str, object]:
    """One webhook, nothing sent: wake-ups per second (all threads) and CPU % over ``secs``."""
    receiver = ReceiverProcess().start()
    try:
        with running(spool, receiver) as daemon:
            assert daemon.proc
            time.sleep(IDLE_SETTLE_SECS)
            before, cpu_before, begin = thread_switches(daemon.proc.pid), daemon.cpu(), time.monotonic()
            time.sleep(secs)
            per_thread = switches_between(before, thread_switches(daemon.proc.pid))
            elapsed, cpu = time.monotonic() - begin, daemon.cpu() - cpu_before
            return {"secs": round(elapsed, 1), "wakeups_per_s": round(sum(per_thread.values()) / elapsed, 2),
                    "cpu_pct": round(100 * cpu / elapsed, 3),
                    "per_thread_per_s": {name: round(n / elapsed, 2) for name, n in sorted(per_thread.items())}}
    finally:
        receiver.stop()


WORKLOADS = ("slow", "degrade", "shed", "fast", "idle")


def run_workload(name: str, spool: str, quick: bool, limits: tuple[str, ...] = LIMITS) -> None:
    """Run one workload of WORKLOADS and print its lines (daemon_bench --only and compare call this)."""
    window = 15.0 if quick else 30.0
    if name == "slow":
        print(f"slow       spool={spool}: {bench_slow(spool, 0.2, window)}", flush=True)
    elif name in ("degrade", "shed"):
        mode, what = (("serial", f"one at a time, {SERVICE_SECS * 1000:g} ms each") if name == "degrade" else
                      ("limit", f"503 past {SHED_LIMIT} at once, {SERVICE_SECS * 1000:g} ms each"))
        for limit in limits:
            print(f"{name:10} spool={spool}: {what}, {SEND_COUNT} at {SEND_RATE}/s: "
                  f"{bench_receiver_mode(mode, limit, window, spool)}", flush=True)
    elif name == "fast":
        for limit in limits:
            print(f"fast       spool={spool}: {bench_fast(limit, 20_000 if quick else 50_000, spool)}", flush=True)
    elif name == "idle":
        print(f"idle       spool={spool}: {bench_idle(10.0 if quick else 30.0, spool)}", flush=True)
    else:
        raise SystemExit(f"unknown workload {name!r}: choose from {', '.join(WORKLOADS)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="15 s windows instead of 30, 10 s idle, smaller backlog")
    parser.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated: {','.join(WORKLOADS)}")
    parser.add_argument("--limits", default=",".join(LIMITS), help="degrade, shed and fast: default and/or numbers")
    parser.add_argument("--spool", default="disk")
    args = parser.parse_args()
    limits = tuple(filter(None, args.limits.split(",")))
    for limit in limits:
        if limit != "default" and not (limit.isdigit() and 1 <= int(limit) <= 64):
            parser.error(f"--limits: {limit!r} is neither 'default' nor a number from 1 to 64")
    print(f"# glustereventsd issue-21 benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name in filter(None, args.only.split(",")):
        run_workload(name, args.spool, args.quick, limits)
    return 0


if __name__ == "__main__":
    sys.exit(main())
