"""The event catalog against SPEC section 2, in both numberings."""

from __future__ import annotations

import pytest

import eventtypes
from tests.catalog_spec import SPEC_NAMES_3_9, SPEC_NAMES_3_10


def test_spec_lists_142_and_141_events() -> None:
    assert len(SPEC_NAMES_3_10) == 142
    assert len(SPEC_NAMES_3_9) == 141
    assert SPEC_NAMES_3_9[78] == "BRICKS_START_FAILED"
    assert SPEC_NAMES_3_9[79] == "BRICKPATH_RESOLVE_FAILED"
    assert SPEC_NAMES_3_9[140] == "TIER_START_FORCE"


def test_catalog_3_10_is_the_spec_list() -> None:
    assert list(eventtypes.NAMES) == SPEC_NAMES_3_10
    assert list(eventtypes.names_for()) == SPEC_NAMES_3_10
    assert list(eventtypes.names_for("3.10")) == SPEC_NAMES_3_10


def test_catalog_3_9_is_the_spec_list() -> None:
    assert list(eventtypes.NAMES_3_9) == SPEC_NAMES_3_9
    assert list(eventtypes.names_for("3.9")) == SPEC_NAMES_3_9


@pytest.mark.parametrize("numbering,names", [("3.10", SPEC_NAMES_3_10), ("3.9", SPEC_NAMES_3_9)])
def test_name_of_and_id_of_round_trip(numbering: str, names: list[str]) -> None:
    for event_id, name in enumerate(names):
        assert eventtypes.name_of(event_id, numbering) == name
        assert eventtypes.id_of(name, numbering) == event_id
        assert eventtypes.id_of("EVENT_" + name.lower(), numbering) == event_id


@pytest.mark.parametrize("numbering,bad_ids", [("3.10", [142, -1, 10**9]), ("3.9", [141, -1, 10**9])])
def test_unknown_ids_raise(numbering: str, bad_ids: list[int]) -> None:
    for event_id in bad_ids:
        with pytest.raises(eventtypes.UnknownEvent):
            eventtypes.name_of(event_id, numbering)


def test_unknown_names_and_numberings_raise() -> None:
    with pytest.raises(eventtypes.UnknownEvent):
        eventtypes.id_of("NOT_AN_EVENT")
    with pytest.raises(eventtypes.UnknownEvent):
        eventtypes.id_of("DHT_DISK_USAGE", "3.9")  # 3.9 lacked it
    with pytest.raises(eventtypes.UnknownEvent):
        eventtypes.names_for("4.0")


def test_every_documented_attribute_table_names_a_catalog_event() -> None:
    known = set(SPEC_NAMES_3_10) | set(SPEC_NAMES_3_9)
    assert set(eventtypes.ATTRIBUTES) <= known
