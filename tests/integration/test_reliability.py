"""At-least-once delivery (issue 4): outages, restarts, kill -9, full spool, full disk, dead letters."""

from __future__ import annotations

import dataclasses
import io
import json
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glustereventsd.spool import admin as spool
from gluster_eventsapi.__main__ import main
from gluster_eventsapi.context import Context
from tests.integration.test_metrics import free_tcp_port, scrape
from tests.helpers import (DaemonProcess, InProcessDaemon, Receiver, Stream, event_log_lines, send_lines,
                           wait_for)

FAST_RETRY = {"retry-min-backoff-secs": 0.05, "retry-max-backoff-secs": 1}


def spool_path(root: Path) -> Path:
    return root / "var/lib/glustereventsd/spool.sqlite3"


def statuses(root: Path) -> dict[str, spool.HookStatus]:
    return {s.url: s for s in spool.read_status(spool_path(root))}


def accepted_names(daemon: DaemonProcess) -> list[str]:
    return [e["message"]["name"] for e in event_log_lines(daemon.event_log)]


def test_webhook_down_60s_during_a_stream(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    stream = Stream(daemon.port, 1400, rate_per_sec=20).start()
    stream.wait_sent(40)
    receiver.stop()
    down_at = time.monotonic()
    wait_for(lambda: statuses(daemon.root)[receiver.url].queued >= 600, timeout=40, interval=0.5,
             what="backlog spooled while down")
    wait_for(lambda: time.monotonic() - down_at >= 60, timeout=65, interval=0.5, what="60 s down")
    backlog = statuses(daemon.root)[receiver.url].queued
    assert backlog >= 1000
    receiver.start()
    up_at = time.monotonic()
    stream.join()
    wait_for(lambda: len(receiver.distinct_names()) >= 1400, timeout=30, interval=0.1, what="all delivered")
    assert receiver.distinct_names() == stream.names()  # every event, in arrival order
    assert time.monotonic() - up_at < 20
    wait_for(lambda: statuses(daemon.root)[receiver.url].queued == 0, what="spool drained")
    status = statuses(daemon.root)[receiver.url]
    assert status.retried > 10 and status.dropped == 0 and status.dead_letters == 0


def test_sigterm_and_restart_during_a_stream_lose_nothing(daemon: DaemonProcess, receiver: Receiver) -> None:
    receiver.behaviour.delay_secs = 0.005  # slower than the stream: a backlog waits in the spool
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    stream = Stream(daemon.port, 1200, rate_per_sec=400).start()
    stream.wait_sent(500)
    sent_before_stop = stream.sent
    assert daemon.stop() == 0
    backlog = statuses(daemon.root)[receiver.url].queued
    assert backlog > 0  # there was something to keep
    daemon.start()
    sent_after_start = stream.sent
    stream.join()
    send_lines(daemon.port, [b"1 2 name=v999999"])  # the last one: with concurrency 1, delivered last
    wait_for(lambda: "v999999" in receiver.distinct_names(), timeout=30, what="all accepted delivered")
    accepted = accepted_names(daemon)
    delivered = receiver.distinct_names()
    assert set(delivered) == set(accepted)  # every event the daemon took in reached the webhook
    assert set(stream.names(sent_before_stop)) <= set(delivered)  # including all sent before SIGTERM
    order = [int(name[1:]) for name in delivered]
    assert order == sorted(order)  # concurrency 1: arrival order kept across the restart
    # Only datagrams sent while no daemon listened may be missing.
    assert set(stream.names()[sent_after_start:]) <= set(delivered)


def test_kill_9_during_a_stream_loses_at_most_the_commit_window(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    receiver.stop()  # everything waits in the spool
    stream = Stream(daemon.port, 800, rate_per_sec=400).start()
    stream.wait_sent(600)
    sent_at_kill = stream.sent
    daemon.kill9()
    stream.join()
    queued = statuses(daemon.root)[receiver.url].queued
    window = 40  # 0.1 s of this stream: events received but not yet committed (commits every turn, <= 50 ms)
    assert queued >= sent_at_kill - window
    receiver.start()
    daemon.start()
    wait_for(lambda: len(receiver.distinct_names()) >= queued, timeout=20, what="spooled events delivered")
    delivered = receiver.distinct_names()
    lost = [name for name in stream.names(sent_at_kill) if name not in set(delivered)]
    assert len(lost) <= window, lost
    assert set(lost) <= set(stream.names(sent_at_kill)[-window:])  # only the uncommitted tail
    assert delivered[:queued] == [n for n in stream.names(sent_at_kill) if n not in set(lost)][:queued]


def test_spool_full_drops_oldest_and_counts(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY | {"spool-max-events": 100})
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    receiver.stop()
    send_lines(daemon.port, [b"1 2 name=v%d" % i for i in range(350)])
    wait_for(lambda: len(event_log_lines(daemon.event_log)) == 350, what="all accepted")
    wait_for(lambda: statuses(daemon.root)[receiver.url].dropped >= 250, what="drops counted")
    status = statuses(daemon.root)[receiver.url]
    assert status.queued <= 100
    assert "Spool full: dropped the oldest queued events url=%s" % receiver.url in daemon.log_text()
    receiver.start()
    wait_for(lambda: statuses(daemon.root)[receiver.url].queued == 0, timeout=15, what="drained")
    delivered = receiver.distinct_names()
    dropped = statuses(daemon.root)[receiver.url].dropped
    # Every event delivered or counted as dropped, never both: the one record the dispatcher
    # holds (retrying it while the receiver is down) is never counted as dropped, so it may
    # arrive first, whichever it was.
    assert len(delivered) + dropped == 350, (delivered[:5], dropped)
    newest = [f"v{i}" for i in range(350 - 100, 350)]
    kept = delivered[1:] if delivered and delivered[0] not in newest else delivered
    assert kept == newest[len(newest) - len(kept):], delivered[:5]  # the newest were kept, in order
    assert len(kept) <= 100


def test_spool_trimmed_while_delivering_counts_each_event_once(daemon: DaemonProcess, receiver: Receiver) -> None:
    """A full spool trimmed again and again while the dispatcher takes records from it."""
    daemon.write_config(FAST_RETRY | {"spool-max-events": 100})
    daemon.write_webhooks({receiver.url: {"concurrency": 4}})
    receiver.behaviour.delay_secs = 0.005
    daemon.start()
    for start in range(0, 1500, 150):
        send_lines(daemon.port, [b"1 2 name=t%d" % i for i in range(start, start + 150)])
        time.sleep(0.02)
    wait_for(lambda: len(event_log_lines(daemon.event_log)) == 1500, what="all accepted")
    wait_for(lambda: statuses(daemon.root)[receiver.url].queued == 0, timeout=20, what="drained")
    wait_for(lambda: receiver.count() == len(receiver.distinct_names()), what="no request in flight")
    time.sleep(0.2)  # the last results reach the spool's counters
    status = statuses(daemon.root)[receiver.url]
    assert status.dropped > 0  # the bound was really hit
    assert len(receiver.distinct_names()) + status.dropped == 1500, (len(receiver.distinct_names()), status.dropped)


@pytest.fixture
def small_tmpfs(daemon_root: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted as the daemon's state directory (spool and node id)."""
    state = daemon_root / "var/lib/glustereventsd"
    state.mkdir(parents=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(state)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root and mount permission): {result.stderr.strip()}")
    try:
        yield state
    finally:
        subprocess.run(["umount", "-l", str(state)], check=False)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        for _ in range(10_000):  # at most 640 MB: a 4 MiB tmpfs is full long before
            try:
                handle.write(b"\0" * 65536)
                handle.flush()
            except OSError:
                break
    return filler


def test_enospc_keeps_delivering_and_logs(small_tmpfs: Path, inproc: InProcessDaemon, receiver: Receiver) -> None:
    inproc.write_webhooks({receiver.url: {"concurrency": 2}})
    inproc.start()
    send_lines(inproc.port, [b"1 2 name=before%d" % i for i in range(5)])
    wait_for(lambda: receiver.count() == 5, what="before the disk fills")
    filler = fill(small_tmpfs)
    big = "x" * 2000
    send_lines(inproc.port, [b"1 2 name=full%d;pad=%s" % (i, big.encode()) for i in range(200)])
    wait_for(lambda: len(set(receiver.names())) == 205, timeout=20, what="delivered while the disk is full")
    assert inproc.stats.get("not_spooled", "write_failed") > 0
    assert "Cannot write the spool (events are delivered from memory only until it recovers)" in inproc.log_text()
    assert "full" in inproc.log_text().split("Cannot write the spool", 1)[1].splitlines()[0]
    failed = inproc.stats.get("not_spooled", "write_failed")
    filler.unlink()
    send_lines(inproc.port, [b"1 2 name=after%d" % i for i in range(20)])
    wait_for(lambda: len(set(receiver.names())) == 225, timeout=15, what="delivered after space returned")
    assert inproc.stats.get("not_spooled", "write_failed") == failed  # spooling again
    wait_for(lambda: statuses(inproc.root)[receiver.url].queued == 0, what="spool consistent")
    assert inproc.daemon.pipeline is not None and inproc.daemon.pipeline.is_alive()


def test_a_full_disk_shows_in_webhook_status_and_metrics(small_tmpfs: Path, daemon: DaemonProcess, receiver: Receiver) -> None:
    """Events the spool could not take are shown apart from the spooled ones, then delivered once space returns."""
    metrics_port = free_tcp_port()
    daemon.write_config({**FAST_RETRY, "metrics-port": metrics_port})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    receiver.stop()  # the webhook is down: events wait
    filler = fill(small_tmpfs)
    pad = b"p" * 1500
    send_lines(daemon.port, [b"1 2 name=held%d;pad=%s" % (i, pad) for i in range(60)])
    env = {"GLUSTER_EVENTS_ROOT": str(daemon.root), "PATH": "/usr/bin:/bin"}

    def status() -> tuple[int, str, dict[str, object]]:
        out, table = io.StringIO(), io.StringIO()
        main(["webhook-status", "--json"], Context(environ=env, stdin=io.StringIO(), stdout=out, stderr=io.StringIO()))
        main(["webhook-status"], Context(environ=env, stdin=io.StringIO(), stdout=table, stderr=io.StringIO()))
        hook = json.loads(out.getvalue())["output"][0]["webhooks"][0]
        return int(hook["memory_only"]), table.getvalue(), hook

    held, table, hook = wait_for(lambda: (got := status())[0] >= 50 and got, timeout=20, what="memory-only figure")
    assert f"+ {held} in memory" in table and "wait in memory only" in table and "cannot be written" in table
    assert int(str(hook["queued"])) < held  # the spool alone would have under-reported
    gauge = scrape(metrics_port)[("gluster_events_queue_memory_only", (("webhook", receiver.url),))]
    assert gauge >= 50
    filler.unlink()
    receiver.start()
    wait_for(lambda: len(set(receiver.names())) == 60, timeout=30, what="all delivered once space returned")
    wait_for(lambda: status()[0] == 0, what="nothing held in memory any more")


def test_a_reload_the_full_spool_cannot_take_is_not_reported_applied(small_tmpfs: Path, daemon: DaemonProcess,
                                                                      receiver: Receiver, make_receiver) -> None:
    """Webhooks added while the disk is full: the reload says it failed, and applies once space returns."""
    from glustereventsd.runtime import reloader
    from glustereventsd.base.paths import resolve_paths

    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    filler = fill(small_tmpfs)
    pad = b"p" * 1500
    send_lines(daemon.port, [b"1 2 name=full%d;pad=%s" % (i, pad) for i in range(60)])  # the WAL's room too
    wait_for(lambda: "Cannot write the spool" in daemon.log_text(), what="the spool write failing")
    added = [make_receiver() for _ in range(3)]
    hooks = {receiver.url: {}, **{extra.url: {} for extra in added}}
    daemon.write_webhooks(hooks)
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(daemon.root)})
    assert daemon.proc is not None
    outcome = reloader.request_reload(paths, 10, pid=daemon.proc.pid)
    assert not outcome.applied and "the spool could not be written" in outcome.detail, outcome
    assert "Reload not applied: the spool could not be written" in daemon.log_text()
    filler.unlink()
    outcome = reloader.request_reload(paths, 10, pid=daemon.proc.pid)  # the same files, now in force
    assert outcome.applied, outcome
    send_lines(daemon.port, [b"1 2 name=after"])
    for extra in added:
        wait_for(lambda: "after" in extra.names(), timeout=20, what="the event at each added webhook")
    wait_for(lambda: {f"full{i}" for i in range(60)} <= set(receiver.names()), timeout=20,
             what="the 60 sent while the disk was full")


def test_dead_letters_listed_and_requeued(daemon: DaemonProcess, receiver: Receiver) -> None:
    """Re-queued while events keep arriving: none may be stranded behind the daemon's read position."""
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    receiver.behaviour.statuses = [410, 410, 400]
    daemon.start()
    send_lines(daemon.port, [b"%d 2 name=d%d" % (100 + i, i) for i in range(4)])
    wait_for(lambda: receiver.count() == 1, what="the fourth delivered")
    path = spool_path(daemon.root)
    wait_for(lambda: len(spool.list_dead(path, receiver.url)) == 3, what="three dead letters")
    dead = spool.list_dead(path, receiver.url)
    assert [(d.ts, d.reason) for d in dead] == [(102, "HTTP 400"), (101, "HTTP 410"), (100, "HTTP 410")]
    original_ids = {a.headers["webhook-id"]: json_name(a.body) for a in receiver.attempts if a.status != 200}
    assert {d.event_id for d in dead} == set(original_ids)
    assert spool.list_dead(path, "http://127.0.0.1:1/other") == []
    # With the daemon running, the CLI asks it to re-queue (it moves them in its pipeline thread).
    assert spool.request_requeue(path, receiver.url) == 3
    stream = Stream(daemon.port, 200, rate_per_sec=400, prefix="live").start()  # traffic meanwhile
    daemon.reload()
    wait_for(lambda: spool.list_dead(path, receiver.url) == [], what="moved by the daemon")
    stream.join()
    wait_for(lambda: receiver.count() == 204, what="re-queued letters and the stream delivered")
    redelivered = [r for r in receiver.requests[1:] if json_name(r.body).startswith("d")]
    assert [json_name(r.body) for r in redelivered] == ["d0", "d1", "d2"]
    assert {r.headers["webhook-id"]: json_name(r.body) for r in redelivered} == original_ids
    wait_for(lambda: statuses(daemon.root)[receiver.url].queued == 0, what="acked")
    assert statuses(daemon.root)[receiver.url].dead_letters == 0


def json_name(body: bytes) -> str:
    import json

    return json.loads(body)["message"]["name"]


def test_max_event_age_moves_to_dead_letters(inproc: InProcessDaemon, receiver: Receiver) -> None:
    receiver.behaviour.default = 503
    inproc.write_config(FAST_RETRY)
    inproc.write_webhooks({receiver.url: {"concurrency": 1}})
    inproc.start()
    pipeline = inproc.daemon.pipeline
    assert pipeline is not None
    # The config floor is 60 s; shorten it in the running daemon so the test takes a second.
    from glustereventsd.config import options as config

    settings = dataclasses.replace(inproc.daemon.settings, max_event_age_secs=1)
    pipeline.reload(settings, config.load_webhooks(inproc.paths.webhooks_file)).wait(10)
    wait_for(lambda: pipeline.settings.max_event_age_secs == 1, what="reconfigured")
    send_lines(inproc.port, [b"7 2 name=old"])
    wait_for(lambda: spool.list_dead(inproc.paths.spool_file, receiver.url), timeout=10, what="dead letter")
    (dead,) = spool.list_dead(inproc.paths.spool_file, receiver.url)
    assert (dead.ts, dead.name) == (7, "VOLUME_CREATE")
    assert dead.reason == "undelivered after 1s: http_503"
    assert len(receiver.attempts_for("old")) >= 2  # it was retried until it got too old
    wait_for(lambda: statuses(inproc.root)[receiver.url].queued == 0, what="left the queue")


def test_removing_a_webhook_discards_only_its_spool(daemon: DaemonProcess, make_receiver) -> None:
    removed, kept = make_receiver(), make_receiver()
    daemon.write_config(FAST_RETRY)
    daemon.write_webhooks({removed.url: {"concurrency": 1}, kept.url: {"concurrency": 1}})
    daemon.start()
    removed.stop()
    kept.stop()
    send_lines(daemon.port, [b"1 2 name=k%d" % i for i in range(20)])
    wait_for(lambda: all(s.queued == 20 for s in statuses(daemon.root).values()), what="both spooled")
    daemon.write_webhooks({kept.url: {"concurrency": 1}})
    daemon.reload()
    assert list(statuses(daemon.root)) == [kept.url]
    assert statuses(daemon.root)[kept.url].queued == 20
    with sqlite3.connect(spool_path(daemon.root)) as db:
        assert db.execute("SELECT count(*) FROM queue").fetchone()[0] == 20
    kept.start()
    removed.start()
    wait_for(lambda: len(kept.distinct_names()) == 20, what="kept webhook delivered")
    assert kept.distinct_names() == [f"k{i}" for i in range(20)]
    send_lines(daemon.port, [b"1 2 name=marker"])
    wait_for(lambda: len(kept.distinct_names()) == 21, what="marker")
    assert removed.count() == 0


def test_memory_mode_delivers(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_config(FAST_RETRY | {"spool": "memory"})
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    assert "spool=memory" in daemon.log_text()
    receiver.stop()
    send_lines(daemon.port, [b"1 2 name=m%d" % i for i in range(30)])
    wait_for(lambda: len(event_log_lines(daemon.event_log)) == 30, what="accepted")
    assert statuses(daemon.root)[receiver.url].queued == 0  # nothing on disk in memory mode
    receiver.start()
    wait_for(lambda: len(receiver.distinct_names()) == 30, timeout=10, what="delivered from memory")
    assert receiver.distinct_names() == [f"m{i}" for i in range(30)]


def test_sigterm_is_prompt_with_a_busy_webhook_and_a_backlog(daemon: DaemonProcess, receiver: Receiver) -> None:
    # Answers every few ms: results reach the pipeline more often than its 10 ms commit wait,
    # and the 4,000-event backlog would take many seconds to drain.
    receiver.behaviour.delay_secs = 0.004
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=b%d" % i for i in range(4000)])
    wait_for(lambda: len(event_log_lines(daemon.event_log)) == 4000, what="accepted")
    wait_for(lambda: receiver.count() >= 50, what="delivery under way")
    started = time.monotonic()
    assert daemon.stop(timeout=60) == 0
    assert time.monotonic() - started < 5  # stops now; the backlog waits in the spool
    assert statuses(daemon.root)[receiver.url].queued > 1000
    receiver.behaviour.delay_secs = 0
    daemon.start()
    wait_for(lambda: len(set(receiver.distinct_names())) == 4000, timeout=30, what="backlog after restart")
    assert set(receiver.distinct_names()) == {f"b{i}" for i in range(4000)}


def test_steady_traffic_past_the_byte_bound_drops_nothing(daemon: DaemonProcess, receiver: Receiver) -> None:
    """The spool bound is about the backlog, not about all the traffic ever sent.

    Found in review: the byte total only grew, so a healthy webhook had its queue trimmed as
    "spool full" once the traffic reached spool-max-bytes.
    """
    daemon.write_config({"spool-max-bytes": 65536, "spool-max-events": 1000})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    stream = Stream(daemon.port, 1500, rate_per_sec=500).start()  # ~190 KB of bodies, never a backlog
    stream.join()
    wait_for(lambda: len(receiver.distinct_names()) == 1500, timeout=30, what="all 1,500 delivered")
    spool_file = daemon.root / "var/lib/glustereventsd/spool.sqlite3"
    # The last acks reach the spool with the pipeline's next commit, a moment after the receiver saw them.
    wait_for(lambda: spool.read_status(spool_file)[0].queued == 0, timeout=10, what="the last acks committed")
    status = spool.read_status(spool_file)[0]
    assert status.dropped == 0 and status.queued == 0
    assert "Spool full" not in daemon.log_text()
