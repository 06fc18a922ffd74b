"""CloudEvents 1.0 in HTTP binary mode: the ``ce-*`` headers of a webhook whose format is ``cloudevents``.

The body stays the Gluster body, unchanged, as the event's data (``Content-Type:
application/json``, and no ``ce-datacontenttype``, which binary mode takes from
Content-Type). The attributes come from the record, so a retry of one event carries the
same ``ce-id`` and ``ce-source`` and a receiver deduplicates on that pair:

- ``ce-id``: the event's own id (the ``webhook-id``, ``msg_...``), the same on every retry;
- ``ce-source``: the node, ``urn:gluster:node:<node id>``;
- ``ce-type``: ``org.gluster.`` + the event name in lower case with dots, e.g.
  ``org.gluster.brick.disconnected`` (the test request: ``org.gluster.test``);
- ``ce-time``: the event's time (Gluster's, whole seconds), RFC 3339 in UTC.

Header values are percent-encoded as the spec's HTTP binding says: space, ``"``, ``%`` and
every byte outside printable ASCII (as UTF-8).
"""

from __future__ import annotations

import datetime

from glustereventsd.spool.records import Record

FORMAT = "cloudevents"
SPEC_VERSION = "1.0"
TYPE_PREFIX = "org.gluster."
_UNRESERVED = frozenset(range(0x21, 0x7F)) - {ord('"'), ord("%")}


def header_value(text: str) -> str:
    """``text`` percent-encoded for a ``ce-`` header (CloudEvents HTTP binding, section 3.1.3.2)."""
    return "".join(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}" for byte in text.encode("utf-8", "replace"))


def source(nodeid: str) -> str:
    """The ``ce-source`` of every event of node ``nodeid``."""
    return f"urn:gluster:node:{nodeid or 'unknown'}"


def event_type(name: str) -> str:
    """``BRICK_DISCONNECTED`` -> ``org.gluster.brick.disconnected``."""
    return TYPE_PREFIX + ".".join(part for part in name.lower().split("_") if part)


def rfc3339(ts: int) -> str:
    """A Unix time as RFC 3339 in UTC, e.g. ``2026-12-06T00:03:58Z``."""
    try:
        when = datetime.datetime.fromtimestamp(ts, tz=datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):  # Gluster sent an absurd time: say the epoch, never fail
        when = datetime.datetime.fromtimestamp(0, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def fixed_headers(nodeid: str) -> list[tuple[str, str]]:
    """The ``ce-`` headers that are the same on every request of this node."""
    return [("ce-specversion", SPEC_VERSION), ("ce-source", header_value(source(nodeid)))]


def varying_headers(record: Record, now: int) -> list[tuple[str, str]]:
    """The ``ce-`` headers of one event: id, type, time (``now`` for a test request, which has no time)."""
    return [("ce-id", header_value(record.event_id)), ("ce-type", header_value(event_type(record.name))),
            ("ce-time", rfc3339(record.ts or now))]
