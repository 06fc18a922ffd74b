"""The pool's open conditions, as data (``ConditionsReport``): which, since when, seen by which nodes;
and ``condition-clear``, which closes chosen ones on every node.

Each node's daemon keeps the conditions its own events opened (its spool's ``conditions``
table); this asks every node for them and merges the reports of one alert identity (the
``key``, as Alertmanager's labels) into one entry, as an Alertmanager sink makes one alert of
them: open while any node reports it open (docs/CONDITIONS.md, "Several nodes").

A node whose daemon was down when a closing event came keeps its condition open, and its
Alertmanager sinks re-send the alert for ever: ``clear_pool`` closes the chosen conditions on
every node (``node-condition-clear``), each node's daemon is reloaded as for
``webhook-redeliver``, and its Alertmanager sinks post the resolution at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventtypes import conditions as catalog

from gluster_eventsapi.context import Context
from gluster_eventsapi.errors import CliError, ExitStatus
from gluster_eventsapi.pool.run import on_pool
from gluster_eventsapi.results import ConditionsReport, NodeTable


def _open(report: dict[str, Any], now: float) -> bool:
    if report.get("closed_at"):
        return False
    ends = float(report.get("ends_at") or 0)
    return not ends or ends > now


def merge(answers: list[tuple[str, list[dict[str, Any]]]], now: float, include_over: bool) -> list[dict[str, Any]]:
    """One entry per alert identity: open on which nodes (and since when), or over (closed by which event)."""
    merged: dict[str, dict[str, Any]] = {}
    for node, reports in answers:
        for report in reports:
            if not isinstance(report, dict) or not isinstance(report.get("key"), str):
                continue
            entry = merged.setdefault(report["key"], {
                "key": report["key"], "alertname": report.get("alertname", ""), "kind": report.get("kind", ""),
                "labels": report.get("labels") or {}, "summary": report.get("summary", ""), "open_on": [],
                "since": None, "over_on": [], "closed_at": None, "close_event": ""})
            if _open(report, now):
                entry["open_on"].append(node)
                opened = float(report.get("opened_at") or 0)
                entry["since"] = opened if entry["since"] is None else min(entry["since"], opened)
                entry["summary"] = report.get("summary", entry["summary"])
            else:
                entry["over_on"].append(node)
                closed = float(report.get("closed_at") or report.get("ends_at") or 0)
                if entry["closed_at"] is None or closed > entry["closed_at"]:
                    entry["closed_at"], entry["close_event"] = closed, report.get("close_event", "")
    entries = [e for e in merged.values() if e["open_on"] or include_over]
    for entry in entries:
        entry["state"] = "open" if entry["open_on"] else "over"
    severity_rank = {"critical": 0, "warning": 1, "info": 2}
    return sorted(entries, key=lambda e: (e["state"] != "open", severity_rank.get(e["labels"].get("severity"), 3),
                                          e["since"] or 0, e["key"]))


def pool_conditions(ctx: Context, include_over: bool = False) -> ConditionsReport:
    """Ask every node for its conditions and merge them (``include_over``: also those over in the last 15 minutes)."""
    rows = tuple(on_pool(ctx, "node-conditions", {}))
    answers = [(row.node, list(row.data) if isinstance(row.data, list) else []) for row in rows if row.ok]
    return ConditionsReport(tuple(merge(answers, time.time(), include_over)), rows)


ALERTNAMES = tuple(sorted({c.alertname for c in catalog.CONDITIONS} | {a.alertname for a in catalog.ALARMS.values()}))
SEE_CONDITIONS = "'gluster-eventsapi conditions' lists the open ones with their labels ('--json': their keys)"


@dataclass(frozen=True)
class Selection:
    """Which open conditions ``condition-clear`` closes: every one that matches all that is given."""

    alertname: str = ""
    key: str = ""
    labels: tuple[tuple[str, str], ...] = ()

    def request(self) -> dict[str, Any]:
        """The ``node-condition-clear`` request."""
        return {"alertname": self.alertname, "key": self.key, "labels": dict(self.labels)}

    def describe(self) -> str:
        """The selection as the user typed it, e.g. ``GlusterBrickDown brick=n2:/b``."""
        return self.key or " ".join([self.alertname] * bool(self.alertname) + [f"{k}={v}" for k, v in self.labels])


def _quoted(word: str) -> str:
    """An argument as an error message shows it: quoted, escaped, at most 60 characters of it."""
    return repr(word[:60]) + (f" (and {len(word) - 60} more characters)" if len(word) > 60 else "")


def _known_alertname(name: str, where: str) -> str:
    if name not in ALERTNAMES:
        raise CliError(f"{_quoted(where)}: no condition is called {_quoted(name)}: the alert names are those of "
                       f"'gluster-eventsapi conditions' (GlusterBrickDown, GlusterPeerDisconnected...; every one "
                       "in docs/CONDITIONS.md)", ExitStatus.ERROR)
    return name


def parse_selection(words: Sequence[str]) -> Selection:
    """``condition-clear``'s arguments: an alert name, ``label=value`` pairs, or one condition's key
    (as ``conditions --json`` shows it: ``GlusterBrickDown{brick="n2:/b",volume="gv0"}``)."""
    alertname = ""
    labels: dict[str, str] = {}
    for word in words:
        if "{" in word:
            if len(words) != 1 or not word.endswith("}"):
                raise CliError(f"{_quoted(word)}: a condition's key is given alone and whole, quoted, e.g. "
                               "'GlusterBrickDown{brick=\"n2:/b\",volume=\"gv0\"}'; " + SEE_CONDITIONS, ExitStatus.ERROR)
            _known_alertname(word.split("{", 1)[0], word)
            return Selection(key=word)
        name, equals, value = word.partition("=")
        if not equals:
            if alertname:
                raise CliError(f"{_quoted(word)}: one alert name at most (already {_quoted(alertname)}); add labels as "
                               "label=value", ExitStatus.ERROR)
            alertname = _known_alertname(word, word)
        elif name == "alertname":
            alertname = _known_alertname(value, word)
        elif not catalog.valid_label_name(name) or not value:
            raise CliError(f"{_quoted(word)}: give a label as name=value (e.g. volume=gv0, brick=server2:/bricks/b1); "
                           + SEE_CONDITIONS, ExitStatus.ERROR)
        elif name in labels and labels[name] != value:
            raise CliError(f"{_quoted(word)}: label {name} is already given as {_quoted(labels[name])}", ExitStatus.ERROR)
        else:
            labels[name] = value
    if not alertname and not labels:
        raise CliError("choose the condition(s) to clear: an alert name, label=value pairs or a key; "
                       + SEE_CONDITIONS, ExitStatus.ERROR)
    return Selection(alertname, "", tuple(sorted(labels.items())))


def _shown(entry: dict[str, Any]) -> str:
    found = entry.get("labels")
    labels: dict[str, Any] = found if isinstance(found, dict) else {}
    rest = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    return f"{entry.get('alertname', '?')} {rest}".strip()


def clear_pool(ctx: Context, selection: Selection) -> NodeTable:
    """Close the selected open conditions on every node; the CLEARED table, with what was cleared where."""
    rows = tuple(on_pool(ctx, "node-condition-clear", selection.request()))
    where: dict[str, tuple[str, list[str]]] = {}
    for row in rows:
        # A node that cleared but could not then reload its daemon answers not OK with what it
        # cleared: that is cleared all the same (a second run finds nothing there).
        data = row.data if isinstance(row.data, dict) else {}
        for entry in data.get("cleared") or []:
            if isinstance(entry, dict) and isinstance(entry.get("key"), str):
                where.setdefault(entry["key"], (_shown(entry), []))[1].append(row.node)
    if not where and all(row.ok for row in rows):
        raise CliError(f"No open condition matches {_quoted(selection.describe())} on any node; " + SEE_CONDITIONS,
                       ExitStatus.ERROR)
    notes = tuple(f"Cleared {shown} (on {', '.join(nodes)})" for shown, nodes in where.values())
    if where:
        notes += ("Each node's Alertmanager sinks post the resolution now; it is gone from 'conditions' and "
                  "the metrics, and from the live page (listen --web) at its next refresh.",)
    unreloaded = [row.node for row in rows if not row.ok and isinstance(row.data, dict) and row.data.get("cleared")]
    if unreloaded:
        notes += (f"Not reloaded on {', '.join(unreloaded)} (see the table): there the Alertmanager sinks post "
                  "the resolution at their next re-send (alert-resend-secs) or once the daemon is reloaded.",)
    else:
        notes += ("Nothing cleared on the nodes that answered; run it again once every node answers.",)
    return NodeTable("CLEARED", rows, notes, json_value=True)
