"""The live page's "now" panel: every Gluster condition open across the pool, kept current from the stream.

Two sources, as the page needs them:

- **the pool's state**, from where ``gluster-eventsapi conditions`` takes it (every node's
  spool, through the pool fan-out: ``pool.conditions.pool_conditions``, handed in by
  ``listen`` as a callable, since ``listen/`` never imports the pool). ``ConditionsWatch``
  asks for it in the background when a page opens and every ``REFRESH_SECS`` while one is
  open, so the panel is right when the page opens and catches up with what the stream did
  not say (a ``condition-clear``, events this receiver was not sent);
- **the events** this receiver gets: ``OpenConditions.apply_event`` reads each one through
  the catalog's conditions table (``eventtypes.conditions.evaluate``), as each node's spool
  does, so an opening event opens a condition on the panel and its closing event closes it,
  at once. One-shot alarms (and conditions with an expiry) leave when their time is up
  (``expire``, each second).

State is per node, as the spools keep it: a condition is open while any node holds it open
(the same rule as ``conditions`` and the Alertmanager sink). A refresh from the pool
replaces the state, then replays the events that arrived while it ran, so an event is never
lost to a fan-out that read the spools before it.

Everything here is data for the page, sent as JSON; the page puts it in the document as
text only. ``OpenConditions`` is not thread-safe: the ``Feed`` calls it under its lock.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from eventtypes import conditions as catalog

from gluster_eventsapi.errors import CliError
from gluster_eventsapi.results import ConditionsReport

#: While a page is open, the pool's conditions are read again this often.
REFRESH_SECS = 30.0
#: A page opened this soon after the last read does not start another one.
MIN_REFRESH_SECS = 3.0
#: Conditions held for the panel (a storm of distinct ones beyond this is not shown).
MAX_CONDITIONS = 2000
#: Node reports held for the panel: per condition, and in all. With no bound, a sender of
#: events with ever new node ids grew one condition without end (and each change of it went
#: to every page whole): 300 events with long ids took 580 MB and minutes to answer.
MAX_NODES_PER_CONDITION = 500
MAX_REPORTS = 20000
#: A node id is cut to this many characters, as the rows of the page cut it.
MAX_NODE_CHARS = 256
#: Events remembered to replay over a refresh that was under way when they came.
REPLAY_EVENTS = 10000
HIDDEN_LABELS = ("alertname", "severity")

Source = Callable[[], ConditionsReport]


@dataclass
class Held:
    """One condition as the panel holds it: what it is, and each node that holds it open."""

    key: str
    alertname: str
    kind: str  # "condition" or "alarm"
    severity: str
    labels: dict[str, str]
    summary: str
    nodes: dict[str, tuple[float, float]]  # node -> (opened_at, ends_at; 0: no end)

    def as_dict(self) -> dict[str, Any]:
        """The entry the page shows: since the earliest node's report, until the latest end (if all end)."""
        ends = [end for _, end in self.nodes.values()]
        return {"key": self.key, "alertname": self.alertname, "kind": self.kind, "severity": self.severity,
                "labels": self.labels, "summary": self.summary,
                "since": min(opened for opened, _ in self.nodes.values()),
                "ends_at": max(ends) if ends and all(ends) else None, "nodes": sorted(self.nodes)}


def _shown_labels(labels: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in labels.items() if k not in HIDDEN_LABELS}


#: The latest time a page shows (9999-12-31T23:59:59Z): a browser's Date ends at 8.64e12 s, and
#: ``toISOString`` throws past it, which stopped the panel from drawing at all.
LATEST_TIME = 253402300799.0


def event_time(value: object) -> Optional[float]:
    """``value`` as seconds when it is a time a page can show (finite, within ``LATEST_TIME`` of 1970), else None.

    An event's ``ts`` is whatever its sender wrote: NaN, Infinity (Python's json reads them, a
    browser's JSON.parse refuses them), 1e13 or an integer of 400 digits are not times.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if -LATEST_TIME <= seconds <= LATEST_TIME else None  # NaN fails both comparisons


def _node_id(node: str) -> str:
    return node if len(node) <= MAX_NODE_CHARS else node[:MAX_NODE_CHARS] + "…"


class OpenConditions:
    """The open conditions of the pool, per node; every method returns the keys it changed."""

    def __init__(self, limit: int = MAX_CONDITIONS) -> None:
        self.limit = limit
        self.held: dict[str, Held] = {}
        self.loaded = False  # the pool's state has been read at least once
        self.error = ""  # why the last read failed (or which nodes it missed)
        self.read_at: Optional[float] = None
        self.names: dict[str, str] = {}  # node id -> the pool's name for it
        self.seq = 0  # events applied so far
        self._replay: collections.deque[tuple[int, catalog.Outcome, str, float]] = collections.deque(
            maxlen=REPLAY_EVENTS)

    # -- from the stream ------------------------------------------------------------------
    def apply_event(self, event: Mapping[str, Any], received: float) -> list[str]:
        """Apply one event body (``{"event", "nodeid", "ts", "message"}``) as the spools do."""
        node = str(event.get("nodeid") or "")
        outcome = catalog.evaluate(event.get("event"), event.get("message"), node)
        node = _node_id(node)
        if not outcome.key and outcome.sweep is None:
            return []  # informational (most events), or unknown
        ts = event_time(event.get("ts"))
        if ts is None:
            ts = received
        self.seq += 1
        self._replay.append((self.seq, outcome, node, ts))
        return self._apply(outcome, node, ts)

    def _apply(self, outcome: catalog.Outcome, node: str, ts: float) -> list[str]:
        if outcome.sweep is not None:
            alertnames, match = outcome.sweep
            swept = [key for key, held in self.held.items()
                     if held.kind == "condition" and held.alertname in alertnames and node in held.nodes
                     and all(held.labels.get(k) == v for k, v in match.items())]
            return [key for key in swept if self._close(key, node)]
        if not outcome.key:
            return []
        if outcome.kind == catalog.CLOSES:
            return [outcome.key] if self._close(outcome.key, node) else []
        if outcome.kind not in (catalog.OPENS, catalog.ALARM):
            return []
        held = self.held.get(outcome.key)
        if not self._room_for(held, node):
            return []
        if held is None:
            held = self.held[outcome.key] = Held(
                outcome.key, outcome.alertname, "alarm" if outcome.kind == catalog.ALARM else "condition",
                outcome.severity, _shown_labels(outcome.labels), outcome.annotations.get("summary", ""), {})
        previous = held.nodes.get(node)
        if outcome.kind == catalog.ALARM:
            ends = ts + (outcome.duration_secs or 0)
            if previous is None or previous[1] <= ts:
                held.nodes[node] = (ts, ends)  # new, or the last one was over: a new alarm
            else:
                held.nodes[node] = (previous[0], max(previous[1], ends))
        else:
            opened = min(previous[0], ts) if previous is not None else ts
            held.nodes[node] = (opened, ts + outcome.expires_secs if outcome.expires_secs else 0.0)
        held.summary = outcome.annotations.get("summary", held.summary)
        return [outcome.key]

    def _room_for(self, held: Optional[Held], node: str) -> bool:
        """Whether ``node``'s report of ``held`` (None: a new condition) may be held (the bounds above)."""
        if held is not None and node in held.nodes:
            return True
        if held is None and len(self.held) >= self.limit:
            return False
        if held is not None and len(held.nodes) >= MAX_NODES_PER_CONDITION:
            return False
        return sum(len(one.nodes) for one in self.held.values()) < MAX_REPORTS

    def _close(self, key: str, node: str) -> bool:
        held = self.held.get(key)
        if held is None or node not in held.nodes:
            return False
        del held.nodes[node]
        if not held.nodes:
            del self.held[key]
        return True

    def expire(self, now: float) -> list[str]:
        """Drop the reports whose time is up (alarms, conditions with an expiry)."""
        changed = []
        for key, held in list(self.held.items()):
            over = [node for node, (_, ends) in held.nodes.items() if ends and ends <= now]
            for node in over:
                self._close(key, node)
            if over:
                changed.append(key)
        return changed

    # -- from the pool --------------------------------------------------------------------
    def replace(self, report: ConditionsReport, since_seq: int, now: float) -> None:
        """Take the pool's state (``pool_conditions``), then replay the events applied after ``since_seq``."""
        self.held = {}
        names = {}
        missed = []
        for row in report.rows:
            node = row.nodeid or row.node
            if row.nodeid:
                names[row.nodeid] = row.node
            if not row.ok:
                missed.append(f"{row.node}: {row.error or 'not reached'}")
                continue
            for found in row.data if isinstance(row.data, list) else []:
                self._load(found, node, now)
        for seq, outcome, node, ts in self._replay:
            if seq > since_seq:
                self._apply(outcome, node, ts)
        self.expire(now)
        self.names = names
        self.loaded, self.read_at = True, now
        self.error = ("; ".join(missed) + ": their conditions are not shown") if missed else ""

    def _load(self, found: object, node: str, now: float) -> None:
        """One node's report of one row of its spool's conditions table (``node-conditions``)."""
        if not isinstance(found, dict) or not isinstance(found.get("key"), str) or found.get("closed_at"):
            return
        ends = event_time(found.get("ends_at")) or 0.0
        if ends and ends <= now:
            return  # an alarm over, an expired condition
        given = found.get("labels")
        labels: dict[str, Any] = given if isinstance(given, dict) else {}
        held = self.held.get(found["key"])
        if not self._room_for(held, node):
            return
        if held is None:
            held = self.held[found["key"]] = Held(
                found["key"], str(found.get("alertname", "")), "alarm" if found.get("kind") == "alarm" else "condition",
                str(labels.get("severity", "")), _shown_labels(labels), str(found.get("summary", "")), {})
        opened = event_time(found.get("opened_at"))
        held.nodes[node] = (now if opened is None else opened, ends)

    def failed(self, error: str, now: float) -> None:
        """The pool could not be read: the panel says so, and keeps what the stream told it."""
        self.error, self.read_at = error, now

    # -- for the page ---------------------------------------------------------------------
    def entry(self, key: str) -> Optional[dict[str, Any]]:
        held = self.held.get(key)
        return held.as_dict() if held is not None else None

    def snapshot(self) -> dict[str, Any]:
        """Everything the panel shows: the entries, whether the pool was read, and what went wrong."""
        return {"loaded": self.loaded, "error": self.error, "read_at": self.read_at, "names": dict(self.names),
                "entries": [held.as_dict() for held in self.held.values()]}


class ConditionsWatch:
    """Reads the pool's conditions in the background: when a page opens, and every ``interval`` while one is."""

    def __init__(self, source: Source, begin: Callable[[], int], done: Callable[[ConditionsReport, int], None],
                 failed: Callable[[str], None], pages_open: Callable[[], int], interval: float = REFRESH_SECS,
                 deadline: float = 40.0) -> None:
        self.source = source
        self.begin = begin  # -> the event sequence number the read starts at
        self.done = done
        self.failed = failed
        self.pages_open = pages_open
        self.interval = interval
        self.deadline = deadline
        self.wanted = threading.Event()
        self.stopping = threading.Event()
        self._last = 0.0
        self._thread = threading.Thread(target=self._run, name="listen-conditions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def want(self) -> None:
        """A page opened: read the pool now (unless a read has just been made)."""
        self.wanted.set()

    def stop(self) -> None:
        self.stopping.set()
        self.wanted.set()
        self._thread.join(2)

    def _one(self, box: dict[str, Any]) -> None:
        try:
            box["report"] = self.source()
        except CliError as err:
            box["error"] = err.message
        except Exception as err:  # noqa: BLE001 - shown on the page, never a traceback
            box["error"] = f"{type(err).__name__}: {err}"

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wanted.wait(self.interval if self.pages_open() else None)
            if self.stopping.is_set():
                return
            self.wanted.clear()
            if time.monotonic() - self._last < MIN_REFRESH_SECS and self._last:
                continue
            if not self.pages_open():
                continue
            self._last = time.monotonic()
            since = self.begin()
            box: dict[str, Any] = {}
            worker = threading.Thread(target=self._one, args=(box,), name="listen-conditions-fanout", daemon=True)
            worker.start()
            worker.join(self.deadline)
            if worker.is_alive():
                self.failed(f"the pool did not answer within {self.deadline:.0f}s; showing what the events said")
                while worker.is_alive() and not self.stopping.is_set():
                    worker.join(1.0)  # never two reads at once
                if self.stopping.is_set():
                    return
            if "report" in box:  # late or not: the events that came meanwhile are replayed over it
                self.done(box["report"], since)
            else:
                self.failed(f"cannot read the pool's open conditions: {box.get('error', 'no answer')}; "
                            "showing what the events said")
