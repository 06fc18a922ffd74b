"""What commands return: plain values, rendered to a table or JSON only in ``render``.

Commands never print; they hand one of these to ``__main__``, which hands it to ``render``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

PROTOCOL = 3  # version of the node-* request/answer; bumped on incompatible changes


@dataclass(frozen=True)
class NodeResult:
    """One node's answer to a pool-wide command.

    ``up``: the node could be reached; ``ok``: it did its part; ``value``: what the status
    column shows when ok (``OK``, or ``UP``/``DOWN`` for status); ``failed``: names of the
    files ("webhooks", "config") a sync could not write there.
    """

    node: str
    up: bool
    ok: bool
    value: str = "OK"
    error: str = ""
    warning: str = ""
    failed: tuple[str, ...] = ()
    nodeid: str = ""
    data: object = None  # structured part of the answer (webhook-status, webhook-redeliver)


@dataclass(frozen=True)
class NodeTable:
    """Per-node results under one status column, e.g. ``SYNC STATUS``."""

    column: str
    rows: tuple[NodeResult, ...]
    notes: tuple[str, ...] = ()  # shown after the table (stderr in JSON mode)
    json_value: bool = False  # JSON column holds the row's value (a count), not "OK"


@dataclass(frozen=True)
class HookStatusTable:
    """``webhook-status``: per node, the delivery state of each webhook (``row.data``)."""

    rows: tuple[NodeResult, ...]
    insecure_tls: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeadLetterReport:
    """``webhook-redeliver --list``: per node, how many dead letters and the newest few."""

    url: str
    rows: tuple[NodeResult, ...]


@dataclass(frozen=True)
class StatusReport:
    """The ``status`` command: registered webhook URLs and each node's daemon state."""

    webhooks: tuple[str, ...]
    rows: tuple[NodeResult, ...]
    insecure_tls: tuple[str, ...] = ()  # URLs whose HTTPS certificate is not verified
    formats: tuple[tuple[str, str], ...] = ()  # (URL, format) of webhooks not sending the plain Gluster body


@dataclass(frozen=True)
class ConditionsReport:
    """``conditions``: every condition open across the pool (one entry per alert identity, with the
    nodes that report it), and each node's answer (a node not reached is listed, not ignored)."""

    conditions: tuple[dict[str, Any], ...]
    rows: tuple[NodeResult, ...]


@dataclass(frozen=True)
class NameValues:
    """``config-get``: display name and value, in display order, and the keys for JSON.

    The table shows the seed's names (``log_level``); ``--json`` carries the config files'
    own key names (``log-level``), as Gluster's own CLI prints them. ``keys`` holds those,
    one per item (empty: use the display names).
    """

    items: tuple[tuple[str, object], ...]
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class PeerRows:
    """The ``peer-list`` table: one mapping per peer from the peers file."""

    peers: tuple[Mapping[str, object], ...]
    source: str


@dataclass(frozen=True)
class Message:
    """A one-line confirmation (``peer-add``); ``data`` is its JSON form."""

    text: str
    data: object = None
    quiet: bool = False  # the command already printed what it had to (listen)


Result = Union[NodeTable, StatusReport, NameValues, PeerRows, Message, HookStatusTable, DeadLetterReport,
               ConditionsReport]
