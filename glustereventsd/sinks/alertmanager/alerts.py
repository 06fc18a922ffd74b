"""The alerts an Alertmanager sink posts: made from one event, or from the conditions kept in the spool.

Alertmanager's v2 API takes a JSON array of ``{labels, annotations, startsAt, endsAt,
generatorURL}``. Identity is the labels (``eventtypes.conditions``), so an opening event, its
re-sends and its closing event all address one alert. Times are the events' own (Gluster's
clock); ``endsAt`` says what the alert is:

- an open condition: ``endsAt`` = now + ``FIRING_PERIODS`` re-send periods (it stays firing
  while the sink re-sends it, and resolves by itself within four periods if the sink stops);
- a closed condition: ``endsAt`` = the closing event's time (resolved), sent again for
  ``spool.conditions.KEEP_OVER_SECS`` (the row is kept that long);
- an alarm: ``endsAt`` = its time + its duration;
- a condition with an expiry whose last opening report is older than that: ``endsAt`` = the expiry.

``generatorURL`` is made from the ``alert-generator-url`` template when one is set, naming the
event that opened the alert (its id is the ``webhook-id`` of that event); else it is left out.
"""

from __future__ import annotations

import datetime
import json
from typing import Any, Optional

from eventtypes import conditions as catalog
from glustereventsd.spool.records import ConditionRow, Record

FIRING_PERIODS = 4
KEEP_OVER_SECS = 900.0  # as spool.conditions: a resolution is re-sent this long
Alert = dict[str, Any]


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, as Alertmanager reads it."""
    try:
        when = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        when = datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def alert(labels: dict[str, str], annotations: dict[str, str], starts: float, ends: float,
          generator: str = "") -> Alert:
    """One alert of the API (``endsAt`` never before ``startsAt``: nodes' clocks differ)."""
    made: Alert = {"labels": labels, "annotations": annotations, "startsAt": timestamp(starts),
                   "endsAt": timestamp(max(starts, ends))}
    if generator:
        made["generatorURL"] = generator
    return made


def generator_url(template: str, event: str, event_id: str, node: str) -> str:
    """The ``alert-generator-url`` template filled in ({event}, {event_id}, {node}); "" without one."""
    if not template:
        return ""
    try:
        return template.format(event=event, event_id=event_id, node=node)
    except (KeyError, IndexError, ValueError):
        return template


def of_event(record: Record, row: Optional[ConditionRow], has_state: bool, now: float, period: float,
             template: str = "") -> list[Alert]:
    """The alerts one delivered event posts (none for an informational one).

    ``row`` is the event's condition as the spool holds it now (the committer wrote it with
    the event), ``has_state`` False when the sink could open no reader of the spool: a close
    is then posted even though the sink cannot know whether the condition was open.
    """
    try:
        body = json.loads(record.body)
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    node = str(body.get("nodeid") or "")
    outcome = catalog.evaluate(record.name, body.get("message"), node)
    generator = generator_url(template, record.name, record.event_id, node)
    ts = float(record.ts)
    labels, annotations = dict(outcome.labels), dict(outcome.annotations)
    if outcome.kind == catalog.OPENS and outcome.key:
        starts = row.opened_at if row is not None and not row.closed_at else ts
        if row is not None and not row.closed_at:  # the same link as the re-sends: the report that opened it
            generator = generator_url(template, row.open_event, row.open_id, row.nodeid)
        if row is not None and row.closed_at and row.closed_at >= ts:
            return [alert(labels, annotations, min(ts, row.closed_at), row.closed_at, generator)]  # closed since
        ends = now + FIRING_PERIODS * period
        if outcome.expires_secs:
            ends = min(ends, ts + outcome.expires_secs)
        return [alert(labels, annotations, starts, ends, generator)]
    if outcome.kind == catalog.CLOSES and outcome.key:
        if row is None:
            if has_state:
                return []  # not open on this node: nothing to resolve
            return [alert(labels, annotations, ts, ts, generator)]
        if not row.closed_at:
            return []  # opened again since (the close was delivered late): the re-sends say so
        generator = generator_url(template, row.open_event, row.open_id, row.nodeid)  # the event to look at
        return [alert(json.loads(row.labels), json.loads(row.annotations), row.opened_at, row.closed_at, generator)]
    if outcome.kind == catalog.ALARM and outcome.key:
        ends = ts + (outcome.duration_secs or 0)
        if row is not None and row.closed_at and row.closed_at >= ts:
            ends = min(ends, row.closed_at)  # cleared since (condition-clear): posted late, it must not fire again
        return [alert(labels, annotations, ts, ends, generator)]
    return []


def of_rows(rows: list[ConditionRow], now: float, period: float, template: str = "") -> list[Alert]:
    """What the periodic re-send posts: every open condition and alarm, and those over for less than
    ``KEEP_OVER_SECS`` (resolved)."""
    made = []
    firing_until = now + FIRING_PERIODS * period
    for row in rows:
        try:
            labels, annotations = json.loads(row.labels), json.loads(row.annotations)
        except ValueError:
            continue
        if row.closed_at:
            ends = row.closed_at
        elif row.kind == "alarm":
            ends = row.ends_at
        elif row.ends_at:  # a condition with an expiry
            ends = min(row.ends_at, firing_until)
        else:
            ends = firing_until
        if ends <= now - KEEP_OVER_SECS:
            continue
        made.append(alert(labels, annotations, row.opened_at, ends,
                          generator_url(template, row.open_event, row.open_id, row.nodeid)))
    return made


def body(alerts: list[Alert]) -> bytes:
    """The JSON array of a POST to /api/v2/alerts."""
    return json.dumps(alerts, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
