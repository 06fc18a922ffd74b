"""Conversions, VOLUME_SET pairs and the exact webhook body (SPEC sections 1 and 3)."""

from __future__ import annotations

import pytest

import eventtypes
from glustereventsd.ingest.enrich import body_of, convert_value, enrich, volume_set_options
from glustereventsd.models import Event, RawEvent

NODE = "0b0e8b0c-46a4-4c5c-8d2f-2b1f5c9c0a11"


def event_of(type_id: int, pairs: tuple[tuple[str, str], ...], ts: int = 1468303352) -> Event:
    return enrich(RawEvent(ts, type_id, pairs), eventtypes.NAMES, NODE)


@pytest.mark.parametrize("key", ["force", "push_pem", "no_verify", "push-pem", "no-verify"])
@pytest.mark.parametrize("value,expected", [("1", True), ("on", True), ("ON", True), ("true", True),
                                            ("True", True), ("yes", True), ("YES", True), ("0", False),
                                            ("off", False), ("no", False), ("", False), ("2", False),
                                            ("enabled", False)])
def test_boolean_conversions(key: str, value: str, expected: bool) -> None:
    assert convert_value(key, value) is expected


@pytest.mark.parametrize("key", ["ssh_port", "ssh-port"])
def test_ssh_port_int_or_kept_string(key: str) -> None:
    assert convert_value(key, "22") == 22 and isinstance(convert_value(key, "22"), int)
    assert convert_value(key, "2222") == 2222
    assert convert_value(key, "abc") == "abc"
    assert convert_value(key, "") == ""
    assert convert_value(key, "22.5") == "22.5"


def test_other_keys_kept_as_strings() -> None:
    assert convert_value("name", "1") == "1"
    assert convert_value("Force", "1") == "1"  # keys are exact: only the SPEC's spellings convert
    assert convert_value("port", "22") == "22"


@pytest.mark.parametrize(
    "options,expected",
    [
        (",features.uss,on,performance.cache-size,256MB", [["features.uss", "on"], ["performance.cache-size", "256MB"]]),
        ("a,1,b,2", [["a", "1"], ["b", "2"]]),
        (",a,1,b", [["a", "1"], ["b"]]),  # odd trailing key
        (",a,", [["a"]]),
        (",a,1,", [["a", "1"]]),
        ("", []),
        (",", []),
        (",,", []),
        (",k,v=w x", [["k", "v=w x"]]),  # values may hold '=' and ' '
    ],
)
def test_volume_set_options(options: str, expected: list[list[str]]) -> None:
    assert volume_set_options(options) == expected


def test_volume_set_event_gets_pairs_and_others_do_not() -> None:
    event = event_of(6, (("name", "gv1"), ("options", ",nfs.disable,on,auth.allow,*")))
    assert event.name == "VOLUME_SET"
    assert event.message == {"name": "gv1", "options": [["nfs.disable", "on"], ["auth.allow", "*"]]}
    other = event_of(7, (("name", "gv1"), ("options", ",nfs.disable,on")))
    assert other.name == "VOLUME_RESET"
    assert other.message == {"name": "gv1", "options": ",nfs.disable,on"}


def test_georep_create_conversions_in_an_event() -> None:
    event = event_of(11, (("force", "1"), ("push_pem", "0"), ("no_verify", "yes"), ("ssh_port", "22"),
                          ("primary", "gv1"), ("secondary", "host::gv2")))
    assert event.name == "GEOREP_CREATE"
    assert event.message == {"force": True, "push_pem": False, "no_verify": True, "ssh_port": 22,
                             "primary": "gv1", "secondary": "host::gv2"}


def test_body_exact_bytes() -> None:
    event = event_of(2, (("name", "gv1"),))
    expected = ('{"event": "VOLUME_CREATE", "message": {"name": "gv1"}, "nodeid": "%s", "ts": 1468303352}'
                % NODE).encode()
    assert body_of(event) == expected


def test_body_sorts_message_keys_and_keeps_types() -> None:
    event = event_of(11, (("ssh_port", "22"), ("force", "on"), ("b", "x=y; z,"), ("a", "é")))
    assert body_of(event) == (
        '{"event": "GEOREP_CREATE", "message": {"a": "\\u00e9", "b": "x=y; z,", "force": true, "ssh_port": 22}, '
        '"nodeid": "%s", "ts": 1468303352}' % NODE).encode()


def test_body_of_empty_message_and_ts_integer() -> None:
    event = event_of(0, (), ts=0)
    assert body_of(event) == ('{"event": "PEER_ATTACH", "message": {}, "nodeid": "%s", "ts": 0}' % NODE).encode()


def test_3_9_numbering_maps_ids() -> None:
    names = eventtypes.names_for("3.9")
    assert enrich(RawEvent(1, 78, ()), names, NODE).name == "BRICKS_START_FAILED"
    assert enrich(RawEvent(1, 79, ()), names, NODE).name == "BRICKPATH_RESOLVE_FAILED"
    assert enrich(RawEvent(1, 78, ()), eventtypes.NAMES, NODE).name == "BRICKPATH_RESOLVE_FAILED"


# -- '(null)' details (issue 11): delivered with an empty message, counted, logged once per event ----

def test_null_detail_is_published_with_an_empty_message_counted_and_logged_once_per_event() -> None:
    import logging

    from glustereventsd.base.stats import Stats
    from glustereventsd.ingest.parse import parse_datagram

    class Collect(logging.Handler):
        """This test's own handler on the enrich logger: what other tests did to logging does not matter."""

        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.records: list[logging.LogRecord] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.records.append(record)

    stats = Stats()
    logger = logging.getLogger("glustereventsd.enrich")
    collect, level = Collect(), logger.level
    logger.addHandler(collect)
    logger.setLevel(logging.INFO)
    try:
        bodies = [body_of(enrich(parse_datagram(data), eventtypes.NAMES, NODE, stats))
                  for data in (b"1796165125 19 (null)", b"1796165126 19 (null)", b"1796165128 20 (null)")]
    finally:
        logger.removeHandler(collect)
        logger.setLevel(level)
    assert bodies[0] == (b'{"event": "BITROT_ENABLE", "message": {}, "nodeid": "' + NODE.encode()
                         + b'", "ts": 1796165125}')
    assert bodies[2].startswith(b'{"event": "BITROT_DISABLE", "message": {}')
    assert stats.get("null_details", "BITROT_ENABLE") == 2 and stats.get("null_details", "BITROT_DISABLE") == 1
    logged = [r.getMessage() for r in collect.records if "(null)" in r.getMessage()]
    assert len(logged) == 2 and "BITROT_ENABLE" in logged[0] and "BITROT_DISABLE" in logged[1]


def test_ordinary_events_are_not_counted_as_null_details() -> None:
    from glustereventsd.base.stats import Stats

    stats = Stats()
    enrich(RawEvent(1, 2, ()), eventtypes.NAMES, NODE, stats)
    enrich(RawEvent(1, 97, (("subdir_mount", "(null)"),)), eventtypes.NAMES, NODE, stats)
    assert stats.total("null_details") == 0
