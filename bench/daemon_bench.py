"""Daemon benchmark: loss, latency, throughput, CPU and memory, with the spool on disk and in memory.

Runs glustereventsd as a real process (its own GLUSTER_EVENTS_ROOT in a temp folder), a fast
keep-alive receiver as another process (bench/receiver.py), and one Python sender, all on
this machine. Prints one line per figure. Not a test: it asserts nothing, it measures.

    python -m bench.daemon_bench            # the issue's workloads, disk and memory spool
    python -m bench.daemon_bench --quick    # shorter runs
    python -m bench.daemon_bench --only outage,backlog   # the durable-delivery workloads
    python -m bench.daemon_bench --only webhooks,proxy   # 100 webhooks far behind; through tinyproxy

GEV_BENCH_TREE and GEV_BENCH_PYTHON run the daemon of another checkout with its own
interpreter (bench/compare.py uses them to put two versions side by side in one run).
GEV_BENCH_PATCH sets module constants of the daemon before it starts, to measure what one
costs without editing it; GEV_BENCH_PROFILE records the daemon with py-spy (pip install py-spy
beside this interpreter), for bench/profile_summary.py:

    GEV_BENCH_PATCH='glustereventsd.pipeline.thread.GATHER_RECENT_SECS=0' python -m bench.daemon_bench --only steady --spool disk
    GEV_BENCH_PROFILE=/tmp/steady.txt python -m bench.daemon_bench --only steady --spool disk

GEV_BENCH_TURNS=<file> runs bench/turn_probe.py in the daemon, which writes there what each part
of the pipeline's turns cost (bench/turn_cost.py reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping, cast

REPO = Path(__file__).resolve().parent.parent
DAEMON_TREE = Path(os.environ.get("GEV_BENCH_TREE") or REPO)  # whose glustereventsd is measured
DAEMON_PYTHON = os.environ.get("GEV_BENCH_PYTHON") or sys.executable
# "module.NAME=value;...": module constants of the daemon set before it starts, to measure what
# one constant costs without editing the daemon (e.g. glustereventsd.pipeline.thread.GATHER_RECENT_SECS=0)
DAEMON_PATCH = os.environ.get("GEV_BENCH_PATCH", "")
# a path: py-spy records the daemon from its start to its stop into this file (--format raw)
DAEMON_PROFILE = os.environ.get("GEV_BENCH_PROFILE", "")
PROFILE_RATE = int(os.environ.get("GEV_BENCH_PROFILE_RATE") or 250)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def system_cpu_secs(pid: int) -> float:
    """The kernel's share of ``pid``'s CPU so far (system time: system calls, wake-ups, the TCP and UDP stacks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[12]) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class ReceiverProcess:
    """bench/receiver.py as a process; ``mode``, ``service`` and ``limit`` as its options say."""

    def __init__(self, delay: float = 0.0, port: int | None = None, tls: tuple[Path, Path] | None = None,
                 mode: str = "delay", service: float = 0.02, limit: int = 4) -> None:
        self.port = port or free_port(socket.SOCK_STREAM)
        self.delay = delay
        self.tls = tls  # (certificate, key): speak HTTPS
        self.options = ["--mode", mode, "--service", str(service), "--limit", str(limit)]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ReceiverProcess:
        tls = [str(self.tls[0]), str(self.tls[1])] if self.tls else []
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", str(self.port), str(self.delay), *tls,
                                      *self.options], cwd=REPO, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        self.proc.stdout.readline()
        return self

    def stop(self) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/listen"

    def _get(self, path: str) -> object:
        import ssl

        context = ssl._create_unverified_context() if self.tls else None  # noqa: S323 - our own receiver
        with urllib.request.urlopen(f"{self.url.rsplit('/', 1)[0]}{path}", timeout=30, context=context) as answer:
            return json.loads(answer.read())

    def count(self) -> int:
        return int(self._get("/stats")["count"])  # type: ignore[index]

    def arrivals(self) -> list[tuple[int, float]]:
        return [(int(i), float(t)) for i, t in cast("list[tuple[int, float]]", self._get("/dump"))]

    def max_in_flight(self) -> int:
        """The most POSTs the receiver has had unanswered at once."""
        return int(self._get("/stats")["max_in_flight"])  # type: ignore[index]

    def max_connections(self) -> int:
        """The most connections open at once (the daemon's, plus the one asking)."""
        return int(self._get("/stats")["max_connections"])  # type: ignore[index]

    def timings(self) -> list[tuple[float, float, float, int]]:
        """Every POST: (arrival, service start, answer, HTTP status), times from time.time()."""
        rows = cast("list[tuple[float, float, float, int]]", self._get("/timings"))
        return [(float(a), float(s), float(e), int(c)) for a, s, e, c in rows]


def thread_cpu(pid: int) -> dict[int, tuple[str, float]]:
    """Per thread of ``pid``: (name, CPU seconds so far, user + system)."""
    found: dict[int, tuple[str, float]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name, fields = (task / "comm").read_text().strip(), (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS)
    return found


def thread_switches(pid: int) -> dict[int, tuple[str, int]]:
    """Per thread of ``pid``: (name, voluntary + involuntary context switches so far).

    Each switch away from a thread that then runs again is one wake-up; summed over all
    threads this is the issue's "wake-ups" figure (a thread that died meanwhile drops out).
    """
    found: dict[int, tuple[str, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            switches = 0
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    switches += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(task.name)] = (name, switches)
    return found


def switches_between(before: Mapping[int, tuple[str, float]],
                     after: Mapping[int, tuple[str, float]]) -> dict[str, float]:
    """Growth per thread name between two ``thread_switches`` (or ``thread_cpu``) readings (new threads from 0)."""
    per_name: dict[str, float] = {}
    for tid, (name, count) in after.items():
        per_name[name] = per_name.get(name, 0) + count - before.get(tid, (name, 0))[1]
    return per_name


class Daemon:
    def __init__(self, root: Path, webhooks: dict[str, object], config: dict[str, object]) -> None:
        self.root = root
        self.port = free_port()
        events = root / "var/lib/glusterd/events"
        events.mkdir(parents=True, exist_ok=True)
        (events / "webhooks.json").write_text(json.dumps(webhooks))
        (events / "config.json").write_text(json.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self.profiler: subprocess.Popen[bytes] | None = None
        self.rss_peak = 0.0
        self._sampling = threading.Event()

    def start(self) -> Daemon:
        log = self.root / "var/log/glusterfs/glustereventsd.log"
        before = log.read_text() .count("glustereventsd started") if log.exists() else 0
        env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(self.root)}
        if env.get("GEV_BENCH_TURNS"):  # the daemon runs in DAEMON_TREE: a relative path would land there
            env["GEV_BENCH_TURNS"] = os.path.abspath(env["GEV_BENCH_TURNS"])
        self.proc = subprocess.Popen([DAEMON_PYTHON, *launcher(DAEMON_PATCH), "--port", str(self.port),
                                      "--listen", "127.0.0.1"], env=env, cwd=DAEMON_TREE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if log.exists() and log.read_text().count("glustereventsd started") > before:
                break
            time.sleep(0.05)
        threading.Thread(target=self._sample, daemon=True).start()
        if DAEMON_PROFILE:
            self.profiler = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(self.proc.pid), "--threads",
                 "--rate", str(PROFILE_RATE), "--format", "raw", "--output", DAEMON_PROFILE, "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            time.sleep(1.0)  # attached before the workload starts
            self._name_threads(Path(DAEMON_PROFILE + ".threads"))
        return self

    def _name_threads(self, into: Path) -> None:
        """Thread ids and Python names (from ``py-spy dump``), for bench/profile_summary.py --names."""
        assert self.proc
        dump = subprocess.run([str(Path(sys.executable).with_name("py-spy")), "dump", "--pid", str(self.proc.pid),
                               "--nonblocking"], capture_output=True, text=True, timeout=60).stdout
        rows = [f"{m.group(1).lower()} {m.group(2)}"
                for m in re.finditer(r'^Thread (0x[0-9A-Fa-f]+|\d+) \([^)]*\): "([^"]*)"', dump, re.M)]
        into.write_text("".join(f"{row}\n" for row in rows))

    def _sample(self) -> None:
        while self.proc and self.proc.poll() is None and not self._sampling.is_set():
            try:
                self.rss_peak = max(self.rss_peak, rss_mb(self.proc.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.1)

    def cpu(self) -> float:
        assert self.proc
        return cpu_secs(self.proc.pid)

    def stop(self) -> None:
        self._sampling.set()
        if self.profiler:  # py-spy writes its file on SIGINT, before the daemon goes
            self.profiler.send_signal(signal.SIGINT)
            self.profiler.wait(60)
            self.profiler = None
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
            self.proc = None


TURN_PROBE = Path(__file__).resolve().with_name("turn_probe.py")


def launcher(patch: str) -> list[str]:
    """The interpreter arguments that start glustereventsd, with ``patch``'s constants set first.

    When GEV_BENCH_TURNS names a file (read at each start: bench/turn_cost.py sets it per
    run), bench/turn_probe.py then runs in the daemon, after the patches (so that a module it
    imports sees them), and writes the pipeline's costs there.
    """
    probe = bool(os.environ.get("GEV_BENCH_TURNS"))
    if not patch and not probe:
        return ["-m", "glustereventsd"]
    lines = ["import importlib, runpy"]
    for item in filter(None, (part.strip() for part in patch.split(";"))):
        target, _, value = item.partition("=")
        module, _, name = target.rpartition(".")
        if not module or not value:
            raise SystemExit(f"GEV_BENCH_PATCH: {item!r} is not module.NAME=value")
        lines.append(f"module = importlib.import_module({module!r})")
        lines.append(f"assert hasattr(module, {name!r}), 'GEV_BENCH_PATCH: no {name} in {module}'")
        lines.append(f"setattr(module, {name!r}, {value})")
    if probe:
        lines.append(f"exec(compile(open({str(TURN_PROBE)!r}).read(), {str(TURN_PROBE)!r}, 'exec'), "
                     "{'__name__': 'turn_probe'})")
    lines.append("runpy.run_module('glustereventsd', run_name='__main__', alter_sys=True)")
    return ["-c", "\n".join(lines)]


@contextmanager
def running(spool: str, receiver: ReceiverProcess, concurrency: int | None = None,
            extra: dict[str, object] | None = None, hook: dict[str, object] | None = None) -> Iterator[Daemon]:
    """A daemon with one webhook (``hook``: its webhooks.json entry beside the token)."""
    with tempfile.TemporaryDirectory(prefix="gevbench-") as folder:
        config: dict[str, object] = {"spool": spool, "disable-events-log": False, **(extra or {})}
        if concurrency:
            config["webhook-concurrency"] = concurrency
        daemon = Daemon(Path(folder), {receiver.url: {"token": "bench-token", **(hook or {})}}, config).start()
        try:
            yield daemon
        finally:
            daemon.stop()


LIVE_RATES = (5000, 6000, 7000)  # the live workload's send rates: the highest kept up with is the figure
SEND_TICK_SECS = 0.002  # the paced sender sleeps only when this far ahead of its schedule


def send(port: int, count: int, rate: float = 0.0, start_index: int = 0) -> list[float]:
    """Send ``count`` events (rate 0: as fast as possible); return the send time of each.

    At a given rate, events leave in small groups every ``SEND_TICK_SECS`` rather than one
    sleep per event: a sleep of ~200 us per event costs the sender most of a core on this
    machine, CPU the daemon under test then lacks. Each event's send time is still recorded.
    """
    sent = [0.0] * count
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        address = ("127.0.0.1", port)
        begin = time.monotonic()
        stamp = int(time.time())
        for i in range(count):
            if rate:
                pause = begin + i / rate - time.monotonic()
                if pause > SEND_TICK_SECS:
                    time.sleep(pause)
            sent[i] = time.time()
            sock.sendto(b"%d 2 name=v%d" % (stamp, start_index + i), address)
    return sent


def wait_count(receiver: ReceiverProcess, want: int, timeout: float, idle: float = 5.0) -> int:
    """Wait until ``want`` arrived, or nothing new arrived for ``idle`` s, or ``timeout``."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = receiver.count()
        if count >= want:
            return count
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > idle:
            return count
        time.sleep(0.1)
    return receiver.count()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def unique(arrivals: list[tuple[int, float]]) -> dict[int, float]:
    first: dict[int, float] = {}
    for index, at in arrivals:
        first.setdefault(index, at)
    return first


def bench_burst(spool: str, count: int) -> dict[str, object]:
    receiver = ReceiverProcess().start()
    try:
        with running(spool, receiver) as daemon:
            begin = time.monotonic()
            send(daemon.port, count)
            send_secs = time.monotonic() - begin
            got = wait_count(receiver, count, 120)
            arrivals = unique(receiver.arrivals())
            return {"sent": count, "send_rate": round(count / send_secs), "delivered": len(arrivals),
                    "lost": count - len(arrivals), "rss_peak_mb": round(daemon.rss_peak, 1), "got": got}
    finally:
        receiver.stop()


def bench_steady(spool: str, rate: float, secs: float, extra: dict[str, object] | None = None) -> dict[str, object]:
    """``rate`` events/s for ``secs``: latency, CPU per 1,000 and wake-ups/s from first send to last arrival.

    ``extra``: config keys of the daemon beside the benchmark's own (bench.turn_cost sets batch-wait-ms).
    """
    receiver = ReceiverProcess().start()
    try:
        with running(spool, receiver, extra=extra) as daemon:
            count = int(rate * secs)
            assert daemon.proc
            switches_before, cpu_before, begin = thread_switches(daemon.proc.pid), daemon.cpu(), time.monotonic()
            threads_cpu_before, system_before = thread_cpu(daemon.proc.pid), system_cpu_secs(daemon.proc.pid)
            sent = send(daemon.port, count, rate)
            wait_count(receiver, count, 60)
            arrivals = unique(receiver.arrivals())
            # CPU and switches up to the poll that saw the last arrival (at most 0.1 s late)
            elapsed, cpu = time.monotonic() - begin, daemon.cpu() - cpu_before
            system = system_cpu_secs(daemon.proc.pid) - system_before
            per_thread = switches_between(switches_before, thread_switches(daemon.proc.pid))
            per_thread_cpu = switches_between(threads_cpu_before, thread_cpu(daemon.proc.pid))
            latencies = [(arrivals[i] - sent[i]) * 1000 for i in range(count) if i in arrivals]
            return {"sent": count, "lost": count - len(arrivals),
                    "p50_ms": round(percentile(latencies, 0.50), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
                    "max_ms": round(max(latencies), 1), "cpu_s_per_1000": round(cpu / max(1, len(arrivals)) * 1000, 3),
                    "system_s_per_1000": round(system / max(1, len(arrivals)) * 1000, 3),
                    "wakeups_per_s": round(sum(per_thread.values()) / elapsed),
                    "wakeups_per_thread_per_s": {name: round(n / elapsed) for name, n in sorted(per_thread.items())},
                    "cpu_s_per_1000_per_thread": {name: round(c / max(1, len(arrivals)) * 1000, 3)
                                                  for name, c in sorted(per_thread_cpu.items())},
                    "rss_peak_mb": round(daemon.rss_peak, 1)}
    finally:
        receiver.stop()


def bench_throughput(spool: str, count: int, concurrency: int | None = None) -> dict[str, object]:
    """Pre-load a backlog while the webhook is down, then measure how fast it drains."""
    receiver = ReceiverProcess()
    try:
        with running(spool, receiver, concurrency, {"retry-max-backoff-secs": 0.2, "retry-min-backoff-secs": 0.1,
                                                    "spool-max-events": max(100_000, count)}) as daemon:
            send(daemon.port, count, rate=20_000)
            time.sleep(1.0)
            cpu_before = daemon.cpu()
            receiver.start()
            begin = time.monotonic()
            got = wait_count(receiver, count, 300)
            elapsed = time.monotonic() - begin
            cpu = daemon.cpu() - cpu_before
            return {"events": got, "rate_per_s": round(got / elapsed), "cpu_s_per_1000": round(cpu / got * 1000, 3),
                    "receiver_max_connections": receiver.max_connections(), "rss_peak_mb": round(daemon.rss_peak, 1)}
    finally:
        receiver.stop()


def measure_live(daemon: Daemon, receiver: ReceiverProcess, rate: float, secs: float) -> dict[str, object]:
    """Send at ``rate`` for ``secs`` to a running daemon; did delivery keep up, how late, at what CPU?

    ``delivered_per_s`` is events delivered over the time from the first send to the last
    arrival; ``lag_ms`` is how long after the last send the last event arrived (small when
    delivery kept up, growing with the backlog when it did not).
    """
    count = int(rate * secs)
    cpu_before = daemon.cpu()
    sent = send(daemon.port, count, rate)
    delivered_while_sending = receiver.count()
    got = wait_count(receiver, count, 120)
    cpu = daemon.cpu() - cpu_before
    arrivals = unique(receiver.arrivals())
    last = max(arrivals.values(), default=sent[-1])
    latencies = [(arrivals[i] - sent[i]) * 1000 for i in range(count) if i in arrivals]
    return {"sent_per_s": round(count / (sent[-1] - sent[0])), "delivered": got,
            "delivered_while_sending": delivered_while_sending,
            "delivered_per_s": round(len(arrivals) / (last - sent[0])),
            "p99_ms": round(percentile(latencies, 0.99), 1), "lag_ms": round((last - sent[-1]) * 1000, 1),
            "cpu_s_per_1000": round(cpu / max(1, got) * 1000, 3), "rss_peak_mb": round(daemon.rss_peak, 1)}


def bench_live_rate(spool: str, rate: float, secs: float) -> dict[str, object]:
    """Events sent at ``rate`` while the webhook is up (see ``measure_live``)."""
    receiver = ReceiverProcess().start()
    try:
        with running(spool, receiver) as daemon:
            return measure_live(daemon, receiver, rate, secs)
    finally:
        receiver.stop()


def bench_slow(spool: str, delay: float, window: float, concurrency: int | None = None,
               count: int = 2000, rate: float = 500) -> dict[str, object]:
    """A webhook answering each request after ``delay`` s: of ``count`` sent at ``rate``, how many in ``window`` s."""
    receiver = ReceiverProcess(delay).start()
    try:
        with running(spool, receiver, concurrency) as daemon:
            begin = time.monotonic()
            send(daemon.port, count, rate)
            time.sleep(max(0.0, window - (time.monotonic() - begin)))
            return {"delay_ms": delay * 1000, "sent": count, "rate": rate, "window_s": window,
                    "delivered_in_window": receiver.count(), "receiver_max_in_flight": receiver.max_in_flight()}
    finally:
        receiver.stop()


def bench_outage(spool: str, rate: float, down_secs: float) -> dict[str, object]:
    receiver = ReceiverProcess()
    try:
        with running(spool, receiver, None, {"retry-max-backoff-secs": 2.0}) as daemon:
            count = int(rate * down_secs)
            send(daemon.port, count, rate)
            receiver.start()
            begin = time.monotonic()
            got = wait_count(receiver, count, 600, idle=15)
            drain = time.monotonic() - begin
            return {"sent_while_down": count, "delivered": len(unique(receiver.arrivals())), "drain_s": round(drain, 1),
                    "rss_peak_mb": round(daemon.rss_peak, 1), "got": got}
    finally:
        receiver.stop()


def bench_backlog_rss(count: int) -> dict[str, object]:
    """RSS of a daemon holding ``count`` spooled events for a dead webhook."""
    receiver = ReceiverProcess()  # never started: connection refused
    with running("disk", receiver, None, {"spool-max-events": count + 1000, "spool-max-bytes": 1 << 34,
                                          "disable-events-log": True}) as daemon:
        send(daemon.port, count, rate=8_000)
        db = daemon.root / "var/lib/glustereventsd/spool.sqlite3"
        deadline = time.monotonic() + 60
        queued = 0
        while time.monotonic() < deadline:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
                queued = conn.execute("SELECT count(*) FROM queue").fetchone()[0]
            if queued >= count * 0.99:
                break
            time.sleep(1)
        return {"spooled": queued, "rss_mb": round(rss_mb(daemon.proc.pid), 1),  # type: ignore[union-attr]
                "rss_peak_mb": round(daemon.rss_peak, 1), "spool_file_mb": round(db.stat().st_size / 2**20, 1)}


def spooled(daemon: Daemon) -> int:
    """Rows waiting in the daemon's spool."""
    db = daemon.root / "var/lib/glustereventsd/spool.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10) as conn:
        return int(conn.execute("SELECT count(*) FROM queue").fetchone()[0])


def bench_many_webhooks(hooks: int, events: int) -> dict[str, object]:
    """``hooks`` webhooks, each ``events`` behind (their receiver down), then up: RSS and drain time."""
    receiver = ReceiverProcess()
    webhooks = {f"{receiver.url}/{index}": {} for index in range(hooks)}
    config = {"spool": "disk", "disable-events-log": True, "retry-min-backoff-secs": 0.5,
              "retry-max-backoff-secs": 2.0}
    with tempfile.TemporaryDirectory(prefix="gevbench-") as folder:
        daemon = Daemon(Path(folder), webhooks, config).start()
        try:
            send(daemon.port, events, rate=2000)
            want = hooks * events
            deadline = time.monotonic() + 120
            while spooled(daemon) < want and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(3.0)  # every webhook has failed and backs off: the backlog is at rest
            rss_behind = rss_mb(daemon.proc.pid)  # type: ignore[union-attr]
            cpu_before = daemon.cpu()
            receiver.start()
            begin = time.monotonic()
            got = wait_count(receiver, want, 900, idle=20)
            drain = time.monotonic() - begin
            cpu = daemon.cpu() - cpu_before
            return {"webhooks": hooks, "events_behind_each": events, "delivered": got,
                    "drain_s": round(drain, 1), "delivered_per_s": round(got / drain),
                    "cpu_s_per_1000": round(cpu / max(1, got) * 1000, 3),
                    "rss_while_behind_mb": round(rss_behind, 1), "rss_peak_mb": round(daemon.rss_peak, 1)}
        finally:
            daemon.stop()
            receiver.stop()


def bench_proxy(rate: float, secs: float, https: bool, kind: str = "squid") -> dict[str, object]:
    """Events at ``rate`` through a local proxy (plain HTTP in absolute form, or HTTPS via CONNECT).

    ``kind``: Debian's squid (keep-alive to both sides) or tinyproxy (a new connection per
    plain-HTTP request, so its own limit shows).
    """
    sys.path.insert(0, str(REPO))
    from tests.proxy import Squid, TinyProxy
    from tests.tls import make_certificates

    with tempfile.TemporaryDirectory(prefix="gevbench-proxy-") as scratch:
        certificates = make_certificates(Path(scratch)) if https else None
        proxy = (Squid if kind == "squid" else TinyProxy)(Path(scratch) / "proxy").start()
        receiver = ReceiverProcess(tls=(certificates["cert"], certificates["key"]) if certificates else None).start()
        entry: dict[str, object] = {"ca-bundle": str(certificates["ca"])} if certificates else {}
        config = {"spool": "disk", "disable-events-log": False, "webhook-proxy": proxy.url}
        with tempfile.TemporaryDirectory(prefix="gevbench-") as folder:
            daemon = Daemon(Path(folder), {receiver.url: entry}, config).start()
            try:
                figures = measure_live(daemon, receiver, rate, secs)
                through = sum(1 for line in proxy.requests() if line.startswith(("POST", "CONNECT")))
                return {"proxy": kind, "scheme": "https" if https else "http", **figures, "proxy_requests": through}
            finally:
                daemon.stop()
                receiver.stop()
                proxy.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--only", default="",
                        help="comma-separated: burst,steady,throughput,live,slow,outage,backlog,webhooks,proxy; "
                             "and (bench/adaptive_bench.py) degrade,shed,fast,idle")
    parser.add_argument("--spool", default="disk,memory", help="spool modes to compare")
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    modes = args.spool.split(",")
    quick = args.quick

    def want(name: str) -> bool:
        return not only or name in only

    print(f"# glustereventsd benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for mode in modes:
        if want("burst"):
            print(f"burst      spool={mode}: {bench_burst(mode, 20_000)}", flush=True)
        if want("steady"):
            print(f"steady     spool={mode}: 2000/s for {5 if quick else 10}s {bench_steady(mode, 2000, 5 if quick else 10)}",
                  flush=True)
        if want("throughput"):
            print(f"throughput spool={mode}: {bench_throughput(mode, 20_000 if quick else 50_000)}", flush=True)
        if want("live"):
            for rate in LIVE_RATES:
                print(f"live       spool={mode}: {rate}/s for {4 if quick else 10}s "
                      f"{bench_live_rate(mode, rate, 4 if quick else 10)}", flush=True)
        if want("slow"):
            print(f"slow       spool={mode}: {bench_slow(mode, 0.2, 30)}", flush=True)
        for name in ("degrade", "shed", "fast", "idle"):  # issue 21's, in bench/adaptive_bench.py
            if name in only:
                from bench.adaptive_bench import run_workload
                run_workload(name, mode, quick)
    if want("outage"):
        secs = 10 if quick else 60
        print(f"outage     spool=disk: webhook down {secs}s at 2000/s: {bench_outage('disk', 2000, secs)}", flush=True)
    if want("backlog"):
        n = 100_000 if quick else 1_000_000
        print(f"backlog    spool=disk: {bench_backlog_rss(n)}", flush=True)
    if want("webhooks"):
        each = 2_000 if quick else 10_000
        print(f"webhooks   spool=disk: 100 webhooks, {each} events behind each: {bench_many_webhooks(100, each)}",
              flush=True)
    if want("proxy"):
        for kind in ("squid", "tinyproxy"):
            for https in (False, True):
                print(f"proxy      spool=disk: 2000/s for {4 if quick else 10}s via {kind}: "
                      f"{bench_proxy(2000, 4 if quick else 10, https, kind)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
