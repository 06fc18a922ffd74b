"""parse_datagram: every error code, the wire format's edge cases, and hypothesis properties."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import eventtypes
from eventtypes.emit import format_datagram
from glustereventsd.ingest import enrich
from glustereventsd.ingest import parse
from glustereventsd.models import RawEvent
from glustereventsd.ingest.parse import ParseError, parse_datagram

NODE = "8d7a7b52-9a40-4d54-9a8c-111111111111"


def code_of(data: bytes, **limits: int) -> str:
    with pytest.raises(ParseError) as caught:
        parse_datagram(data, **limits)
    return caught.value.code


# -- good input ------------------------------------------------------------------------------

def test_basic_datagram() -> None:
    assert parse_datagram(b"1468303352 2 name=gv1") == RawEvent(1468303352, 2, (("name", "gv1"),))


@pytest.mark.parametrize("data", [b"1468303352 2 ", b"1468303352 2", b"1468303352 2\n", b"1468303352 2 \x00"])
def test_empty_detail(data: bytes) -> None:
    assert parse_datagram(data) == RawEvent(1468303352, 2, ())


@pytest.mark.parametrize("data", [b" 1 2 name=gv1", b"\t\n1 2 name=gv1\r\n", b"1 2 name=gv1 \x00", b"\x0b1 2 name=gv1\x0c"])
def test_whitespace_around_the_datagram_is_removed_like_upstream(data: bytes) -> None:
    """Gluster's own daemon strips each datagram before splitting it: leading whitespace is no error."""
    assert parse_datagram(data) == RawEvent(1, 2, (("name", "gv1"),))


def test_trailing_space_of_the_last_value_goes_and_inner_spaces_stay() -> None:
    """What Gluster 10.3's CLI really sends for VOLUME_CREATE (measured): 'bricks= host:/b '."""
    raw = parse_datagram(b"1796165107 2 name=gv1;bricks= 10.211.0.1:/mnt/bricks/b1 ")
    assert raw.pairs == (("name", "gv1"), ("bricks", " 10.211.0.1:/mnt/bricks/b1"))


def test_non_ascii_whitespace_is_kept_as_upstream_keeps_it() -> None:
    """bytes.strip() removes ASCII whitespace only; a no-break space is part of the value."""
    assert parse_datagram("1 2 name=gv1\u00a0".encode()).pairs == (("name", "gv1\u00a0"),)


@pytest.mark.parametrize("data", [b"1796165125 19 (null)", b"1796165125 19 (null) ", b"1796165125 19 (null)\x00"])
def test_null_detail_is_an_event_without_attributes(data: bytes) -> None:
    """Gluster 10.3's CLI sends BITROT_ENABLE/DISABLE as '<ts> 19 (null)': printf("%s", NULL)."""
    assert parse_datagram(data) == RawEvent(1796165125, 19, (), null_detail=True)


def test_null_inside_pairs_is_an_ordinary_value() -> None:
    """Bricks send subdir_mount=(null): that is a value, the event is not a '(null)' detail."""
    raw = parse_datagram(b"1 97 brick_path=/b;subdir_mount=(null)")
    assert raw.pairs == (("brick_path", "/b"), ("subdir_mount", "(null)")) and not raw.null_detail
    assert parse_datagram(b"1 2 (null)x=1").pairs == (("(null)x", "1"),)


def test_value_split_on_first_equals_and_keeps_spaces_and_commas() -> None:
    raw = parse_datagram(b"1 6 name=gv1;options=,a.b,x=y z,c,d;k=v=w=;sp=  lead")
    assert raw.pairs == (("name", "gv1"), ("options", ",a.b,x=y z,c,d"), ("k", "v=w="), ("sp", "  lead"))


def test_empty_value_and_doubled_or_trailing_semicolons() -> None:
    assert parse_datagram(b"1 2 a=;;b=2;").pairs == (("a", ""), ("b", "2"))


def test_keys_kept_as_sent() -> None:
    assert parse_datagram(b"1 2 Push-Pem=1;ssh_port=22").pairs == (("Push-Pem", "1"), ("ssh_port", "22"))


def test_negative_type_parses_for_enrich_to_reject() -> None:
    assert parse_datagram(b"1 -1 a=b").type_id == -1


def test_max_timestamp_accepted() -> None:
    assert parse_datagram(b"4294967295 0").ts == 2**32 - 1


def test_utf8_values() -> None:
    assert parse_datagram("1 2 name=vólümé✓".encode()).pairs == (("name", "vólümé✓"),)


# -- every error code --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "data,code",
    [
        (b"1 2 name=" + b"x" * 65000, parse.TOO_LONG),
        (b"1 2 name=\xff\xfe", parse.NOT_UTF8),
        (b"\xc3\x28 2 name=x", parse.NOT_UTF8),
        (b"", parse.BAD_FORMAT),
        (b"1468303352", parse.BAD_FORMAT),
        (b"\n", parse.BAD_FORMAT),
        (b"abc 2 name=x", parse.BAD_TIMESTAMP),
        (b"-5 2 name=x", parse.BAD_TIMESTAMP),
        (b"4294967296 2 name=x", parse.BAD_TIMESTAMP),
        ("١٢ 2 name=x".encode(), parse.BAD_TIMESTAMP),  # non-ASCII digits
        (b"1 x name=x", parse.BAD_TYPE),
        (b"1  2 name=x", parse.BAD_TYPE),
        (b"1 - name=x", parse.BAD_TYPE),
        (b"1 +2 name=x", parse.BAD_TYPE),
        (b"1 1234567 name=x", parse.BAD_TYPE),
        (b"1 99999999999999999999999 name=x", parse.BAD_TYPE),
        (b"1 2 name", parse.BAD_ATTRIBUTE),
        (b"1 2 name=x;novalue", parse.BAD_ATTRIBUTE),
        (b"1 2 =x", parse.BAD_ATTRIBUTE),
        (b"1 2 " + b";".join(b"k%d=v" % i for i in range(65)), parse.TOO_MANY_ATTRIBUTES),
        (b"1 2 name=" + b"x" * 5000, parse.ATTRIBUTE_TOO_LONG),
    ],
)
def test_error_codes(data: bytes, code: str) -> None:
    assert code_of(data) == code


def test_limits_are_parameters() -> None:
    assert code_of(b"1 2 name=xyz", max_bytes=8) == parse.TOO_LONG
    assert code_of(b"1 2 a=1;b=2", max_attributes=1) == parse.TOO_MANY_ATTRIBUTES
    assert code_of(b"1 2 a=12345", max_attribute_bytes=4) == parse.ATTRIBUTE_TOO_LONG
    assert parse_datagram(b"1 2 a=1;b=2", max_attributes=2).pairs == (("a", "1"), ("b", "2"))


def test_exactly_max_bytes_is_accepted_and_one_more_is_not() -> None:
    head = b"1 2 k="
    fits = head + b"x" * (100 - len(head))
    assert parse_datagram(fits, max_bytes=100, max_attribute_bytes=1000).pairs == (("k", "x" * 94),)
    assert code_of(fits + b"x", max_bytes=100, max_attribute_bytes=1000) == parse.TOO_LONG


def test_unknown_type_is_raised_by_enrich() -> None:
    names = eventtypes.names_for("3.10")
    for type_id in (142, -1, 999999):
        with pytest.raises(ParseError) as caught:
            enrich.enrich(parse_datagram(b"1 %d name=x" % type_id), names, NODE)
        assert caught.value.code == parse.UNKNOWN_TYPE
    names_3_9 = eventtypes.names_for("3.9")
    with pytest.raises(ParseError):
        enrich.enrich(parse_datagram(b"1 141 name=x"), names_3_9, NODE)
    assert enrich.enrich(parse_datagram(b"1 140"), names_3_9, NODE).name == "TIER_START_FORCE"


def test_codes_vocabulary_is_closed() -> None:
    assert set(parse.CODES) == {"too_long", "not_utf8", "bad_format", "bad_timestamp", "bad_type",
                                "bad_attribute", "too_many_attributes", "attribute_too_long", "unknown_type"}


# -- properties ----------------------------------------------------------------------------------

def _datagramish() -> st.SearchStrategy[bytes]:
    """Random bytes, plus bytes that look like datagrams so the deeper branches get exercised."""
    pieces = st.sampled_from([b"1468303352", b"0", b"-1", b"2", b"142", b"4294967296", b" ", b";", b"=",
                              b"name", b"\xff", b"\x00", b"\n", b",", "é".encode(), b"1234567"])
    return st.one_of(st.binary(max_size=300), st.lists(pieces, max_size=30).map(b"".join))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_datagramish())
def test_any_bytes_give_rawevent_or_known_parse_error(data: bytes) -> None:
    try:
        raw = parse_datagram(data, max_bytes=200, max_attributes=8, max_attribute_bytes=64)
    except ParseError as err:
        assert err.code in parse.CODES
        return
    assert isinstance(raw, RawEvent)
    assert 0 <= raw.ts <= parse.MAX_TIMESTAMP
    assert -999999 <= raw.type_id <= 999999
    assert len(raw.pairs) <= 8
    for key, value in raw.pairs:
        assert key and ";" not in key and "=" not in key and ";" not in value
    # Whatever parsed either names a catalog event or is refused as unknown: never another exception.
    try:
        event = enrich.enrich(raw, eventtypes.NAMES, NODE)
    except ParseError as err:
        assert err.code == parse.UNKNOWN_TYPE
        return
    assert event.name == eventtypes.NAMES[raw.type_id]
    assert enrich.body_of(event).startswith(b'{"event": ')


KEYS = st.one_of(
    st.sampled_from(["name", "force", "push_pem", "push-pem", "no_verify", "no-verify", "ssh_port",
                     "ssh-port", "options", "host", "brick"]),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,15}", fullmatch=True),
)
# Values: anything the wire can carry (no ';', no newline), including '=', ' ', ',' and non-ASCII.
VALUES = st.one_of(
    st.text(st.characters(blacklist_characters=";\n\r\x00", blacklist_categories=("Cs",)), max_size=40),
    st.sampled_from(["1", "0", "on", "OFF", "True", "yes", "no", "22", "-3", "0x16", "2 2", ",a,1,b,2", ",x"]),
)


def expected_message(name: str, attributes: dict[str, str]) -> dict[str, object]:
    """SPEC section 1 conversions, written independently of enrich.py."""
    message: dict[str, object] = {}
    for key, value in attributes.items():
        if key in ("force", "push_pem", "no_verify", "push-pem", "no-verify"):
            message[key] = value.strip().lower() in ("1", "on", "true", "yes")
        elif key in ("ssh_port", "ssh-port"):
            try:
                message[key] = int(value)
            except ValueError:
                message[key] = value
        else:
            message[key] = value
    if name == "VOLUME_SET" and isinstance(message.get("options"), str):
        items = [item for item in str(message["options"]).strip(",").split(",")] \
            if str(message["options"]).strip(",") else []
        message["options"] = [items[i:i + 2] for i in range(0, len(items), 2)]
    return message


@settings(max_examples=300, deadline=None)
@given(
    event_id=st.integers(min_value=0, max_value=len(eventtypes.NAMES) - 1) | st.just(6),
    ts=st.integers(min_value=0, max_value=2**32 - 1),
    attributes=st.dictionaries(KEYS, VALUES, max_size=8),
)
def test_round_trip_format_parse_enrich(event_id: int, ts: int, attributes: dict[str, str]) -> None:
    data = format_datagram(event_id, attributes, ts)
    raw = parse_datagram(data, max_bytes=65507, max_attribute_bytes=65507)
    attributes = as_stripped(attributes)
    assert raw == RawEvent(ts, event_id, tuple(attributes.items()))
    name = eventtypes.NAMES[event_id]
    event = enrich.enrich(raw, eventtypes.NAMES, NODE)
    assert (event.name, event.ts, event.nodeid) == (name, ts, NODE)
    assert event.message == expected_message(name, attributes)


ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def as_stripped(attributes: dict[str, str]) -> dict[str, str]:
    """What survives the whole-datagram strip both daemons apply: the last value loses its trailing whitespace."""
    if not attributes:
        return attributes
    *head, (key, value) = attributes.items()
    return dict([*head, (key, value.rstrip(ASCII_WHITESPACE))])


@settings(max_examples=100, deadline=None)
@given(value=st.text(st.characters(blacklist_characters=";\n", blacklist_categories=("Cs",)), max_size=20))
def test_round_trip_last_value_with_any_carriable_character(value: str) -> None:
    """format_datagram accepts every value without ';' or newline: the daemon gets it back intact,
    except the trailing ASCII whitespace of the last value, which Gluster's own daemon strips too."""
    try:
        data = format_datagram(2, {"name": value}, 1)
    except ValueError:
        return  # refused by the sender: fine, never silently altered
    assert parse_datagram(data).pairs == (("name", value.rstrip(ASCII_WHITESPACE)),)
