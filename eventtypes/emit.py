"""``gf_event``: send one Gluster event datagram, as Gluster's own processes do.

For Gluster tools written in Python and for tests: it needs nothing but this package, sends
one UDP datagram in the wire format ``"<ts> <type> <k=v;k=v...>"``, and never raises on a
network error (events are best-effort for the sender; the daemon takes it from there).
"""

from __future__ import annotations

import socket
import time

import eventtypes

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 24009


def format_datagram(event_id: int, attributes: dict[str, object], ts: int | None = None) -> bytes:
    """Build the datagram bytes for ``event_id`` with ``attributes`` (``;``, line breaks and NUL are not allowed in values)."""
    stamp = int(time.time()) if ts is None else ts
    detail = ";".join(f"{key}={_text(value)}" for key, value in attributes.items())
    return f"{stamp} {event_id} {detail}".encode("utf-8")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    # Daemons strip whitespace and NUL around the whole datagram (Gluster's own does too), so
    # trailing whitespace of the last value does not arrive; line breaks and NUL never do.
    if any(char in text for char in ";\n\r\x00"):
        raise ValueError(f"attribute value {text!r} contains ';', a line break or NUL, which the wire format "
                         "cannot carry")
    return text


def gf_event(
    event: str | int,
    server: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    ts: int | None = None,
    numbering: str = "3.10",
    **attributes: object,
) -> bool:
    """Send one event (by name, e.g. ``"VOLUME_CREATE"``, or id) to ``server``; True if the datagram was sent.

    The destination is ``server``, not ``host``: ``host`` is an attribute of PEER_ATTACH,
    PEER_DETACH and others (``gf_event("PEER_ATTACH", host="node2")``, as in Gluster).

    Raises ``eventtypes.UnknownEvent`` for a name or id outside the catalog and ValueError for
    a value the wire format cannot carry: those are the caller's bugs. Network errors only
    return False.
    """
    event_id = eventtypes.id_of(event, numbering) if isinstance(event, str) else event
    eventtypes.name_of(event_id, numbering)
    data = format_datagram(event_id, attributes, ts)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.sendto(data, (server, port))
        return True
    except OSError:
        return False
