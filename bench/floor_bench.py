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

``--threads 2`` and ``3`` give the stand-in the daemon's hand-overs: the POSTs in a thread of
their own, woken by a byte on a socket pair after each commit (2), and the datagrams received
by a third thread into a ``SimpleQueue`` (3, the daemon's shape): what threads alone cost.

    python -m bench.floor_bench              # 2,000/s for 10 s, three rounds, both side by side
    python -m bench.floor_bench --rounds 1 --rate 1000 --threads 1,3
"""

from __future__ import annotations

import argparse
import collections
import os
import queue
import selectors
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.daemon_bench import (ReceiverProcess, cpu_secs, free_port, percentile, running, send, unique,
                                wait_count)

SHAPES = {1: "one thread: recv, commit, POST, delete", 2: "two threads: + a POST thread",
          3: "three threads: + a UDP thread, the daemon's shape"}
HEAD = "POST /listen HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n"


def serve(udp_port: int, database: str, receiver_port: int) -> None:
    """The stand-in in one thread (see the module docstring); runs until its stdin closes."""
    db, udp, http = _open(udp_port, database, receiver_port)
    udp.setblocking(False)
    poster = _Poster(http)
    selector = selectors.DefaultSelector()
    selector.register(udp, selectors.EVENT_READ, "udp")
    selector.register(http, selectors.EVENT_READ, "http")
    selector.register(sys.stdin, selectors.EVENT_READ, "stop")
    next_id = 0
    print("ready", flush=True)
    while True:
        for key, _ in selector.select(30):
            if key.data == "stop":
                return
            if key.data == "http":
                poster.on_readable()
                continue
            rows = []
            try:
                while True:
                    next_id += 1
                    rows.append(_row(next_id, udp.recv(65536)))
            except BlockingIOError:
                next_id -= 1
            _commit(db, rows, poster.answered)
            poster.waiting.extend(rows)
        poster.send_next()


def _open(udp_port: int, database: str, receiver_port: int) -> tuple[sqlite3.Connection, socket.socket, socket.socket]:
    """The stand-in's spool, UDP socket and keep-alive connection to the receiver."""
    db = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS q (id INTEGER PRIMARY KEY, body BLOB)")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("127.0.0.1", udp_port))
    http = socket.create_connection(("127.0.0.1", receiver_port), timeout=10)
    http.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    http.setblocking(False)
    return db, udp, http


def _commit(db: sqlite3.Connection, rows: list[tuple[int, bytes]], answered: collections.deque[tuple[int]]) -> None:
    """One transaction: the new events, and the deletes of those answered since the last one."""
    acks = []
    while answered:  # popleft: the POST thread may append meanwhile
        acks.append(answered.popleft())
    db.execute("BEGIN")
    db.executemany("INSERT INTO q (id, body) VALUES (?, ?)", rows)
    db.executemany("DELETE FROM q WHERE id = ?", acks)
    db.execute("COMMIT")


def _row(next_id: int, datagram: bytes) -> tuple[int, bytes]:
    """(id, JSON body) of a datagram "TS 2 name=vN": the body names vN for the receiver."""
    name = datagram.split(b" ", 2)[2].split(b"=", 1)[1]
    return next_id, b'{"name": "%s", "ts": %d}' % (name, int(time.time()))


class _Poster:
    """POSTs each committed event, one in flight, on one keep-alive connection; reads the answers."""

    def __init__(self, http: socket.socket) -> None:
        self.http = http
        self.waiting: collections.deque[tuple[int, bytes]] = collections.deque()  # committed, not yet sent
        self.in_flight: int | None = None
        self.answered: collections.deque[tuple[int]] = collections.deque()  # ids to delete at the next commit
        self._answer = b""

    def on_readable(self) -> None:
        self._answer += self.http.recv(65536)
        end = self._answer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = int(self._answer[:end].lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
        self._answer = self._answer[end + 4 + length:]
        assert self.in_flight is not None
        self.answered.append((self.in_flight,))
        self.in_flight = None

    def send_next(self) -> None:
        if self.in_flight is None and self.waiting:
            self.in_flight, body = self.waiting.popleft()
            self.http.sendall(HEAD.format(len(body)).encode() + body)


def serve_threads(udp_port: int, database: str, receiver_port: int, threads: int) -> None:
    """The stand-in with the daemon's hand-overs (see the module docstring); runs until stdin closes."""
    db, udp, http = _open(udp_port, database, receiver_port)
    poster = _Poster(http)
    handed: collections.deque[list[tuple[int, bytes]]] = collections.deque()  # committed rows, to the poster
    wake_reader, wake_writer = socket.socketpair()
    wake_reader.setblocking(False)
    stop = threading.Event()

    def post() -> None:
        selector = selectors.DefaultSelector()
        selector.register(wake_reader, selectors.EVENT_READ, "wake")
        selector.register(http, selectors.EVENT_READ, "http")
        while not stop.is_set():
            for key, _ in selector.select(1):
                if key.data == "wake":
                    try:
                        while wake_reader.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    while handed:
                        poster.waiting.extend(handed.popleft())
                else:
                    poster.on_readable()
            poster.send_next()

    intake: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def receive() -> None:
        udp.settimeout(1)
        while not stop.is_set():
            try:
                intake.put(udp.recv(65536))
            except socket.timeout:
                pass

    def watch_stdin() -> None:
        sys.stdin.read()
        stop.set()

    workers = [threading.Thread(target=post), threading.Thread(target=watch_stdin, daemon=True)]
    if threads == 3:
        workers.append(threading.Thread(target=receive))
    else:
        udp.setblocking(False)
    for worker in workers:
        worker.start()
    selector = selectors.DefaultSelector()
    selector.register(udp, selectors.EVENT_READ)
    next_id = 0
    print("ready", flush=True)
    while not stop.is_set():
        datagrams: list[bytes] = []
        if threads == 3:
            try:
                datagrams.append(intake.get(timeout=1))
                while True:
                    datagrams.append(intake.get_nowait())
            except queue.Empty:
                pass
        elif selector.select(1):
            try:
                while True:
                    datagrams.append(udp.recv(65536))
            except BlockingIOError:
                pass
        if not datagrams:
            continue
        rows = []
        for datagram in datagrams:
            next_id += 1
            rows.append(_row(next_id, datagram))
        _commit(db, rows, poster.answered)
        handed.append(rows)
        wake_writer.send(b"w")
    for worker in workers[:1] + workers[2:]:
        worker.join(5)


def measure_floor(rate: float, secs: float, threads: int = 1) -> dict[str, object]:
    """The stand-in (in ``threads`` threads) at ``rate`` for ``secs``: figures as daemon_bench's steady workload."""
    receiver = ReceiverProcess().start()
    try:
        with tempfile.TemporaryDirectory(prefix="gevfloor-") as folder:
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "bench.floor_bench", "--serve", str(port),
                                     str(Path(folder) / "q.db"), str(receiver.port), str(threads)],
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
    parser.add_argument("--threads", default="1", help="the stand-in's shapes to run, comma-separated: 1, 2, 3")
    parser.add_argument("--serve", nargs=4, metavar=("UDP_PORT", "DATABASE", "RECEIVER_PORT", "THREADS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        udp_port, database, receiver_port, threads = args.serve
        if threads == "1":
            serve(int(udp_port), database, int(receiver_port))
        else:
            serve_threads(int(udp_port), database, int(receiver_port), int(threads))
        return
    shapes = [int(n) for n in args.threads.split(",")]
    if not set(shapes) <= {1, 2, 3}:
        parser.error(f"--threads {args.threads}: each must be 1, 2 or 3")
    print(f"# {args.rate:g}/s for {args.secs:g} s, {os.cpu_count()} CPUs; alternating rounds")
    for _ in range(args.rounds):
        for threads in shapes:
            shape = SHAPES[threads]
            print(f"floor  ({shape}) {measure_floor(args.rate, args.secs, threads)}", flush=True)
        print(f"daemon (glustereventsd, disk spool) {measure_daemon(args.rate, args.secs)}", flush=True)


if __name__ == "__main__":
    main()
