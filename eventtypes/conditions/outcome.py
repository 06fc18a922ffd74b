"""Classifying and evaluating one event against the conditions table.

``classify`` names an event's kind (``opens``, ``closes``, ``alarm``, ``info``, ``unknown``),
``rule_of`` its condition or alarm, and ``evaluate`` turns a parsed event (its name and
message dict) into the alert's labels, annotations and identity key (``Outcome``). Never
raises, whatever the message holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple

from eventtypes import NAMES, NAMES_3_9
from eventtypes.conditions.labels import (
    MAX_ANNOTATION_CHARS, UNKNOWN_VALUE, Attrs, _cut, _fold, _text, _value)
from eventtypes.conditions.table import ALARMS, CONDITIONS, SWEEPS, Alarm, Rule

OPENS = "opens"
CLOSES = "closes"
ALARM = "alarm"
INFO = "info"
#: What ``classify`` answers for a name that no catalog has.
UNKNOWN = "unknown"
KINDS: Tuple[str, ...] = (OPENS, CLOSES, ALARM, INFO)
SEVERITIES: Tuple[str, ...] = ("critical", "warning", "info")


def _kinds() -> Dict[str, Tuple[str, Optional[Rule]]]:
    table: Dict[str, Tuple[str, Optional[Rule]]] = {}
    for condition in CONDITIONS:
        for name in condition.opens:
            table[name] = (OPENS, condition)
        for name in condition.closes:
            table[name] = (CLOSES, condition)
    for name, alarm in ALARMS.items():
        table[name] = (ALARM, alarm)
    for name in NAMES + NAMES_3_9:
        table.setdefault(name, (INFO, None))
    return table


#: Event name -> (kind, the condition or alarm it belongs to; None for info).
TABLE: Dict[str, Tuple[str, Optional[Rule]]] = _kinds()


def _name(name: object) -> str:
    text = _text(name).upper()
    return text[len("EVENT_"):] if text.startswith("EVENT_") else text


def classify(name: object) -> str:
    """The kind of an event name (``EVENT_`` prefix and case ignored): ``opens``, ``closes``,
    ``alarm``, ``info``; ``unknown`` for a name that no catalog has."""
    entry = TABLE.get(_name(name))
    return entry[0] if entry else UNKNOWN


def rule_of(name: object) -> Optional[Rule]:
    """The condition or alarm an event belongs to; None for informational or unknown ones."""
    entry = TABLE.get(_name(name))
    return entry[1] if entry else None




@dataclass(frozen=True)
class Outcome:
    """What one event means for alerting.

    ``labels`` include ``alertname`` and ``severity``; ``key`` is the condition's identity as
    text (equal for an opening and its closing event). ``missing`` names the identity labels
    that the event did not carry and that were set to ``unknown``. ``sweep`` is set for an
    informational event that closes matching conditions: (alertnames, labels to match).
    """

    event: str
    kind: str
    alertname: str = ""
    severity: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    key: str = ""
    duration_secs: Optional[int] = None
    expires_secs: Optional[int] = None
    missing: Tuple[str, ...] = ()
    sweep: Optional[Tuple[Tuple[str, ...], Mapping[str, str]]] = None


def condition_key(labels: Mapping[str, str]) -> str:
    """The identity of an alert as text, e.g. ``GlusterBrickDown{brick="h:/b",volume="v"}``:
    ``alertname`` then the other labels sorted, ``severity`` left out (it never varies for one
    alertname). Alertmanager computes its fingerprint from the same labels."""
    name = labels.get("alertname", "")
    rest = ",".join(
        '{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"'))
        for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    return f"{name}{{{rest}}}"


class _Context(Dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


_FIELD = re.compile(r"{(\w+)}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def _render(template: str, context: _Context) -> str:
    """Fill ``{name}`` fields from the context; a ``[...]`` part is kept only when every
    field in it has a value (``?`` marks any other missing one)."""

    def optional(match: re.Match[str]) -> str:
        part = match.group(1)
        return part if all(f in context for f in _FIELD.findall(part)) else ""

    try:
        text = _OPTIONAL.sub(optional, template).format_map(context)
    except (ValueError, IndexError, KeyError, AttributeError):
        text = template
    return _cut(text, MAX_ANNOTATION_CHARS)


def evaluate(name: object, message: object, nodeid: object = None) -> Outcome:
    """Labels and annotations for one parsed event (its name and message dict) reported by
    node ``nodeid``. Never raises: a message that is not a dict counts as empty, values of
    any type become text, a missing identity attribute becomes ``unknown`` (listed in
    ``missing``) and a missing optional one is left out."""
    event = _name(name)
    kind = classify(event)
    attrs = Attrs(message, nodeid, event)
    sweep = SWEEPS.get(event)
    if sweep is not None:
        match = {label.name: _value(label, attrs) for label in sweep.match}
        match = {k: v for k, v in match.items() if v}
        # A sweep with nothing to match would close every condition: skip it instead.
        if len(match) == len(sweep.match):
            return Outcome(event, kind, sweep=(sweep.alertnames, match))
    rule = rule_of(event)
    if rule is None:
        return Outcome(event, kind)
    labels: Dict[str, str] = {"alertname": rule.alertname, "severity": rule.severity}
    missing = []
    for label in rule.labels:
        value = _value(label, attrs)
        if not value:
            if label.optional:
                continue
            value = UNKNOWN_VALUE
            missing.append(label.name)
        labels[label.name] = value
    context = _Context({_fold(k): v for k, v in attrs.values.items() if v})
    context.update({k: v for k, v in labels.items()})
    for label in rule.context:
        context[label.name] = _value(label, attrs) or UNKNOWN_VALUE
    context["event"] = event
    context["node"] = attrs.node or UNKNOWN_VALUE
    annotations = {"summary": _render(rule.summary, context),
                   "description": _render(rule.description, context)}
    if isinstance(rule, Alarm):
        return Outcome(event, kind, rule.alertname, rule.severity, labels, annotations,
                       condition_key(labels), duration_secs=rule.duration_secs,
                       missing=tuple(missing))
    return Outcome(event, kind, rule.alertname, rule.severity, labels, annotations,
                   condition_key(labels), expires_secs=rule.expires_secs, missing=tuple(missing))
