"""The pool's open conditions, as data (``ConditionsReport``): which, since when, seen by which nodes.

Each node's daemon keeps the conditions its own events opened (its spool's ``conditions``
table); this asks every node for them and merges the reports of one alert identity (the
``key``, as Alertmanager's labels) into one entry, as an Alertmanager sink makes one alert of
them: open while any node reports it open (docs/CONDITIONS.md, "Several nodes").
"""

from __future__ import annotations

import time
from typing import Any

from gluster_eventsapi.context import Context
from gluster_eventsapi.pool.run import on_pool
from gluster_eventsapi.results import ConditionsReport


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
