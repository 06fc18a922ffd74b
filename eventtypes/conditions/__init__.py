"""Conditions, from the catalog: what each Gluster event means for alerting.

Every event of the catalog is one of four kinds:

- ``opens``: the start of a condition that lasts until a closing event (a brick went down);
- ``closes``: the end of such a condition (the brick is back);
- ``alarm``: a one-shot alarm that stays on for a fixed time (a split-brain was found);
- ``info``: something an administrator did or a routine state change (a volume was created).

A condition (and an alarm) has identity labels taken from the event's attributes, chosen so
that the opening and the closing event give the same labels, and so that the same condition
reported by several nodes gives one alert: the reporting node is a label only for conditions
that really belong to one node (its own services, its view of a peer's files). ``evaluate``
turns a parsed event (its name and its message dict) into the alert labels and annotations;
it never raises, whatever the message holds.

This package is data plus pure functions and imports nothing from the project but the
catalog, so the Alertmanager sink, the conditions gauge, the CLI and the live page can share
it. Its modules, one job each: ``labels`` (reading attributes into label values), ``table``
(the conditions, alarms and sweeps), ``notes`` (notes for the doc), ``outcome`` (classifying
and evaluating an event). Import from the package: its names below are the API.
``docs/CONDITIONS.md`` is generated from it (``python -m tools.conditions_doc``).
"""

from __future__ import annotations

from eventtypes.conditions.labels import (
    MAX_ANNOTATION_CHARS, MAX_LABEL_CHARS, UNKNOWN_VALUE, Attrs, Getter, Label, valid_label_name)
from eventtypes.conditions.notes import ATTRIBUTE_NOTES, INFO_NOTES, UNCONFIRMED
from eventtypes.conditions.outcome import (
    ALARM, CLOSES, INFO, KINDS, OPENS, SEVERITIES, TABLE, UNKNOWN, Outcome, classify, condition_key, evaluate,
    rule_of)
from eventtypes.conditions.table import ALARMS, CONDITIONS, DAY, HOUR, SWEEPS, Alarm, Condition, Rule, Sweep

__all__ = [
    "ALARM",
    "ALARMS",
    "ATTRIBUTE_NOTES",
    "CLOSES",
    "CONDITIONS",
    "DAY",
    "HOUR",
    "INFO",
    "INFO_NOTES",
    "KINDS",
    "MAX_ANNOTATION_CHARS",
    "MAX_LABEL_CHARS",
    "OPENS",
    "SEVERITIES",
    "SWEEPS",
    "TABLE",
    "UNCONFIRMED",
    "UNKNOWN",
    "UNKNOWN_VALUE",
    "Alarm",
    "Attrs",
    "Condition",
    "Getter",
    "Label",
    "Outcome",
    "Rule",
    "Sweep",
    "classify",
    "condition_key",
    "evaluate",
    "rule_of",
    "valid_label_name",
]
