"""``listen --web --pool``: every few seconds, ``webhook-status`` of the whole pool, for the page.

The fan-out is the CLI's own (``pool.hookstatus.webhook_status``: SSH to every peer, the
local node in-process), handed in by ``listen`` as a callable that returns the rows as data
(``listen/`` never imports the pool, the files or the commands). It runs in a background
thread with a deadline, so the receiver never waits for the pool. Only one fan-out runs at a
time: when one is late, the page is told so and the next starts only after it has finished.

The page gets the rows of ``webhook-status --json`` (``jsonform.hook_status_rows``), with each
node's id and the URLs shown without their credentials. Each webhook of each node gets a
``health``, worst first: ``unreachable`` (the node did not answer), ``failing`` (its last
error, a retried failure or a dead letter, is newer than its last success), ``behind``
(events waiting longer than ``BEHIND_SECS``), ``ok``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Union

from glustereventsd.config.options import display_url

from gluster_eventsapi.jsonform import hook_status_rows
from gluster_eventsapi.errors import CliError
from gluster_eventsapi.results import HookStatusTable, Message

REFRESH_SECS = 5.0
#: Events waiting longer than this make a webhook stand out as behind.
BEHIND_SECS = 60.0
HEALTH_ORDER = ("unreachable", "failing", "behind", "ok")

Fetch = Callable[[], dict[str, Any]]
#: The pool's delivery state as data; a ``Message`` when no webhook is registered.
StatusSource = Callable[[], Union[HookStatusTable, Message]]
Publish = Callable[[dict[str, Any]], None]


def hook_health(hook: Mapping[str, Any]) -> str:
    """``failing``, ``behind`` or ``ok`` for one webhook on one node (webhook-status fields)."""
    error_age = hook.get("last_error_age_secs")
    success_age = hook.get("last_success_age_secs")
    if hook.get("last_error") and isinstance(error_age, (int, float)):
        if not isinstance(success_age, (int, float)) or error_age < success_age:
            return "failing"
    oldest = hook.get("oldest_age_secs")
    if int(hook.get("queued") or 0) > 0 and isinstance(oldest, (int, float)) and oldest > BEHIND_SECS:
        return "behind"
    return "ok"


def annotate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Add ``health`` to every node and webhook of ``webhook-status --json`` rows; sum it up."""
    worst = "ok"
    failing = []
    for row in rows:
        if row.get("error") or row.get("node_status") != "UP":
            row["health"] = "unreachable"
        else:
            hooks = row.get("webhooks") or []
            for hook in hooks:
                hook["health"] = hook_health(hook)
            row["health"] = min((hook["health"] for hook in hooks), key=HEALTH_ORDER.index,
                                default="ok")
        if HEALTH_ORDER.index(row["health"]) < HEALTH_ORDER.index(worst):
            worst = row["health"]
        if row["health"] in ("unreachable", "failing"):
            failing.append(str(row.get("node", "?")))
    return {"health": worst, "failing_nodes": failing}


def page_state(status: StatusSource) -> dict[str, Any]:
    """One fan-out of ``webhook-status`` as the page shows it (same data as ``--json``)."""
    try:
        result = status()
    except CliError as err:
        return {"ok": False, "error": err.message, "nodes": [], "health": "unreachable",
                "failing_nodes": []}
    if not isinstance(result, HookStatusTable):  # no webhooks registered: a message says so
        return {"ok": True, "error": "", "message": result.text, "nodes": [], "health": "ok",
                "failing_nodes": []}
    rows = hook_status_rows(result)
    for row, node in zip(rows, result.rows):
        row["nodeid"] = node.nodeid  # lets the page name the node an event came from
        for hook in row.get("webhooks") or []:
            # The page has no login: a URL's credentials, query and fragment (tokens, often)
            # stay off it, as off the daemon's logs.
            if isinstance(hook, dict) and isinstance(hook.get("url"), str):
                hook["url"] = display_url(hook["url"])
    return {"ok": True, "error": "", "nodes": rows, **annotate(rows)}


def page_fetch(status: StatusSource) -> Fetch:
    """The ``fetch`` of a ``PoolWatch`` that shows ``status()`` on the page."""
    return lambda: page_state(status)


class PoolWatch:
    """Runs ``fetch`` every ``interval`` seconds in the background and publishes the result."""

    def __init__(self, fetch: Fetch, publish: Publish, interval: float = REFRESH_SECS,
                 deadline: float = 40.0, clock: Callable[[], float] = time.time) -> None:
        self.fetch = fetch
        self.publish = publish
        self.interval = interval
        self.deadline = deadline
        self.clock = clock
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="listen-pool", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the watcher to stop; a fan-out in progress ends by its own SSH timeouts."""
        self.stopping.set()
        self._thread.join(2)

    def _one(self, box: dict[str, Any]) -> None:
        try:
            box["state"] = self.fetch()
        except Exception as err:  # noqa: BLE001 - shown on the page, never a traceback
            box["state"] = {"ok": False, "error": f"pool status failed: {err}", "nodes": [],
                            "health": "unreachable", "failing_nodes": []}

    def _run(self) -> None:
        last: dict[str, Any] | None = None
        while not self.stopping.is_set():
            started = self.clock()
            box: dict[str, Any] = {}
            worker = threading.Thread(target=self._one, args=(box,), name="listen-pool-fanout",
                                      daemon=True)
            worker.start()
            worker.join(self.deadline)
            if worker.is_alive():
                late = {"ok": False, "nodes": (last or {}).get("nodes", []), "stale": True,
                        "health": "unreachable", "failing_nodes": [],
                        "error": f"the pool did not answer within {self.deadline:.0f}s; "
                                 "showing the last answer"}
                self.publish({**late, "at": round(self.clock(), 3), "interval": self.interval,
                              "took_secs": round(self.clock() - started, 2)})
                while worker.is_alive() and not self.stopping.is_set():
                    worker.join(1.0)  # never two fan-outs at once
                if self.stopping.is_set():
                    return
            state = box.get("state") or {"ok": False, "error": "no answer", "nodes": [],
                                         "health": "unreachable", "failing_nodes": []}
            last = state
            self.publish({**state, "at": round(self.clock(), 3), "interval": self.interval,
                          "took_secs": round(self.clock() - started, 2)})
            self.stopping.wait(self.interval)
