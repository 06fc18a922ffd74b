"""The live feed's bounds and counts, and the pool watcher's verdicts and deadline."""

from __future__ import annotations

import json
import threading
import time

from gluster_eventsapi.listen import feed as livefeed
from gluster_eventsapi.listen import poolwatch
from gluster_eventsapi.listen import web as webserve
from gluster_eventsapi.listen.feed import Feed, Subscriber, Timeline


def event(name: str = "VOLUME_CREATE", node: str = "n1", **message: object) -> dict:
    return {"event": name, "nodeid": node, "ts": 1468303352, "message": message}


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_timeline_counts_per_second_and_forgets_the_old() -> None:
    line = Timeline(5)
    for when in (100.1, 100.9, 102.5):
        line.add(when)
    assert line.series(102.9) == {"end": 102, "counts": [0, 0, 2, 0, 1]}
    assert line.series(104.0) == {"end": 104, "counts": [2, 0, 1, 0, 0]}
    line.add(103.5)  # late but inside the window
    assert line.series(104.0)["counts"] == [2, 0, 1, 1, 0]
    assert line.series(200.0) == {"end": 200, "counts": [0, 0, 0, 0, 0]}
    line.add(150.0)  # older than the window: ignored
    assert sum(line.series(200.0)["counts"]) == 0


def test_counts_keep_a_bounded_number_of_keys() -> None:
    counts = livefeed.BoundedCounts(limit=2)
    for key in ("a", "b", "c", "a", "d"):
        counts.add(key)
    assert counts.as_dict() == {"a": 2, livefeed.OTHER: 2, "b": 1}


def test_feed_holds_the_newest_and_counts_only_trusted_events() -> None:
    clock = Clock()
    feed = Feed(max_events=3, clock=clock)
    for i in range(5):
        feed.publish("event", "verified", "token ok", "127.0.0.1", "/", event(name=f"E{i % 2}", name_=i))
    feed.publish("event", "failed", "bad token", "10.0.0.9", "/", event(name="FORGED"))
    feed.publish("test", "none", "", "127.0.0.1", "/", None)
    snapshot = feed.snapshot()
    assert [row["seq"] for row in snapshot["rows"]] == [5, 6, 7]
    stats = snapshot["stats"]
    assert stats["events"] == {"E0": 3, "E1": 2}  # the forged one is shown, not counted
    assert stats["nodes"] == {"n1": 5}
    assert stats["kinds"] == {"event:verified": 5, "event:failed": 1, "test:none": 1}
    assert sum(stats["timeline"]["counts"]) == 5


def test_rows_are_bounded_in_size_and_plain_json() -> None:
    huge = event(blob="x" * (livefeed.MAX_ATTRIBUTES_CHARS + 1))
    row = livefeed.make_row(1, 5.0, "event", "none", "", "127.0.0.1", "/" + "p" * 5000, huge)
    assert row["message"] == {} and "not shown" in row["note"]
    assert len(row["path"]) <= livefeed.MAX_FIELD_CHARS + 1
    odd = livefeed.make_row(2, 5.0, "event", "none", "", "::1", "/",
                            {"event": ["not", "a", "name"], "nodeid": 7, "ts": True, "message": "text"})
    assert odd["event"] == '["not", "a", "name"]' and odd["node"] == "7" and odd["ts"] is None
    assert odd["message"] == {"(message)": "text"}
    message = livefeed.sse_message("row", {"text": "line one\nline two\r\n\n"})
    assert message.count(b"\n") == 3 and message.endswith(b"\n\n")  # one data line, whatever the text
    assert json.loads(message.split(b"data: ")[1]) == {"text": "line one\nline two\r\n\n"}


def test_a_slow_browser_is_dropped_when_its_buffer_is_full() -> None:
    feed = Feed(client_buffer=3, max_clients=2)
    slow, _ = feed.subscribe() or (None, b"")
    fast, first = feed.subscribe() or (None, b"")
    assert slow is not None and fast is not None and first.startswith(b"event: snapshot\n")
    assert feed.subscribe() is None  # at most two
    for i in range(3):
        feed.publish("event", "none", "", "h", "/", event(name_=i))
        assert len(fast.take(0)) == 1
    assert feed.client_count() == 2
    feed.publish("event", "none", "", "h", "/", event(name_=3))  # the fourth: slow overflows
    assert slow.dropped and feed.client_count() == 1
    assert slow.take(0) == []
    assert len(fast.take(0)) == 1
    assert feed.subscribe() is not None  # its place is free again


def test_subscriber_take_waits_for_a_message_or_the_timeout() -> None:
    subscriber = Subscriber(10)
    started = time.monotonic()
    assert subscriber.take(0.05) == [] and time.monotonic() - started >= 0.04
    threading.Timer(0.05, subscriber.offer, args=(b"x",)).start()
    assert subscriber.take(5) == [b"x"]


def test_snapshot_and_stream_never_miss_or_repeat_a_row() -> None:
    feed = Feed(max_events=100000, client_buffer=100000)
    stop = threading.Event()

    def publish() -> None:
        i = 0
        while not stop.is_set() and i < 20000:
            feed.publish("event", "none", "", "h", "/", event(name_=i))
            i += 1

    thread = threading.Thread(target=publish)
    thread.start()
    time.sleep(0.01)
    subscriber, first = feed.subscribe() or (None, b"")
    assert subscriber is not None
    time.sleep(0.02)
    stop.set()
    thread.join(10)
    snapshot = json.loads(first.split(b"data: ", 1)[1])
    seqs = [row["seq"] for row in snapshot["rows"]]
    seqs += [json.loads(m.split(b"data: ", 1)[1])["seq"] for m in subscriber.take(0)]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == feed.snapshot()["rows"][-1]["seq"]


def test_host_names_and_loopback() -> None:
    assert webserve.host_name("[::1]:9000") == "::1"
    assert webserve.host_name("Localhost:9000") == "localhost"
    assert webserve.host_name("127.0.0.1") == "127.0.0.1"
    assert webserve.host_name("::1") == "::1"
    assert all(webserve.is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"))
    assert not any(webserve.is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "example.com", ""))


def hook(**fields: object) -> dict:
    return {"url": "http://mon/", "queued": 0, "oldest_age_secs": 0.0, "last_error": "",
            "last_error_age_secs": None, "last_success_age_secs": None, **fields}


def test_hook_health() -> None:
    assert poolwatch.hook_health(hook()) == "ok"
    assert poolwatch.hook_health(hook(last_error="HTTP 503", last_error_age_secs=3.0)) == "failing"
    assert poolwatch.hook_health(hook(last_error="HTTP 503", last_error_age_secs=3.0,
                                      last_success_age_secs=10.0)) == "failing"
    recovered = hook(last_error="HTTP 503", last_error_age_secs=30.0, last_success_age_secs=2.0)
    assert poolwatch.hook_health(recovered) == "ok"
    assert poolwatch.hook_health(hook(queued=5, oldest_age_secs=poolwatch.BEHIND_SECS + 1)) == "behind"
    assert poolwatch.hook_health(hook(queued=5, oldest_age_secs=2.0)) == "ok"


def test_annotate_names_the_worst_and_the_failing_nodes() -> None:
    rows = [{"node": "localhost", "node_status": "UP", "error": "", "webhooks": [hook()]},
            {"node": "node2", "node_status": "UP", "error": "",
             "webhooks": [hook(), hook(last_error="connect", last_error_age_secs=1.0)]},
            {"node": "node3", "node_status": "DOWN", "error": "SSH connection refused", "webhooks": []}]
    summary = poolwatch.annotate(rows)
    assert summary == {"health": "unreachable", "failing_nodes": ["node2", "node3"]}
    assert [row["health"] for row in rows] == ["ok", "failing", "unreachable"]
    assert [h["health"] for h in rows[1]["webhooks"]] == ["ok", "failing"]


def test_pool_watch_reports_a_late_fan_out_and_never_runs_two() -> None:
    published: list[dict] = []
    release = threading.Event()
    running = []

    def slow_fetch() -> dict:
        running.append(1)
        assert len(running) == 1, "two fan-outs at once"
        release.wait(10)
        running.pop()
        return {"ok": True, "error": "", "nodes": [], "health": "ok", "failing_nodes": []}

    watch = poolwatch.PoolWatch(slow_fetch, published.append, interval=0.05, deadline=0.2)
    watch.start()
    try:
        deadline = time.monotonic() + 5
        while not published and time.monotonic() < deadline:
            time.sleep(0.01)
        assert published and published[0]["stale"] and "did not answer within" in published[0]["error"]
        time.sleep(0.3)
        assert len(published) == 1  # still waiting for the same fan-out
        release.set()
        while len(published) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert published[1]["ok"] and "stale" not in published[1]
    finally:
        watch.stop()


def test_pool_watch_turns_an_exception_into_a_state() -> None:
    published: list[dict] = []

    def broken() -> dict:
        raise RuntimeError("boom")

    watch = poolwatch.PoolWatch(broken, published.append, interval=10, deadline=5)
    watch.start()
    try:
        deadline = time.monotonic() + 5
        while not published and time.monotonic() < deadline:
            time.sleep(0.01)
        assert published[0]["ok"] is False and published[0]["error"] == "pool status failed: boom"
    finally:
        watch.stop()
