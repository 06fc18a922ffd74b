"""Datagram bytes -> ``RawEvent``, or ``ParseError`` with a code from a fixed vocabulary.

Pure and total: for any bytes it returns a RawEvent or raises ParseError, never anything
else (a hypothesis test holds it to that). The wire format is Gluster's
``"<ts> <type> <k=v;k=v...>"`` in UTF-8 (the C sender formats it with ``"%u %d %s"``).

Like Gluster's own daemon, whitespace around the whole datagram is removed before it is
split, so a trailing space of the last value goes and a datagram with leading whitespace is
still an event. A detail of exactly ``(null)`` (a C NULL string formatted with ``%s``, as
Gluster 10's CLI sends BITROT_ENABLE and BITROT_DISABLE) is an event without attributes.
"""

from __future__ import annotations

from glustereventsd.models import RawEvent

# Error codes, used as counter labels: never raw exception text.
TOO_LONG = "too_long"
NOT_UTF8 = "not_utf8"
BAD_FORMAT = "bad_format"
BAD_TIMESTAMP = "bad_timestamp"
BAD_TYPE = "bad_type"
BAD_ATTRIBUTE = "bad_attribute"
TOO_MANY_ATTRIBUTES = "too_many_attributes"
ATTRIBUTE_TOO_LONG = "attribute_too_long"
UNKNOWN_TYPE = "unknown_type"  # raised by enrich, listed here to keep the vocabulary in one place

CODES = (TOO_LONG, NOT_UTF8, BAD_FORMAT, BAD_TIMESTAMP, BAD_TYPE, BAD_ATTRIBUTE,
         TOO_MANY_ATTRIBUTES, ATTRIBUTE_TOO_LONG, UNKNOWN_TYPE)

MAX_TIMESTAMP = 2**32 - 1  # %u
# What bytes.strip() removes (ASCII whitespace, as Gluster's own daemon strips each datagram),
# plus NUL: a C sender may count its terminating NUL into the datagram.
EDGE_BYTES = b" \t\n\r\x0b\x0c\x00"
NULL_DETAIL = "(null)"  # printf("%s", NULL) in glibc
MAX_TYPE_DIGITS = 6


class ParseError(ValueError):
    """A datagram that is not a Gluster event; ``code`` says which rule it broke."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def parse_datagram(
    data: bytes,
    max_bytes: int = 8192,
    max_attributes: int = 64,
    max_attribute_bytes: int = 4096,
) -> RawEvent:
    """Parse one datagram; raise ParseError for anything malformed or over a limit."""
    if len(data) > max_bytes:
        raise ParseError(TOO_LONG, f"{len(data)} bytes > {max_bytes}")
    try:
        text = data.strip(EDGE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError(NOT_UTF8) from None
    fields = text.split(" ", 2)
    if len(fields) < 2:
        raise ParseError(BAD_FORMAT, "expected '<ts> <type> <detail>'")
    ts_text, type_text = fields[0], fields[1]
    if not (ts_text.isascii() and ts_text.isdigit()) or int(ts_text) > MAX_TIMESTAMP:
        raise ParseError(BAD_TIMESTAMP)
    digits = type_text[1:] if type_text.startswith("-") else type_text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_TYPE_DIGITS:
        raise ParseError(BAD_TYPE)
    detail = fields[2] if len(fields) == 3 else ""
    if detail == NULL_DETAIL:
        return RawEvent(int(ts_text), int(type_text), (), null_detail=True)
    return RawEvent(int(ts_text), int(type_text), _pairs(detail, max_attributes, max_attribute_bytes))


def _pairs(detail: str, max_attributes: int, max_attribute_bytes: int) -> tuple[tuple[str, str], ...]:
    if not detail:
        return ()
    pairs = []
    for item in detail.split(";"):
        if not item:
            continue  # a trailing or doubled ';'
        key, equals, value = item.partition("=")  # values may contain '=': split on the first
        if not equals or not key:
            raise ParseError(BAD_ATTRIBUTE, "expected key=value")
        if len(item) > max_attribute_bytes:
            raise ParseError(ATTRIBUTE_TOO_LONG)
        pairs.append((key, value))
        if len(pairs) > max_attributes:
            raise ParseError(TOO_MANY_ATTRIBUTES)
    return tuple(pairs)
