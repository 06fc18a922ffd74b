"""The "now" panel's state (``listen.now``): events open and close conditions per node as the spools do,
alarms leave when their time is up, a read of the pool replaces the state and replays what came meanwhile,
and the feed sends every change to the browsers."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from gluster_eventsapi.errors import CliError
from gluster_eventsapi.listen.feed import Feed
from gluster_eventsapi.listen import now as now_module
from gluster_eventsapi.listen.now import ConditionsWatch, OpenConditions
from gluster_eventsapi.results import ConditionsReport, NodeResult

BRICK = {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"}
BRICK_KEY = 'GlusterBrickDown{brick="server2:/bricks/b1",volume="gv0"}'
PEER_KEY = 'GlusterPeerDisconnected{peer_uuid="u3"}'


def event(event_name: str, node: str = "n1", ts: int = 1000, **message: object) -> dict[str, Any]:
    return {"event": event_name, "nodeid": node, "ts": ts, "message": message}


def report(key: str, alertname: str, opened: float, closed: float = 0.0, ends: float = 0.0,
           kind: str = "condition", **labels: str) -> dict[str, Any]:
    """One row of ``node-conditions``, as a node's spool answers it."""
    return {"key": key, "alertname": alertname, "kind": kind, "labels": {"alertname": alertname, **labels},
            "summary": f"{alertname} summary", "opened_at": opened, "last_open_at": opened, "closed_at": closed,
            "ends_at": ends, "open_event": "X", "close_event": ""}


def test_events_open_and_close_per_node_and_sweeps_close_what_they_match() -> None:
    now = OpenConditions()
    assert now.apply_event(event("VOLUME_CREATE", name="gv0"), 1000) == []  # informational
    assert now.apply_event(event("NOT_AN_EVENT"), 1000) == []
    assert now.apply_event(event("BRICK_CONNECTED", **BRICK), 1000) == []  # not open: nothing to close
    assert now.apply_event(event("BRICK_DISCONNECTED", ts=1010, **BRICK), 1000) == [BRICK_KEY]
    entry = now.entry(BRICK_KEY)
    assert entry is not None
    assert entry == {"key": BRICK_KEY, "alertname": "GlusterBrickDown", "kind": "condition", "severity": "critical",
                     "labels": {"volume": "gv0", "brick": "server2:/bricks/b1"},
                     "summary": "Brick server2:/bricks/b1 of volume gv0 is down", "since": 1010.0, "ends_at": None,
                     "nodes": ["n1"]}
    # The same peer reported by two nodes: one condition, open while either holds it.
    peer = {"peer": "server3", "uuid": "u3"}
    now.apply_event(event("PEER_DISCONNECT", "n1", 1020, **peer), 1000)
    now.apply_event(event("PEER_DISCONNECT", "n2", 1015, **peer), 1000)
    assert (now.entry(PEER_KEY) or {})["nodes"] == ["n1", "n2"] and (now.entry(PEER_KEY) or {})["since"] == 1015
    assert now.apply_event(event("PEER_CONNECT", "n1", host="server3", uuid="u3"), 1000) == [PEER_KEY]
    assert (now.entry(PEER_KEY) or {})["nodes"] == ["n2"]
    assert now.apply_event(event("PEER_CONNECT", "n2", host="server3", uuid="u3"), 1000) == [PEER_KEY]
    assert now.entry(PEER_KEY) is None
    # VOLUME_STOP closes the volume's conditions that its node holds (as that node's spool does).
    now.apply_event(event("BRICK_DISCONNECTED", "n2", **BRICK), 1000)
    assert now.apply_event(event("VOLUME_STOP", "n1", name="gv9"), 1000) == []
    assert now.apply_event(event("VOLUME_STOP", "n1", name="gv0"), 1000) == [BRICK_KEY]
    assert (now.entry(BRICK_KEY) or {})["nodes"] == ["n2"]
    # The body's time is used; an event without one (or a bad one) counts at its arrival.
    now.apply_event({"event": "QUORUM_LOST", "nodeid": "n1", "ts": "soon", "message": {"volume": "gv1"}}, 1234.5)
    assert (now.entry('GlusterServerQuorumLost{volume="gv1"}') or {})["since"] == 1234.5
    # A hostile body never raises.
    assert now.apply_event({"event": 5, "nodeid": None, "message": "x"}, 1000) == []


def test_alarms_and_expiring_conditions_leave_when_their_time_is_up() -> None:
    now = OpenConditions()
    split = {"subvol": "gv0-replicate-0", "type": "data", "file": "/f"}
    (key,) = now.apply_event(event("AFR_SPLIT_BRAIN", ts=1000, **split), 1000)
    entry = now.entry(key) or {}
    assert entry["kind"] == "alarm" and entry["ends_at"] == 1000 + 86400
    now.apply_event(event("AFR_SPLIT_BRAIN", ts=2000, **split), 2000)  # a repeat extends it
    assert (now.entry(key) or {})["ends_at"] == 2000 + 86400 and (now.entry(key) or {})["since"] == 1000
    assert now.expire(2000 + 86399) == []
    assert now.expire(2000 + 86400) == [key] and now.entry(key) is None
    # A client disconnect expires an hour after its last report.
    (client,) = now.apply_event(event("CLIENT_DISCONNECT", ts=5000, client_uid="c1-RECON_NO:-1", brick_path="/b"),
                                5000)
    assert (now.entry(client) or {})["ends_at"] == 5000 + 3600
    assert now.expire(8600) == [client]


def test_a_pool_read_replaces_the_state_and_replays_what_came_meanwhile() -> None:
    now = OpenConditions()
    now.apply_event(event("QUORUM_LOST", "n1", volume="old"), 1000)  # before the read: the read decides
    since = now.seq
    now.apply_event(event("BRICK_CONNECTED", "id-a", **BRICK), 1000)  # came while the read ran
    now.apply_event(event("QUORUM_LOST", "id-b", ts=1500, volume="gv1"), 1000)
    rows = (
        NodeResult("node-a", True, True, nodeid="id-a", data=[
            report(BRICK_KEY, "GlusterBrickDown", 900, severity="critical", volume="gv0", brick="server2:/bricks/b1"),
            report('GlusterServerQuorumLost{volume="gv2"}', "GlusterServerQuorumLost", 950, closed=990,
                   severity="critical", volume="gv2"),  # closed: not shown
            report("GlusterAfrSplitBrain{x}", "GlusterAfrSplitBrain", 100, ends=500, kind="alarm"),  # over
            report("GlusterBitrotBadFile{y}", "GlusterBitrotBadFile", 1900, ends=5000, kind="alarm", severity="critical"),
            "not a report"]),
        NodeResult("node-b", True, True, nodeid="id-b", data=[]),
        NodeResult("node-c", False, False, error="ssh: connect timed out", data=None),
    )
    now.replace(ConditionsReport((), rows), since, 2000)
    entries = {e["key"]: e for e in now.snapshot()["entries"]}
    # The brick's close (replayed) wins over the read that missed it; the quorum lost meanwhile is there.
    assert sorted(entries) == ["GlusterBitrotBadFile{y}", 'GlusterServerQuorumLost{volume="gv1"}']
    assert entries["GlusterBitrotBadFile{y}"]["ends_at"] == 5000 and entries["GlusterBitrotBadFile{y}"]["nodes"] == ["id-a"]
    assert entries["GlusterBitrotBadFile{y}"]["severity"] == "critical"
    snapshot = now.snapshot()
    assert snapshot["loaded"] and snapshot["read_at"] == 2000
    assert snapshot["names"] == {"id-a": "node-a", "id-b": "node-b"}
    assert snapshot["error"] == "node-c: ssh: connect timed out: their conditions are not shown"
    now.failed("cannot read the pool", 2100)
    assert now.snapshot()["error"] == "cannot read the pool" and now.snapshot()["loaded"]


def test_the_feed_sends_each_change_and_the_snapshot_holds_the_panel() -> None:
    clock = [1000.0]
    feed = Feed(clock=lambda: clock[0], now=OpenConditions())
    opened: list[int] = []
    feed.on_subscribe = lambda: opened.append(1)
    subscribed = feed.subscribe()
    assert subscribed is not None and opened == [1]
    subscriber, first = subscribed
    assert json.loads(first.decode().split("data: ", 1)[1])["conditions"]["entries"] == []
    feed.publish("event", "failed", "bad token", "127.0.0.1", "/", event("BRICK_DISCONNECTED", **BRICK))
    feed.publish("event", "none", "", "127.0.0.1", "/", event("BRICK_DISCONNECTED", **BRICK))
    feed.publish("event", "none", "", "127.0.0.1", "/", event("AFR_SPLIT_BRAIN", ts=int(clock[0]) - 86400 + 5,
                                                              subvol="gv0-replicate-0", file="/f"))
    messages = [m.decode() for m in subscriber.take(0)]
    changes = [json.loads(m.split("data: ", 1)[1]) for m in messages if m.startswith("event: condition\n")]
    assert [c["key"] for c in changes] == [BRICK_KEY, 'GlusterAfrSplitBrain{file="/f",subvol="gv0-replicate-0",volume="gv0"}']
    assert changes[0]["entry"]["nodes"] == ["n1"]  # the refused copy changed nothing
    clock[0] += 6
    feed.stats()  # each second: the alarm's time is up
    (gone,) = [json.loads(m.decode().split("data: ", 1)[1]) for m in subscriber.take(0)]
    assert gone == {"key": changes[1]["key"], "entry": None}
    feed.set_conditions(ConditionsReport((), (NodeResult("localhost", True, True, nodeid="n1", data=[]),)), 0)
    (whole,) = subscriber.take(0)
    assert whole.startswith(b"event: conditions\n")
    assert [e["key"] for e in json.loads(whole.decode().split("data: ", 1)[1])["entries"]] == [BRICK_KEY]  # replayed
    feed.conditions_failed("the pool did not answer")
    assert json.loads(subscriber.take(0)[0].decode().split("data: ", 1)[1])["error"] == "the pool did not answer"
    assert Feed().snapshot()["conditions"] is None  # no panel


def test_the_watch_reads_when_a_page_opens_never_twice_at_once_and_reports_failures() -> None:
    calls: list[float] = []
    done: list[tuple[ConditionsReport, int]] = []
    failures: list[str] = []
    release = threading.Event()
    answers: list[Any] = [CliError("'gluster pool list' failed: glusterd is not running"),
                          ConditionsReport((), ())]

    def source() -> ConditionsReport:
        calls.append(time.monotonic())
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        release.wait(5)
        return answer

    pages = [0]
    watch = ConditionsWatch(source, lambda: 7, lambda r, s: done.append((r, s)), failures.append, lambda: pages[0],
                            interval=60, deadline=0.3)
    watch.start()
    try:
        watch.want()
        time.sleep(0.3)
        assert calls == []  # no page open: nothing to read for
        pages[0] = 1
        watch.want()
        deadline = time.monotonic() + 5
        while not failures and time.monotonic() < deadline:
            time.sleep(0.02)
        assert failures == ["cannot read the pool's open conditions: 'gluster pool list' failed: glusterd is "
                            "not running; showing what the events said"]
        time.sleep(3.1)  # past the debounce
        watch.want()
        while len(failures) < 2 and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        assert "did not answer within 0s" in failures[1]  # late: said so, and no second read started
        watch.want()
        time.sleep(0.2)
        assert len(calls) == 2 and done == []
        release.set()
        while not done and time.monotonic() < deadline + 10:
            time.sleep(0.02)
        assert done == [(ConditionsReport((), ()), 7)]  # taken when it comes, the events since replayed over it
    finally:
        watch.stop()


def test_a_sender_of_ever_new_node_ids_cannot_grow_the_panel_without_bound(monkeypatch: Any) -> None:
    """Hostile review (issue 20): 300 events of one condition with long, new node ids each took the
    real ``listen --web`` to 580 MB, a 270 MB snapshot and 3 minutes of answers (each change of the
    condition went to every page with all its nodes)."""
    now = OpenConditions()
    for i in range(600):
        now.apply_event(event("QUORUM_LOST", node=f"{i}-" + "x" * 10_000, volume="gv1"), 1000)
    (entry,) = now.snapshot()["entries"]
    assert len(entry["nodes"]) == 500  # MAX_NODES_PER_CONDITION
    assert max(len(node) for node in entry["nodes"]) == 257  # cut to 256 characters and "…", as the rows
    assert len(json.dumps(now.snapshot())) < 200_000
    # A node already held still changes its report; a closing event from it still closes it.
    first = entry["nodes"][0]
    assert now.apply_event(event("QUORUM_REGAINED", node=first.rstrip("…") + "x" * 10_000, volume="gv1"),
                           1000) == ['GlusterServerQuorumLost{volume="gv1"}']
    # And in all, over many conditions: at most MAX_REPORTS node reports.
    monkeypatch.setattr(now_module, "MAX_REPORTS", 50)
    many = OpenConditions()
    for volume in range(20):
        for node in range(10):
            many.apply_event(event("QUORUM_LOST", node=f"n{node}", volume=f"gv{volume}"), 1000)
    assert sum(len(e["nodes"]) for e in many.snapshot()["entries"]) == 50
    # The pool's own answer is held within the same bounds.
    many.replace(ConditionsReport((), tuple(
        NodeResult(f"node{n}", up=True, ok=True, nodeid=f"id{n}", data=[
            report(f'GlusterServerQuorumLost{{volume="gv{v}"}}', "GlusterServerQuorumLost", 900.0, volume=f"gv{v}")
            for v in range(20)]) for n in range(10))), many.seq, 1000.0)
    assert sum(len(e["nodes"]) for e in many.snapshot()["entries"]) == 50
