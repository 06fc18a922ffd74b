"""A corrupt, misplaced or unwritable spool against the daemon as a real process (issue 10).

Events are queued for a webhook that refuses them (503), the daemon is stopped, the spool
is damaged the way a disk or a person would, and the daemon is started again with the
webhook back: it must start, say at ERROR what it recovered and lost, deliver the recovered
events with their own event ids, count it in the metrics, and take new events. A spool
corrupted while the daemon runs is rebuilt without a restart.
"""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.spool import admin as spool
from tests.helpers import REPO, DaemonProcess, Receiver, emit_many, send_raw, wait_for


def send_lines(port: int, lines: list[bytes], rate_per_sec: float) -> None:
    """Send each line as a datagram, paced (a UDP burst past the socket buffer would drop some)."""
    start = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for index, data in enumerate(lines):
            pause = start + index / rate_per_sec - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sock.sendto(data, ("127.0.0.1", port))
from tests.integration.test_metrics import free_tcp_port, scrape

FAST_RETRY = {"retry-min-backoff-secs": 0.05, "retry-max-backoff-secs": 0.2, "webhook-timeout-secs": 2}
SUMMARY = re.compile(r"recovered (\d+) queued events of \d+ webhooks and \d+ dead letters \(([^)]*)\), "
                     r"(about (\d+) queued events lost|how many events were lost is unknown)")


def spool_file(daemon: DaemonProcess) -> Path:
    return daemon.root / "var/lib/glustereventsd/spool.sqlite3"


def queued(daemon: DaemonProcess, url: str) -> int:
    found = {s.url: s for s in spool.read_status(spool_file(daemon))}
    return found[url].queued if url in found else 0


def queue_events(daemon: DaemonProcess, receiver: Receiver, count: int, extra: dict[str, object] | None = None
                 ) -> dict[str, int]:
    """Queue ``count`` events the webhook refuses, stop the daemon; return event id -> seq as spooled."""
    receiver.behaviour.default = 503
    daemon.write_config({**FAST_RETRY, **(extra or {})})
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    for _ in emit_many(daemon.port, count, rate_per_sec=5000):
        pass
    wait_for(lambda: queued(daemon, receiver.url) == count, timeout=30, what=f"{count} events spooled")
    assert daemon.stop() == 0
    db = sqlite3.connect(spool_file(daemon))
    try:
        return dict(db.execute("SELECT event_id, seq FROM queue"))
    finally:
        db.close()


def delivered_ids(receiver: Receiver) -> list[str]:
    with receiver.lock:
        return [r.headers["webhook-id"] for r in receiver.requests if r.body]


def recovery(daemon: DaemonProcess) -> tuple[int, str, int | None]:
    found = SUMMARY.search(daemon.log_text())
    assert found, daemon.log_text()[-3000:]
    return int(found[1]), found[2], int(found[4]) if found[4] is not None else None


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def garbage_over_the_header(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.write(os.urandom(100))


def garbage_over_the_first_page(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.write(os.urandom(4096))


DAMAGE = {"truncated to half": truncate_half, "garbage over the header": garbage_over_the_header,
          "garbage over the first page": garbage_over_the_first_page}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_spool_at_start_is_moved_aside_recovered_and_delivered(daemon: DaemonProcess, receiver: Receiver,
                                                                       damage: str) -> None:
    metrics_port = free_tcp_port()
    spooled = queue_events(daemon, receiver, 3000, {"metrics-port": metrics_port})
    path = spool_file(daemon)
    DAMAGE[damage](path)
    damaged = path.read_bytes()
    receiver.behaviour.default = 200
    daemon.start()
    assert daemon.proc is not None
    recovered, method, lost = recovery(daemon)
    assert "ERROR [glustereventsd.spool] The spool" in daemon.log_text()
    if damage == "garbage over the header":
        assert recovered == 3000 and lost == 0
    elif damage == "truncated to half":
        assert 0 < recovered < 3000 and lost == 3000 - recovered  # the file's own counters add up
    else:  # the schema page is gone: only the page scan reads rows, told apart by their shape
        assert method == "page scan" and lost is None
    wait_for(lambda: len(delivered_ids(receiver)) >= recovered, timeout=60, what=f"{recovered} recovered delivered")
    ids = delivered_ids(receiver)
    assert len(ids) == len(set(ids)) == recovered and set(ids) <= set(spooled)  # their own ids, once each
    moved = [p for p in path.parent.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    assert len(moved) == 1 and moved[0].read_bytes() == damaged  # the evidence, as it was
    send_raw(daemon.port, b"1468303352 2 name=after-recovery")
    wait_for(lambda: "after-recovery" in receiver.names(), what="new events delivered")
    samples = scrape(metrics_port)
    assert samples[("gluster_events_spool_recoveries_total", (("outcome", "rebuilt"),))] == 1
    assert samples[("gluster_events_spool_recoveries_total", (("outcome", "failed"),))] == 0  # there from the start
    assert samples[("gluster_events_spool_recovered_events_total", (("method", method),))] == recovered
    assert daemon.proc.poll() is None


def test_a_folder_in_place_of_the_spool_does_not_stop_the_daemon(daemon: DaemonProcess, receiver: Receiver) -> None:
    path = spool_file(daemon)
    path.mkdir(parents=True)
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    assert "not_a_file: a folder is in its place" in daemon.log_text()
    send_raw(daemon.port, b"1468303352 2 name=delivered")
    wait_for(lambda: receiver.count() == 1, what="delivered")
    assert path.is_file()


def check_config(daemon: DaemonProcess) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glustereventsd", "--check-config"], capture_output=True, text=True,
                          timeout=60, env=daemon.env, cwd=REPO, stdin=subprocess.DEVNULL, check=False)


def test_check_config_reports_a_corrupt_spool(daemon: DaemonProcess, receiver: Receiver) -> None:
    queue_events(daemon, receiver, 50)
    assert check_config(daemon).returncode == 0
    truncate_half(spool_file(daemon))
    done = check_config(daemon)
    assert done.returncode == 1 and "spool.sqlite3 is unusable (corrupt" in done.stderr
    assert "moves it aside and recovers" in done.stderr and "Traceback" not in done.stderr


@pytest.fixture
def chattr() -> Iterator[list[Path]]:
    made: list[Path] = []
    yield made
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_an_immutable_spool_starts_in_memory_and_nothing_is_sent_twice(daemon: DaemonProcess, receiver: Receiver,
                                                                       chattr: list[Path]) -> None:
    spooled = queue_events(daemon, receiver, 20)
    path = spool_file(daemon)
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {done.stderr.decode().strip()}")
    chattr.append(path)
    assert "the file is immutable" in check_config(daemon).stderr
    receiver.behaviour.default = 200
    daemon.start()
    log = daemon.log_text()
    assert "is unusable (unwritable: the file is immutable" in log and "Running with events held in memory" in log
    assert "Cannot re-queue the dead letters asked for" not in log
    for index in range(10):
        send_raw(daemon.port, f"1468303352 2 name=meanwhile{index}".encode())
    wait_for(lambda: receiver.count() == 10, what="new events delivered from memory")
    assert daemon.stop() == 0
    subprocess.run(["chattr", "-i", str(path)], check=True)
    daemon.start()  # fixed: the 20 events it kept are delivered, the 10 delivered meanwhile are not sent again
    wait_for(lambda: receiver.count() == 30, timeout=30, what="the kept events delivered after the fix")
    ids = delivered_ids(receiver)
    assert len(ids) == len(set(ids)) == 30 and set(spooled) <= set(ids)
    assert sorted(receiver.names()).count("meanwhile0") == 1


def test_a_spool_corrupted_while_running_is_rebuilt_without_a_restart(daemon: DaemonProcess,
                                                                      receiver: Receiver) -> None:
    receiver.behaviour.default = 503
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    assert daemon.proc is not None
    count = 12_000
    padding = "x" * 400  # 12,000 events of 600 bytes: past the WAL's 1000-page checkpoint
    send_lines(daemon.port, [f"1468303352 2 name=v{i};pad={padding}".encode() for i in range(count)],
               rate_per_sec=4000)
    path = spool_file(daemon)
    wait_for(lambda: queued(daemon, receiver.url) == count, timeout=60, what="backlog spooled")
    wait_for(lambda: path.stat().st_size > 4 * 2**20, timeout=60, what="the backlog checkpointed into the file")
    with open(path, "r+b") as handle:  # garbage over the middle of the file, under the running daemon
        handle.seek(path.stat().st_size // 2 // 4096 * 4096)
        handle.write(os.urandom(64 * 4096))
    receiver.behaviour.default = 200
    wait_for(lambda: SUMMARY.search(daemon.log_text()), timeout=120, what="the spool rebuilt while running")
    recovered, _, lost = recovery(daemon)
    send_raw(daemon.port, b"1468303352 2 name=after-the-rebuild")
    wait_for(lambda: "after-the-rebuild" in receiver.names(), timeout=120, what="new events delivered")
    assert lost is not None  # the counters live on pages the garbage missed
    wait_for(lambda: len(delivered_ids(receiver)) >= count - lost + 1, timeout=120, what="the recovered delivered")
    ids = delivered_ids(receiver)
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert len(ids) - 1 + lost == count  # every event delivered, or counted as lost
    assert recovered <= len(ids) and daemon.proc.poll() is None
