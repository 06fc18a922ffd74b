"""The floor: the least CPU a Python process spends per event at a steady rate, doing the least
an events daemon must (receive, commit, POST, delete), beside the real daemon in one run.

Issue 21 asks for 0.08 s of CPU per 1,000 events at 2,000/s. This measures what that asks of
Python on this machine. The stand-in (``--serve``, its own process) is one thread with no
locks, queues or hand-overs: one ``select`` over its UDP socket and one keep-alive connection
to the benchmark receiver (bench/receiver.py); on each wake-up it reads every datagram waiting,
commits them to an SQLite WAL file (``synchronous=NORMAL``, as the daemon's spool) with the
deletes of the events answered since, then POSTs each event, one in flight, as HTTP/1.1 with a
small JSON body. No parsing, no JWT, no events.log, no retries, no metrics: it does less than
the daemon, so its CPU is a lower bound for any Python daemon that keeps every event on disk
before it sends it. Both are driven by daemon_bench's paced sender and measured the same way
(CPU of the process from the first send to the last arrival; p50 and p99 send-to-receiver).

    python -m bench.floor_bench              # 2,000/s for 10 s, three rounds, both side by side
    python -m bench.floor_bench --rounds 1 --rate 1000
"""

from __future__ import annotations

import argparse
import collections
import os
import selectors
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.daemon_bench import (ReceiverProcess, cpu_secs, free_port, percentile, running, send, unique,
                                wait_count)

HEAD = "POST /listen HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n"


def serve(udp_port: int, database: str, receiver_port: int) -> None:
    """The stand-in: runs until its stdin closes (see the module docstring)."""
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, body BLOB)")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("127.0.0.1", udp_port))
    udp.setblocking(False)
    http = socket.create_connection(("127.0.0.1", receiver_port), timeout=10)
    http.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    http.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(udp, selectors.EVENT_READ, "udp")
    selector.register(http, selectors.EVENT_READ, "http")
    selector.register(sys.stdin, selectors.EVENT_READ, "stop")
    waiting: collections.deque[tuple[int, bytes]] = collections.deque()  # (id, body): committed, not yet sent
    in_flight: int | None = None
    answered: list[tuple[int]] = []
    answer = b""
    next_id = 0
    print("ready", flush=True)
    while True:
        for key, _ in selector.select(30):
            if key.data == "stop":
                return
            if key.data == "udp":
                rows = []
                try:
                    while True:
                        data = udp.recv(65536)
                        _, _, text = data.split(b" ", 2)
                        next_id += 1
                        rows.append((next_id, b'{"name": "%s", "ts": %d}' % (text.split(b"=", 1)[1],
                                                                            int(time.time()))))
                except BlockingIOError:
                    pass
                db.execute("BEGIN")
                db.executemany("INSERT INTO q (id, body) VALUES (?, ?)", rows)
                db.executemany("DELETE FROM q WHERE id = ?", answered)
                db.execute("COMMIT")
                answered = []
                waiting.extend(rows)
            else:
                answer += http.recv(65536)
                end = answer.find(b"\r\n\r\n")
                if end < 0:
                    continue
                length = int(answer[:end].lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                answer = answer[end + 4 + length:]
                assert in_flight is not None
                answered.append((in_flight,))
                in_flight = None
        if in_flight is None and waiting:
            in_flight, body = waiting.popleft()
            http.sendall(HEAD.format(len(body)).encode() + body)


def measure_floor(rate: float, secs: float) -> dict[str, object]:
    """The stand-in at ``rate`` for ``secs``: figures as daemon_bench's steady workload."""
    receiver = ReceiverProcess().start()
    try:
        with tempfile.TemporaryDirectory(prefix="gevfloor-") as folder:
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "bench.floor_bench", "--serve", str(port),
                                     str(Path(folder) / "q.db"), str(receiver.port)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            try:
                assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
                return _measure(proc.pid, port, receiver, rate, secs)
            finally:
                if proc.stdin:
                    proc.stdin.close()
                proc.wait(10)
    finally:
        receiver.stop()


def measure_daemon(rate: float, secs: float) -> dict[str, object]:
    """The real daemon (this checkout's), disk spool, one webhook: the same figures."""
    receiver = ReceiverProcess().start()
    try:
        with running("disk", receiver) as daemon:
            assert daemon.proc
            return _measure(daemon.proc.pid, daemon.port, receiver, rate, secs)
    finally:
        receiver.stop()


def _measure(pid: int, port: int, receiver: ReceiverProcess, rate: float, secs: float) -> dict[str, object]:
    count = int(rate * secs)
    cpu_before = cpu_secs(pid)
    sent = send(port, count, rate)
    wait_count(receiver, count, 60)
    cpu = cpu_secs(pid) - cpu_before
    arrivals = unique(receiver.arrivals())
    latencies = [(arrivals[i] - sent[i]) * 1000 for i in range(count) if i in arrivals]
    return {"lost": count - len(arrivals), "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "cpu_s_per_1000": round(cpu / max(1, len(arrivals)) * 1000, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--secs", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", nargs=3, metavar=("UDP_PORT", "DATABASE", "RECEIVER_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1], int(args.serve[2]))
        return
    print(f"# {args.rate:g}/s for {args.secs:g} s, {os.cpu_count()} CPUs; alternating rounds")
    for _ in range(args.rounds):
        print(f"floor  (one Python thread: recv, commit, POST, delete) {measure_floor(args.rate, args.secs)}", flush=True)
        print(f"daemon (glustereventsd, disk spool)                    {measure_daemon(args.rate, args.secs)}", flush=True)


if __name__ == "__main__":
    main()
