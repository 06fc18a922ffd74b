"""The live page's "now" panel in a real headless Chromium: open conditions, at load and live.

Real processes all the way: glustereventsd daemons get the events as UDP datagrams, keep
their conditions in their spools and POST the events to the real ``listen --web`` process,
which reads the pool's conditions from those spools (as ``gluster-eventsapi conditions``
does) and streams the changes to the browser.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from eventtypes import conditions as catalog
from eventtypes.emit import gf_event
from glustereventsd.base.paths import resolve_paths
from glustereventsd.spool.admin import read_conditions
from tests.browser import Browser, WebListener, save_for_readme
from tests.helpers import DaemonProcess, nodeid_of, wait_for

BRICK = {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"}
BRICK_KEY = 'GlusterBrickDown{brick="server2:/bricks/b1",volume="gv0"}'

NOW_JS = """
return Array.from(document.querySelectorAll('#now-rows tr')).map(tr => ({
  key: tr.dataset.key, alertname: tr.dataset.alertname, severity: tr.dataset.severity, kind: tr.dataset.kind,
  labels: Object.fromEntries(Array.from(tr.querySelectorAll('.labels .attr'))
    .map(chip => [chip.dataset.label, chip.querySelector('.v').textContent])),
  since: tr.querySelector('.since time').getAttribute('datetime'),
  until: (tr.querySelector('.since .until time') || {getAttribute: () => null}).getAttribute('datetime'),
  nodes: Array.from(tr.querySelectorAll('.nodes span')).map(span => span.dataset.node),
  nodeText: tr.querySelector('.nodes').textContent,
  summary: tr.querySelector('.summary').textContent}));
"""
PANEL_JS = """
const panel = document.getElementById('now');
const heading = panel.querySelector('h2');
return {top: panel === document.querySelector('main').firstElementChild,
        labelled: panel.getAttribute('aria-labelledby') === heading.id, heading: heading.textContent,
        empty: !document.getElementById('now-empty').hidden, emptyText: document.getElementById('now-empty').textContent,
        table: !document.getElementById('now-table').hidden, status: document.getElementById('now-status').textContent,
        loaded: panel.dataset.loaded === '1'};
"""


def shown(browser: Browser) -> list[dict[str, Any]]:
    return list(browser.js(NOW_JS))


def panel(browser: Browser) -> dict[str, Any]:
    return dict(browser.js(PANEL_JS))


def iso_seconds(text: str) -> float:
    import datetime

    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def one_node_root(root: Path) -> Path:
    """A node kept under GLUSTER_EVENTS_ROOT whose pool is itself (an empty peers file)."""
    events = root / "var/lib/glusterd/events"
    events.mkdir(parents=True)
    (events / "peers.json").write_text("{}")
    return root


@pytest.fixture
def node(tmp_path: Path) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(one_node_root(tmp_path / "node1"), _free_port())
    yield daemon
    daemon.stop()
    assert "Traceback" not in daemon.log_text()


def _free_port() -> int:
    from tests.helpers import free_udp_port

    return free_udp_port()


@pytest.fixture
def listen_on(node: DaemonProcess) -> Iterator[Callable[[], WebListener]]:
    """``listen --web`` run as that node's CLI (its pool: the node itself)."""
    made: list[WebListener] = []

    def make() -> WebListener:
        env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(node.root), "PATH": "/nonexistent"}
        made.append(WebListener(env=env))
        return made[-1]

    yield make
    for one in made:
        assert one.stop() == 0, one.err
        assert not any("Traceback" in line for line in one.err), one.err


def spool_has(daemon: DaemonProcess, alertname: str) -> bool:
    path = resolve_paths({"GLUSTER_EVENTS_ROOT": str(daemon.root)}).spool_file
    return any(row.alertname == alertname and not row.closed_at for row in read_conditions(path))


def test_the_panel_shows_what_is_open_at_load_then_follows_the_events(node: DaemonProcess, listen_on: Any,
                                                                       make_daemon: Any, browser: Browser,
                                                                       tmp_path: Path) -> None:
    # A brick went down before anyone listened: only the node's spool knows it.
    node.start()
    opened = int(time.time()) - 120
    gf_event("BRICK_DISCONNECTED", port=node.port, ts=opened, **BRICK)
    wait_for(lambda: spool_has(node, "GlusterBrickDown"), what="the condition in the spool")
    web = listen_on()
    browser.open(web.url())
    wait_for(lambda: panel(browser)["loaded"], what="the pool's conditions read")
    (brick,) = wait_for(lambda: shown(browser) or None, what="the open brick at load")
    me = nodeid_of(node.root)
    assert brick["key"] == BRICK_KEY and brick["alertname"] == "GlusterBrickDown"
    assert brick["severity"] == "critical" and brick["kind"] == "condition"
    assert brick["labels"] == {"volume": "gv0", "brick": "server2:/bricks/b1"}
    assert iso_seconds(brick["since"]) == opened and brick["until"] is None
    assert brick["nodes"] == [me] and brick["nodeText"].startswith("localhost")  # named as the pool names it
    assert "server2:/bricks/b1" in brick["summary"]
    state = panel(browser)
    assert state["top"] and state["labelled"] and state["table"] and not state["empty"]
    assert "1 open · 1 critical" in state["heading"]

    # From now on the events come to the page: two nodes report, the panel follows each event.
    other = make_daemon("node2")
    for daemon in (node, other):
        daemon.write_webhooks({web.url("listen"): {}})
    node.reload()
    other.start()
    peer = {"peer": "server3", "uuid": "5b1f0c6e-0000-4000-8000-000000000003", "state": "Peer in Cluster"}
    gf_event("PEER_DISCONNECT", port=node.port, **peer)
    gf_event("PEER_DISCONNECT", port=other.port, **peer)
    gf_event("QUORUM_LOST", port=other.port, volume="gv1")

    def open_names() -> list[str]:
        return [row["alertname"] for row in shown(browser)]

    wait_for(lambda: sorted(open_names()) == ["GlusterBrickDown", "GlusterPeerDisconnected",
                                               "GlusterServerQuorumLost"], what="three open")
    wait_for(lambda: len(next(r for r in shown(browser) if r["alertname"] == "GlusterPeerDisconnected")["nodes"]) == 2,
             what="the peer seen by both nodes")
    (peer_row,) = [r for r in shown(browser) if r["alertname"] == "GlusterPeerDisconnected"]
    save_for_readme(browser.full_page_screenshot(tmp_path / "now-panel.png"), "listen-web-now.png")
    assert sorted(peer_row["nodes"]) == sorted([me, nodeid_of(other.root)])  # one condition, two nodes
    assert peer_row["labels"] == {"peer_uuid": peer["uuid"]}
    gf_event("PEER_CONNECT", port=node.port, host="server3", uuid=peer["uuid"])
    wait_for(lambda: next(r for r in shown(browser) if r["alertname"] == "GlusterPeerDisconnected")["nodes"]
             == [nodeid_of(other.root)], what="still open on the other node")
    gf_event("PEER_CONNECT", port=other.port, host="server3", uuid=peer["uuid"])
    gf_event("BRICK_CONNECTED", port=node.port, **BRICK)
    wait_for(lambda: open_names() == ["GlusterServerQuorumLost"], what="the closing events close them")

    # An alarm stays on for its duration, then leaves by itself: this one was raised a day ago, less 4 s.
    duration = catalog.ALARMS["AFR_SPLIT_BRAIN"].duration_secs
    gf_event("AFR_SPLIT_BRAIN", port=node.port, ts=int(time.time()) - duration + 4,
             subvol="gv0-replicate-0", type="data", file="/f")
    alarm = wait_for(lambda: next((r for r in shown(browser) if r["kind"] == "alarm"), None), what="the alarm")
    assert alarm["alertname"] == "GlusterAfrSplitBrain" and alarm["until"] is not None
    wait_for(lambda: open_names() == ["GlusterServerQuorumLost"], timeout=12, what="the alarm's time is up")

    gf_event("QUORUM_REGAINED", port=other.port, volume="gv1")
    wait_for(lambda: panel(browser)["empty"], what="the empty state")
    state = panel(browser)
    assert not state["table"] and state["emptyText"].startswith("Nothing is open")
    # A page opened now reads the same from the pool: nothing open.
    browser.open(web.url())
    wait_for(lambda: panel(browser)["loaded"] and panel(browser)["empty"], what="empty at load")
    other.stop()

    # A condition cleared by hand (condition-clear, the real CLI) is gone from a page opened after it.
    gf_event("BRICK_DISCONNECTED", port=node.port, **BRICK)
    wait_for(lambda: open_names() == ["GlusterBrickDown"], what="open again")
    done = subprocess.run([sys.executable, "-m", "gluster_eventsapi", "condition-clear", BRICK_KEY],
                          env={**node.env, "PATH": "/nonexistent"}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "Cleared GlusterBrickDown" in done.stdout, done.stdout + done.stderr
    time.sleep(3.2)  # past the pause between two reads of the pool
    browser.open(web.url())
    wait_for(lambda: panel(browser)["empty"], what="the cleared condition gone from the page")


def _post(web: WebListener, body: bytes) -> int:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=10)
    try:
        connection.request("POST", "/listen", body=body, headers={"Content-Type": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_hostile_event_contents_never_break_the_panel_or_the_page(node: DaemonProcess, listen_on: Any,
                                                                   browser: Browser) -> None:
    """Anyone who may POST to the receiver sends these (hostile review of issue 20): markup in every
    string, a time past what a browser's Date can hold, and NaN/Infinity, which Python's json reads
    and writes but a browser's JSON.parse refuses (a snapshot holding one left every new page blank)."""
    web = listen_on()
    browser.open(web.url())
    wait_for(lambda: panel(browser)["loaded"], what="the pool's conditions read")
    script = '<img src=x onerror="window.__owned=1"><script>window.__owned=2</script>'
    far = 1e13  # about the year 318857: new Date(far * 1000).toISOString() throws
    assert _post(web, json.dumps({"event": "BRICK_DISCONNECTED", "nodeid": script, "ts": far, "message": {
        "peer": script, "volume": script, "brick": "/b1"}}).encode()) == 200
    wait_for(lambda: [r["alertname"] for r in shown(browser)] == ["GlusterBrickDown"], what="shown, far time or not")
    (row,) = shown(browser)
    assert row["labels"]["volume"] == script and row["nodes"] == [script]
    assert iso_seconds(row["since"]) <= time.time() + 60  # the receiver's clock stands in for an impossible time
    # NaN and Infinity in the event time and in its attributes.
    assert _post(web, b'{"event": "QUORUM_LOST", "nodeid": "n1", "ts": NaN, "message": {"volume": "gv1"}}') == 200
    assert _post(web, b'{"event": "VOLUME_CREATE", "nodeid": "n1", "ts": Infinity, '
                      b'"message": {"name": "v1", "size": -Infinity}}') == 200
    assert _post(web, b'{"event": "QUORUM_LOST", "nodeid": "n2", "ts": 1' + b"0" * 400 + b', '
                      b'"message": {"volume": "gv1"}}') == 200
    wait_for(lambda: len(shown(browser)) == 2 and len(shown(browser)[-1]["nodes"]) == 2, what="the quorum lost too")
    browser.open(web.url())  # a new page starts from a snapshot that holds all of them
    wait_for(lambda: sorted(r["alertname"] for r in shown(browser)) == ["GlusterBrickDown", "GlusterServerQuorumLost"],
             what="the panel at load")
    rows = browser.js("return document.querySelectorAll('#rows tr').length")
    assert rows == 4, rows
    assert browser.js("return window.__owned === undefined"), "markup from an event ran in the page"
