"""docs/CONDITIONS.md is generated from eventtypes/conditions/ and kept in step with it."""

from __future__ import annotations

from eventtypes import NAMES
from eventtypes import conditions as cond
from tools import conditions_doc


def test_committed_doc_equals_the_generated_one() -> None:
    assert conditions_doc.main(["--check"]) == 0, "run: python -m tools.conditions_doc"
    assert conditions_doc.DOC.read_text(encoding="utf-8") == conditions_doc.render()


def test_doc_lists_every_event_condition_and_alarm() -> None:
    text = conditions_doc.render()
    for event_id, name in enumerate(NAMES):
        assert f"| {event_id} | {name} | {cond.classify(name)} |" in text
    for condition in cond.CONDITIONS:
        assert f"### {condition.alertname}" in text
    for alarm in cond.ALARMS.values():
        assert f"| {alarm.event} | {alarm.severity} |" in text
    assert text.index("## How a condition becomes an Alertmanager alert") < text.index("## Conditions")
