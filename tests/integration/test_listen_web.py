"""``listen --web`` in a real headless Chromium: events from real daemons, live, filtered, counted.

The events travel the whole way: a UDP datagram to a real glustereventsd, its POST to the
real ``listen --web`` process, the Server-Sent Events stream to the browser, the DOM.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import secrets
from tests.browser import Browser, WebListener
from tests.helpers import DaemonProcess, nodeid_of, send_raw, wait_for

VOLUME_CREATE, VOLUME_START, QUORUM_LOST = 2, 3, 80

ROWS_JS = """
return Array.from(document.querySelectorAll('#rows tr')).map(tr => ({
  kind: tr.dataset.kind, auth: tr.dataset.auth, event: tr.dataset.event, node: tr.dataset.node,
  cells: Array.from(tr.cells).map(td => td.textContent)}));
"""
COUNTS_JS = """
return Object.fromEntries(Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))
  .map(tr => [tr.dataset.key, Number(tr.querySelector('.count').textContent)]));
"""


@pytest.fixture
def listener():
    made: list[WebListener] = []

    def make(*argv: str, stdin: str = "") -> WebListener:
        made.append(WebListener(*argv, stdin=stdin))
        return made[-1]

    yield make
    for one in made:
        assert one.stop() == 0, one.err
        assert one.err[-1] == "Stopped listening.", one.err


def rows(browser: Browser) -> list[dict]:
    return browser.js(ROWS_JS)


def counts(browser: Browser, table: str) -> dict[str, int]:
    return browser.js(COUNTS_JS, table)


def select(browser: Browser, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(browser.driver.find_element("id", element_id)).select_by_value(value)


def watch_for_row(browser: Browser, event: str, name: str) -> None:
    """Record (browser clock, ms) when a row of ``event`` with attribute name=``name`` appears."""
    browser.js("""
      const [event, name] = [arguments[0], arguments[1]];
      window.__seenAt = null;
      const observer = new MutationObserver(() => {
        for (const tr of document.querySelectorAll('#rows tr')) {
          if (tr.dataset.event === event && tr.cells[3].textContent.includes('name=' + name)) {
            window.__seenAt = Date.now(); observer.disconnect(); return;
          }
        }
      });
      observer.observe(document.getElementById('rows'), {childList: true});
    """, event, name)


def send(daemon: DaemonProcess, event_id: int, attributes: str) -> None:
    send_raw(daemon.port, f"{int(time.time())} {event_id} {attributes}".encode())


def test_events_from_daemons_appear_live_filter_and_counts(listener, make_daemon, browser: Browser,
                                                           tmp_path: Path) -> None:
    web = listener()
    browser.open(web.url())
    assert rows(browser) == [] and browser.js("return !document.getElementById('empty').hidden")
    first, second = make_daemon("a"), make_daemon("b")
    for daemon in (first, second):
        daemon.write_webhooks({web.url("listen"): {}})
        daemon.start()
    node_a, node_b = nodeid_of(first.root), nodeid_of(second.root)

    # One event, timed from its datagram to its row in the page (the same machine's clock).
    watch_for_row(browser, "VOLUME_CREATE", "first")
    sent_at = time.time()
    send(first, VOLUME_CREATE, "name=first")
    seen_ms = wait_for(lambda: browser.js("return window.__seenAt"), 10, 0.01, "the first row")
    latency = seen_ms / 1000 - sent_at
    assert latency < 1.0, f"the event took {latency:.3f}s to appear"
    print(f"datagram to row in the page: {latency * 1000:.0f} ms")

    for i in range(2):
        send(first, VOLUME_CREATE, f"name=gv-a{i}")
        send(first, VOLUME_START, f"name=gv-a{i};force=1")
    send(second, VOLUME_CREATE, "name=gv-b0")
    send(second, QUORUM_LOST, "volume=gv-b0")
    # webhook-test from node a: the real CLI posts the test request ({})
    peers = first.events_dir / "peers.json"
    peers.write_text("{}")
    done = subprocess.run([sys.executable, "-m", "gluster_eventsapi", "webhook-test", web.url("listen")],
                          env={**first.env, "PATH": "/nonexistent"}, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_for(lambda: len(rows(browser)) == 8, 10, what="8 rows (7 events and the test request)")
    shown = rows(browser)
    assert shown[0]["kind"] == "test" and "test request" in shown[0]["cells"][2]
    assert shown[0]["auth"] == "none"
    assert sorted(r["node"] for r in shown if r["kind"] == "event") == sorted([node_a] * 5 + [node_b] * 2)
    line = next(r for r in shown if r["cells"][3] == "force=true name=gv-a1")  # booleans as JSON
    assert line["event"] == "VOLUME_START" and line["auth"] == "none"
    assert line["cells"][1] == node_a[:8] + "…"

    # Counts: per event type, per node, totals, and the timeline's sum (stats come every second).
    wanted_events = {"VOLUME_CREATE": 4, "VOLUME_START": 2, "QUORUM_LOST": 1}
    wait_for(lambda: counts(browser, "#counts-events") == wanted_events, 5, what="event counts")
    wait_for(lambda: counts(browser, "#counts-nodes") == {node_a: 5, node_b: 2}, 5, what="node counts")
    totals = browser.js("return ['total-events', 'total-tests', 'total-refused']"
                        ".map(id => document.getElementById(id).textContent)")
    assert totals == ["7", "1", "0"]
    wait_for(lambda: browser.js("return document.getElementById('timeline').dataset.total") == "7", 5,
             what="timeline total")
    assert browser.js("return document.querySelectorAll('#timeline rect.bar').length") >= 1

    # Filters hide the others, also for rows that arrive while they are set.
    select(browser, "filter-event", "VOLUME_START")
    assert [r["event"] for r in rows(browser)] == ["VOLUME_START", "VOLUME_START"]
    assert browser.driver.find_element("id", "shown").text == "showing 2 of 8 held"
    send(second, VOLUME_CREATE, "name=hidden-live")
    send(second, VOLUME_START, "name=shown-live")
    wait_for(lambda: len(rows(browser)) == 3, 5, what="the new VOLUME_START row")
    assert {r["event"] for r in rows(browser)} == {"VOLUME_START"}
    assert rows(browser)[0]["cells"][3] == "name=shown-live"
    select(browser, "filter-node", node_b)
    assert [r["cells"][3] for r in rows(browser)] == ["name=shown-live"]
    select(browser, "filter-event", "")
    assert sorted(r["cells"][3] for r in rows(browser)) == sorted(
        ["name=hidden-live", "name=shown-live", "name=gv-b0", "volume=gv-b0"])
    select(browser, "filter-node", "")
    search = browser.driver.find_element("id", "filter-text")
    search.send_keys("GV-A1")  # free text, any case, over names and attributes
    assert sorted(r["cells"][3] for r in rows(browser)) == ["force=true name=gv-a1", "name=gv-a1"]
    search.clear()
    select(browser, "filter-event", "@test")
    assert [r["kind"] for r in rows(browser)] == ["test"]
    browser.driver.find_element("id", "filter-clear").click()
    assert len(rows(browser)) == 10
    # Clicking a count filters by it, also after the counts were refreshed (each second) under it.
    count_row = browser.driver.find_element("css selector", "#counts-events tr[data-key='QUORUM_LOST']")
    time.sleep(1.2)
    count_row.click()
    assert [r["event"] for r in rows(browser)] == ["QUORUM_LOST"]
    assert browser.driver.find_element("id", "filter-event").get_attribute("value") == "QUORUM_LOST"
    browser.driver.find_element("id", "filter-clear").click()

    # The catalog's names are there to pick from.
    options = browser.js("return Array.from(document.querySelectorAll('#filter-event-catalog option'))"
                         ".map(o => o.value)")
    assert "VOLUME_CREATE" in options and "GEOREP_FAULTY" in options and len(options) > 100
    shot = browser.full_page_screenshot(tmp_path / "listen-web.png")
    assert shot.stat().st_size > 20_000
    assert any("Live page: open http://127.0.0.1:" in line for line in web.err)


XSS_NAME = "<script>window.__pwned='name'</script>"
XSS_NODE = "\"><svg onload=\"window.__pwned='node'\">"
XSS_KEY = "<img src=x onerror=\"window.__pwned='key'\">"
XSS_VALUE = "<b onmouseover=\"window.__pwned='value'\">bold</b><iframe src=\"javascript:alert(1)\">"


def post(port: int, path: str, body: bytes, token: str | None) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    connection.request("POST", path, body=body, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_attacker_controlled_events_are_shown_as_text_with_auth_badges(listener, browser: Browser,
                                                                       tmp_path: Path) -> None:
    web = listener("-t", "-", stdin=secrets.TOKEN + "\n")
    browser.open(web.url())
    event = {"event": XSS_NAME, "nodeid": XSS_NODE, "ts": int(time.time()),
             "message": {XSS_KEY: XSS_VALUE, "list": [XSS_NAME], "plain": "gv1"}}
    body = json.dumps(event).encode()
    assert post(web.port, "/listen", body, secrets.TOKEN) == 200
    assert post(web.port, "/<script>x</script>", body, "not-the-token") == 401
    assert post(web.port, "/listen", b"", secrets.TOKEN) == 200  # webhook-test
    assert post(web.port, "/listen", b"", None) == 401
    assert post(web.port, "/listen", b"<script>window.__pwned='body'</script>", secrets.TOKEN) == 400
    wait_for(lambda: len(rows(browser)) == 5, 10, what="5 rows")
    time.sleep(0.3)  # give any injected handler the chance to run

    assert browser.js("return window.__pwned === undefined")
    # Escaping, not only the Content-Security-Policy: no element came from the events at all.
    injected = browser.js("return document.querySelectorAll("
                          "'#rows img, #rows script, #rows svg, #rows b, #rows iframe, option b').length")
    assert injected == 0
    assert browser.js("return document.scripts.length") == 1
    shown = rows(browser)
    by = {(r["kind"], r["auth"]): r for r in shown}
    assert set(by) == {("event", "verified"), ("event", "failed"), ("test", "verified"),
                       ("test", "failed"), ("invalid", "verified")}
    good = by[("event", "verified")]
    assert good["event"] == XSS_NAME and good["cells"][2] == XSS_NAME and good["node"] == XSS_NODE
    assert f"{XSS_KEY}={XSS_VALUE}" in good["cells"][3]
    assert f"list={json.dumps([XSS_NAME])}" in good["cells"][3]
    assert good["cells"][4] == "verified"
    refused = by[("event", "failed")]
    assert refused["cells"][4] == "failed" and "bearer token does not match" in refused["cells"][3]
    assert "test request" in by[("test", "verified")]["cells"][2]
    assert "body is not JSON" in by[("invalid", "verified")]["cells"][3]
    # The badges are coloured by class; a refused event is not counted as an event.
    classes = browser.js("return Array.from(document.querySelectorAll('#rows .badge:not(.kind)'))"
                         ".map(b => b.className)")
    assert sorted(classes) == sorted(["badge verified", "badge failed", "badge verified",
                                      "badge failed", "badge verified"])
    wait_for(lambda: counts(browser, "#counts-events") == {XSS_NAME: 1}, 5, what="one counted event")
    unknown = browser.js("return Array.from(document.querySelectorAll('#filter-event-unknown option'))"
                         ".map(o => o.textContent)")
    assert unknown == [XSS_NAME]
    wait_for(lambda: browser.driver.find_element("id", "total-refused").text == "3", 5,
             what="3 refused (two failed, one invalid)")
    assert browser.js("return document.getElementById('timeline').dataset.total") == "1"
    browser.full_page_screenshot(tmp_path / "listen-web-xss.png")
    assert all(secrets.TOKEN not in line for line in web.out + web.err)


def test_a_page_reconnects_after_the_listener_restarts(listener, browser: Browser) -> None:
    """EventSource reconnects by itself, and the page starts again from the new snapshot."""
    web = listener()
    browser.open(web.url())
    assert post(web.port, "/", json.dumps({"event": "VOLUME_STOP", "nodeid": "n1", "ts": 1,
                                           "message": {"name": "before"}}).encode(), None) == 200
    wait_for(lambda: len(rows(browser)) == 1, 5, what="the row")
    assert web.stop() == 0
    wait_for(lambda: browser.driver.find_element("id", "connection").text != "live", 10,
             what="the page to notice")
    again = WebListener("--port", str(web.port))  # the same port: the page reconnects to it
    try:
        wait_for(lambda: browser.driver.find_element("id", "connection").text == "live", 15,
                 what="the page to reconnect")
        assert rows(browser) == []  # a new listener holds nothing yet
        assert post(again.port, "/", json.dumps({"event": "VOLUME_START", "nodeid": "n1", "ts": 2,
                                                 "message": {"name": "after"}}).encode(), None) == 200
        wait_for(lambda: [r["event"] for r in rows(browser)] == ["VOLUME_START"], 5, what="new row")
    finally:
        assert again.stop() == 0


def test_the_page_works_in_firefox_too(listener, make_daemon, firefox, tmp_path: Path) -> None:
    """Standard APIs only: the same page, live, filtered and counted, in Firefox."""
    web = listener()
    firefox.open(web.url())
    daemon = make_daemon("ff")
    daemon.write_webhooks({web.url("listen"): {}})
    daemon.start()
    node = nodeid_of(daemon.root)
    sent_at = time.time()
    send(daemon, VOLUME_CREATE, "name=ff0")
    wait_for(lambda: len(firefox.js(ROWS_JS)) == 1, 5, 0.01, "the first row in Firefox")
    latency = time.time() - sent_at
    assert latency < 1.0, f"the event took {latency:.3f}s to appear in Firefox"
    send(daemon, VOLUME_START, "name=ff0;force=1")
    send(daemon, QUORUM_LOST, "volume=ff0")
    assert post(web.port, "/listen", json.dumps({"event": XSS_NAME, "nodeid": XSS_NODE, "ts": 1,
                                                 "message": {XSS_KEY: XSS_VALUE}}).encode(), None) == 200
    wait_for(lambda: len(firefox.js(ROWS_JS)) == 4, 5, what="4 rows in Firefox")
    wait_for(lambda: firefox.js(COUNTS_JS, "#counts-nodes") == {node: 3, XSS_NODE: 1}, 5, what="node counts")
    assert firefox.js(COUNTS_JS, "#counts-events") == {"VOLUME_CREATE": 1, "VOLUME_START": 1,
                                                       "QUORUM_LOST": 1, XSS_NAME: 1}
    assert firefox.js("return window.__pwned === undefined && "
                      "document.querySelectorAll('#rows img, #rows script, #rows svg, #rows b').length === 0")
    firefox.js("const s = document.getElementById('filter-event'); s.value = 'VOLUME_START';"
               "s.dispatchEvent(new Event('change'));")
    assert [r["event"] for r in firefox.js(ROWS_JS)] == ["VOLUME_START"]
    firefox.js("const t = document.getElementById('filter-text'); t.value = 'nothing-like-it';"
               "t.dispatchEvent(new Event('input'));")
    assert firefox.js(ROWS_JS) == []
    assert firefox.js("return document.getElementById('timeline').querySelectorAll('rect.bar').length") >= 1
    assert firefox.screenshot(tmp_path / "listen-web-firefox.png").stat().st_size > 10_000
