"""``RawEvent`` -> ``Event``: catalog name, attribute conversions, per-event fix-ups, node id.

Conversions follow SPEC section 1: boolean and integer attributes under both their
underscored names (what the Gluster CLI sends) and the hyphenated ones (what the original
daemon listed); per-event fix-ups come from the explicit ``FIXUPS`` table.

An event whose detail was ``(null)`` is published with an empty message (Gluster's own
daemon drops it, so nobody learns that bitrot detection was switched off), counted under
``null_details`` by event name, and logged the first time each event name does it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from glustereventsd.models import Event, RawEvent
from glustereventsd.ingest.parse import UNKNOWN_TYPE, ParseError
from glustereventsd.base.stats import Stats

log = logging.getLogger("glustereventsd.enrich")
NULL_DETAILS = "null_details"  # the Stats counter, labelled by event name

BOOLEAN_KEYS = frozenset({"force", "push_pem", "no_verify", "push-pem", "no-verify"})
INTEGER_KEYS = frozenset({"ssh_port", "ssh-port"})
TRUE_WORDS = frozenset({"1", "on", "true", "yes"})


def volume_set_options(value: str) -> list[list[str]]:
    """``,k1,v1,k2,v2`` -> ``[["k1","v1"],["k2","v2"]]``; an odd trailing key stands alone."""
    items = value.strip(",").split(",") if value.strip(",") else []
    return [items[i:i + 2] for i in range(0, len(items), 2)]


Fixup = Callable[[dict[str, object]], None]


def _fix_volume_set(message: dict[str, object]) -> None:
    options = message.get("options")
    if isinstance(options, str):
        message["options"] = volume_set_options(options)


FIXUPS: dict[str, Fixup] = {"VOLUME_SET": _fix_volume_set}


def convert_value(key: str, value: str) -> object:
    """Apply the SPEC's attribute conversions to one value."""
    if key in BOOLEAN_KEYS:
        return value.strip().lower() in TRUE_WORDS
    if key in INTEGER_KEYS:
        try:
            return int(value)
        except ValueError:
            return value
    return value


def note_null_detail(name: str, stats: Stats) -> None:
    """Count an event that came with a ``(null)`` detail; log it once per event name."""
    if stats.add(NULL_DETAILS, name) == 1:
        log.info("Gluster sent %s with the details '(null)' (a C NULL string): delivering it with an "
                 "empty message; further ones are counted in gluster_events_null_details_total, "
                 "not logged", name)


def enrich(raw: RawEvent, names: tuple[str, ...], nodeid: str, stats: Stats | None = None) -> Event:
    """Name and convert a parsed datagram; raise ParseError(unknown_type) for an unknown id.

    ``stats``, when given, counts the events that came with a ``(null)`` detail.
    """
    if not 0 <= raw.type_id < len(names):
        raise ParseError(UNKNOWN_TYPE, f"id {raw.type_id}")
    name = names[raw.type_id]
    if raw.null_detail and stats is not None:
        note_null_detail(name, stats)
    message: dict[str, object] = {key: convert_value(key, value) for key, value in raw.pairs}
    fixup = FIXUPS.get(name)
    if fixup is not None:
        fixup(message)
    return Event(name=name, ts=raw.ts, message=message, nodeid=nodeid)


# json.dumps(..., sort_keys=True) builds a new encoder on every call; this one is reused.
_BODY_ENCODER = json.JSONEncoder(sort_keys=True)


def body_of(event: Event) -> bytes:
    """The webhook body: exactly four keys, sorted, as the original daemon serialised it."""
    document = {"event": event.name, "message": event.message, "nodeid": event.nodeid, "ts": event.ts}
    return _BODY_ENCODER.encode(document).encode("utf-8")
