"""``listen --web --pool`` on the real three-node SSH pool, in a real headless Chromium.

The listener is both the pool's webhook (bearer token) and the page. node2 kept a stale
token (a rotation it missed), so every one of its deliveries is refused (401) and moves to
its dead letters: the page must show node2's webhook failing, in the pool table and in the
summary, and the other nodes delivering; the events of node1 and node3 arrive verified,
node2's refused ones with a failed badge, each row named after its node.
"""

from __future__ import annotations

import time
from pathlib import Path

from glustereventsd.base.fsutil import atomic_write_bytes, dump_json
from tests import secrets
from tests.browser import Browser, WebListener, save_for_readme
from tests.helpers import send_raw, wait_for

ALL = ("node1", "node2", "node3")
ALL_NAMES = ("localhost", "node2", "node3")  # as webhook-status names them
EVENTS = [  # (node, event id, attributes): what a small pool says while an admin works
    ("node1", 0, "host=node3"), ("node1", 2, "name=gv0"), ("node1", 3, "name=gv0;force=0"),
    ("node2", 2, "name=gv-archive"), ("node1", 6, "name=gv0;options=performance.cache-size,256MB"),
    ("node3", 76, "peer=node3;volume=gv0;brick=/bricks/gv0/b3"), ("node2", 3, "name=gv-archive;force=1"),
    ("node3", 80, "volume=gv0"), ("node3", 77, "peer=node3;volume=gv0;brick=/bricks/gv0/b3"),
    ("node3", 81, "volume=gv0"),
]

POOL_JS = """
return Array.from(document.querySelectorAll('#pool-rows tr')).map(tr => ({
  node: tr.dataset.node, health: tr.dataset.health, webhook: tr.dataset.webhook || '',
  background: getComputedStyle(tr.cells[0]).backgroundColor,
  cells: Array.from(tr.cells).map(td => td.textContent)}));
"""
ROWS_JS = """
return Array.from(document.querySelectorAll('#rows tr')).map(tr => ({
  auth: tr.dataset.auth, event: tr.dataset.event, node: tr.cells[1].textContent}));
"""


def test_pool_page_highlights_the_failing_node(pool, browser: Browser, tmp_path: Path) -> None:
    daemons = {name: pool.start_daemon(name) for name in ALL}
    listener = WebListener("--pool", "-t", "-", stdin=secrets.CLI_TOKEN + "\n",
                           env=pool.environ("node1"), cwd=pool.tmp)
    try:
        url = listener.url("listen")
        registered = url + "?key=page-must-not-show-this"  # a query often holds a token
        run = pool.cli("webhook-add", registered, "-t", "-", stdin=secrets.CLI_TOKEN + "\n")
        assert run.status == 0, run.out + run.err
        for daemon in daemons.values():
            wait_for(lambda: "Webhook added" in daemon.log_text(), 10, what="webhook added")
        atomic_write_bytes(pool.events_dir("node2") / "webhooks.json",
                           dump_json({registered: {"token": "stale-token-of-node2", "secret": ""}}), 0o600)
        daemons["node2"].reload()

        browser.open(listener.url())
        for index, (node, event_id, attributes) in enumerate(EVENTS):
            send_raw(daemons[node].port, f"{int(time.time())} {event_id} {attributes}".encode())
            time.sleep(0.25 if index % 3 else 0.6)  # a few seconds of traffic for the timeline

        def failing_shown() -> list[dict] | None:
            found = browser.js(POOL_JS)
            health = {row["node"]: row["health"] for row in found}
            return found if health == {"localhost": "ok", "node2": "failing", "node3": "ok"} else None

        shown = wait_for(failing_shown, 30, 0.2, "node2 failing and the others ok in the pool table")
        rows = {row["node"]: row for row in shown}
        assert rows["node2"]["webhook"] == url  # shown without its query
        assert "page-must-not-show-this" not in browser.driver.page_source
        dead_letters, last_error = rows["node2"]["cells"][5], rows["node2"]["cells"][6]
        assert int(dead_letters) == 2 and last_error.startswith("HTTP 401")
        assert rows["node2"]["cells"][7] == "never"
        assert rows["node3"]["cells"][6] == "-" and rows["node3"]["cells"][7].endswith("ago")
        # It stands out: red, where the healthy rows are not.
        assert rows["node2"]["background"] == "rgb(253, 231, 229)"
        assert rows["node3"]["background"] != rows["node2"]["background"]
        summary = browser.driver.find_element("id", "pool-summary")
        assert "node2" in summary.text and "failing" in summary.text and "HTTP 401" in summary.text
        assert summary.get_attribute("data-health") == "failing"

        def all_rows() -> list[dict] | None:
            found = browser.js(ROWS_JS)
            return found if len(found) == len(EVENTS) else None

        events = wait_for(all_rows, 10, 0.1, "every event on the page")
        named = {name for row in events for name in ALL_NAMES if row["node"].startswith(name)}
        assert named == set(ALL_NAMES), events  # every row names its node
        for row in events:
            assert row["auth"] == ("failed" if row["node"].startswith("node2") else "verified"), row
        assert sum(row["node"].startswith("node2") for row in events) == 2
        time.sleep(1.2)  # one more stats message: counts and timeline settle
        shot = browser.full_page_screenshot(tmp_path / "listen-web-pool.png")
        save_for_readme(shot, "listen-web.png")
    finally:
        listener.stop()
    assert listener.err[-1] == "Stopped listening."
    assert all(secrets.CLI_TOKEN not in line for line in listener.out + listener.err)
