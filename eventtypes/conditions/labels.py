"""Reading an event's attributes into alert label values: the building blocks of the conditions table.

``Attrs`` reads a message tolerantly (keys ignoring case and ``-``/``_``, any value as one
line of text); a ``Label`` says how one label's value is made from it, and where that comes
from (for docs/CONDITIONS.md). The getters below know Gluster's quirks: bricks as
``host:path``, sub-volume names, geo-replication secondaries, client ids without their
reconnect counter. Pure functions, no state; nothing here raises on odd input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping

#: The value an identity label takes when the event does not carry what it is made of.
UNKNOWN_VALUE = "unknown"
#: Longest label value and annotation kept (longer ones are cut, with "...").
MAX_LABEL_CHARS = 256
MAX_ANNOTATION_CHARS = 1024

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def valid_label_name(name: str) -> bool:
    """True if ``name`` is a label name Prometheus and Alertmanager accept (classic mode)."""
    return bool(_LABEL_NAME.match(name)) and not name.startswith("__")


def _text(value: object) -> str:
    """Any attribute value as one line of valid UTF-8 text (never raises)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = ",".join(_text(item) for item in value)
    elif isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    else:
        try:
            text = str(value)
        except Exception:  # a hostile __str__ must not stop the caller
            text = ""
    # Lone surrogates (from surrogateescape decoding) are not UTF-8: make them "?".
    text = text.encode("utf-8", "replace").decode("utf-8")
    text = "".join(ch if ch >= " " and ch != "\x7f" else " " for ch in text)
    return " ".join(text.split())


def _fold(key: str) -> str:
    return key.lower().replace("-", "_")


class Attrs:
    """An event's message, read tolerantly: keys match exactly first, then ignoring case and
    ``-``/``_`` (Gluster sends ``Volume=`` and ``Usage=`` in places); values become text."""

    def __init__(self, message: object, node: object = None, event: str = "") -> None:
        self.values: Dict[str, str] = {}
        self.folded: Dict[str, str] = {}
        if isinstance(message, Mapping):
            try:
                items = list(message.items())
            except Exception:
                items = []
            for key, value in items:
                name = _text(key)
                if not name:
                    continue
                text = _text(value)
                self.values.setdefault(name, text)
                self.folded.setdefault(_fold(name), text)
        self.node = _text(node)
        self.event = event

    def get(self, *names: str) -> str:
        """The first non-empty value among ``names`` ("" if none)."""
        for name in names:
            value = self.values.get(name, "")
            if value:
                return value
        for name in names:
            value = self.folded.get(_fold(name), "")
            if value:
                return value
        return ""


Getter = Callable[[Attrs], str]


@dataclass(frozen=True)
class Label:
    """One alert label: its name, how its value is made from the event, and (for the doc)
    where it comes from. A missing optional label is left out; a missing required one
    becomes ``unknown`` and is reported in ``Outcome.missing``."""

    name: str
    get: Getter = field(repr=False, compare=False)
    source: str
    optional: bool = False


def _attr(name: str, *names: str, optional: bool = False, label: str = "") -> Label:
    keys = (name,) + names
    source = " or ".join(f"`{k}`" for k in keys)
    return Label(label or name, lambda a: a.get(*keys), source, optional)


def _host_of(address: str) -> str:
    """``10.0.0.1:49152`` -> ``10.0.0.1``; ``[::1]:24007`` -> ``::1``; a bare host as is."""
    address = address.strip()
    if address.startswith("["):
        end = address.find("]")
        return address[1:end] if end > 0 else address
    if address.count(":") == 1:
        host, _, port = address.partition(":")
        if port.isdigit():
            return host
    return address


def _join_brick(host: str, path: str) -> str:
    if not path:
        return ""
    return f"{host}:{path}" if host else path


_HEALTH_TAIL = re.compile(r"\s+timeout is -?\d+\s*\Z")


def _posix_brick(a: Attrs) -> str:
    """POSIX events send ``brick=host:path``; the health check appends `` timeout is N``."""
    return _HEALTH_TAIL.sub("", a.get("brick"))


_SUBVOL = re.compile(r"\A(?P<volume>.+)-(?:replicate|disperse|dht)(?:-\d+)?\Z")


def _volume_of_subvol(a: Attrs) -> str:
    """``gv0-replicate-1`` -> ``gv0`` (the volume's name is the prefix of its sub-volumes')."""
    match = _SUBVOL.match(a.get("subvol"))
    return match.group("volume") if match else ""


def _secondary_host(text: str) -> str:
    text = text.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    return text.rsplit("@", 1)[-1]


def _georep_secondary(a: Attrs) -> str:
    """``host::volume`` of a geo-replication secondary, from the worker events' attributes
    (Gluster 10 and later: ``secondary_*``; before: ``slave_*``), without ``user@``."""
    host = _secondary_host(a.get("secondary_host", "slave_host"))
    volume = a.get("secondary_volume", "slave_volume").split(":", 1)[0]
    if not host and not volume:
        return ""
    return f"{host}::{volume}"


def _georep_cli_secondary(a: Attrs) -> str:
    """The same ``host::volume`` from a CLI event's ``secondary`` (``slave``) word,
    e.g. ``geoaccount@backup1::gv0-dr``."""
    text = a.get("secondary", "slave")
    if "::" not in text:
        return ""
    host, _, volume = text.partition("::")
    return f"{_secondary_host(host)}::{volume.split(':', 1)[0]}"


_RECON = re.compile(r"-RECON_NO:-?\d*\Z")


def _client(a: Attrs) -> str:
    """A client process and graph, stable across its reconnects: ``client_uid`` without its
    reconnect counter (``...-RECON_NO:-3``), else the client's address without the port."""
    uid = a.get("client_uid")
    if uid:
        return _RECON.sub("", uid)
    return _host_of(a.get("client_identifier"))


_NODE = Label("node", lambda a: a.node, "the reporting node's id (the body's `nodeid`)")
_VOLUME = _attr("volume")
_VOLUME_OF_SUBVOL = Label("volume", _volume_of_subvol,
                          "`subvol` without its `-replicate-N`/`-disperse-N` suffix", optional=True)
_SUBVOL_LABEL = _attr("subvol")
_GLUSTERD_BRICK = Label("brick", lambda a: _join_brick(a.get("peer", "host"), a.get("brick")),
                        "`peer` `:` `brick` (host:path)")
_POSIX_BRICK = Label("brick", _posix_brick, "`brick` (host:path as the brick sends it)")
_SERVICE = _attr("svc_name", label="service")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value(label: Label, attrs: Attrs) -> str:
    try:
        value = label.get(attrs)
    except Exception:  # a getter bug must not stop the daemon: treat as missing
        value = ""
    return _cut(_text(value), MAX_LABEL_CHARS)
