"""NATS sink benchmark: events/s into an R1 and an R3 JetStream stream, live at 2,000/s and as a burst, daemon CPU.

Runs glustereventsd as a real process with one NATS sink, Debian's nats-server (one server
for R1, a 3-node cluster on 127.0.0.1 for R3) and one Python sender, all on this machine;
what was stored is read back with a JetStream consumer. Prints one line per figure. Not a
test: it asserts nothing, it measures.

    python -m bench.nats_bench                 # R1 and R3, 2,000/s for 10 s and a burst of 20,000
    python -m bench.nats_bench --quick         # shorter runs
    python -m bench.nats_bench --concurrency 32

- ``delivered_while_sending``: stored by the time the sender sent its last event.
- ``stored_per_s``: events stored over the time from the first send to the last store.
- ``p50_ms``/``p99_ms``: from an event's send to its storage in the stream (the stream's own
  timestamp; one clock, this machine's).
- ``cpu_s_per_1000``: the daemon's user+system CPU over the run, per 1,000 events stored.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.daemon_bench import REPO, Daemon, percentile, send

sys.path.insert(0, str(REPO))
from tests import nats as natstest  # noqa: E402

PREFIX = "gluster.events"
STREAM = "GLUSTER_EVENTS"


def _wait_stored(servers: list[str], want: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    stored = 0
    while time.monotonic() < deadline:
        stored = int(natstest.stream_info(servers, STREAM).state.messages)
        if stored >= want:
            break
        time.sleep(0.2)
    return stored


def bench(replicas: int, count: int, rate: float, concurrency: int | None) -> dict[str, object]:
    """Send ``count`` events at ``rate`` (0: as fast as one sender can) to a sink on an R``replicas`` stream."""
    with tempfile.TemporaryDirectory(prefix="gevbench-nats-") as scratch:
        folder = Path(scratch)
        cluster = natstest.NatsCluster(folder / "cluster", size=3) if replicas > 1 else None
        servers_up = cluster.start().servers if cluster else [natstest.NatsServer(folder / "nats").start()]
        servers = [server.url for server in servers_up]
        try:
            natstest.add_stream(servers, STREAM, [f"{PREFIX}.>"], replicas=replicas)
            sink = "nats://" + ",".join(server.address for server in servers_up) + f"/{PREFIX}"
            config: dict[str, object] = {"spool": "disk", "disable-events-log": False}
            if concurrency:
                config["webhook-concurrency"] = concurrency
            daemon = Daemon(folder / "node", {sink: {}}, config).start()
            try:
                cpu_before = daemon.cpu()
                sent = send(daemon.port, count, rate)
                while_sending = int(natstest.stream_info(servers, STREAM).state.messages)
                stored_count = _wait_stored(servers, count, 180)
                cpu = daemon.cpu() - cpu_before
                stored = natstest.read_stream(servers, STREAM, timeout=120)
            finally:
                daemon.stop()
        finally:
            for server in servers_up:
                server.kill()
    by_index = {}
    for message in stored:
        index = int(message.json()["message"]["name"][1:])
        by_index.setdefault(index, message.stored_at)
    latencies = [(by_index[i] - sent[i]) * 1000 for i in range(count) if i in by_index]
    last = max(by_index.values(), default=sent[-1])
    return {"stream": f"R{replicas}", "sent": count, "sent_per_s": round(count / max(1e-9, sent[-1] - sent[0])),
            "stored": stored_count, "distinct": len(by_index), "delivered_while_sending": while_sending,
            "stored_per_s": round(len(by_index) / max(1e-9, last - sent[0])),
            "p50_ms": round(percentile(latencies, 0.50), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "cpu_s_per_1000": round(cpu / max(1, len(by_index)) * 1000, 3),
            "rss_peak_mb": round(daemon.rss_peak, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--replicas", default="1,3", help="stream replicas to measure (1, 3 or both)")
    parser.add_argument("--concurrency", type=int, default=0, help="publications awaiting their PubAck per sink "
                        "(default: the daemon's webhook-concurrency, 8)")
    args = parser.parse_args()
    secs = 4 if args.quick else 10
    burst = 5_000 if args.quick else 20_000
    print(f"# NATS sink benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
          f"concurrency {args.concurrency or 'default'}")
    for replicas in (int(r) for r in args.replicas.split(",")):
        print(f"live   R{replicas}: 2000/s for {secs}s {bench(replicas, 2000 * secs, 2000, args.concurrency)}",
              flush=True)
        print(f"burst  R{replicas}: {burst} events {bench(replicas, burst, 0, args.concurrency)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
