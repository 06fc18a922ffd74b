"""Conditions, from the catalog: what each Gluster event means for alerting.

Every event of the catalog is one of four kinds:

- ``opens``: the start of a condition that lasts until a closing event (a brick went down);
- ``closes``: the end of such a condition (the brick is back);
- ``alarm``: a one-shot alarm that stays on for a fixed time (a split-brain was found);
- ``info``: something an administrator did or a routine state change (a volume was created).

A condition (and an alarm) has identity labels taken from the event's attributes, chosen so
that the opening and the closing event give the same labels, and so that the same condition
reported by several nodes gives one alert: the reporting node is a label only for conditions
that really belong to one node (its own services, its view of a peer's files). ``evaluate``
turns a parsed event (its name and its message dict) into the alert labels and annotations;
it never raises, whatever the message holds.

This module is data plus pure functions and imports nothing from the project but the
catalog, so the Alertmanager sink, the conditions gauge, the CLI and the live page can share
it. ``docs/CONDITIONS.md`` is generated from it (``python -m tools.conditions_doc``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, Mapping, Optional, Tuple, Union

from eventtypes import NAMES, NAMES_3_9

__all__ = [
    "ALARM",
    "ALARMS",
    "ATTRIBUTE_NOTES",
    "CLOSES",
    "CONDITIONS",
    "INFO",
    "INFO_NOTES",
    "KINDS",
    "OPENS",
    "SEVERITIES",
    "SWEEPS",
    "UNCONFIRMED",
    "UNKNOWN",
    "UNKNOWN_VALUE",
    "Alarm",
    "Condition",
    "Label",
    "Outcome",
    "Sweep",
    "classify",
    "condition_key",
    "evaluate",
    "rule_of",
    "valid_label_name",
]

OPENS = "opens"
CLOSES = "closes"
ALARM = "alarm"
INFO = "info"
#: What ``classify`` answers for a name that no catalog has.
UNKNOWN = "unknown"
KINDS: Tuple[str, ...] = (OPENS, CLOSES, ALARM, INFO)
SEVERITIES: Tuple[str, ...] = ("critical", "warning", "info")

#: The value an identity label takes when the event does not carry what it is made of.
UNKNOWN_VALUE = "unknown"
#: Longest label value and annotation kept (longer ones are cut, with "...").
MAX_LABEL_CHARS = 256
MAX_ANNOTATION_CHARS = 1024

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

HOUR = 3600
DAY = 24 * HOUR


def valid_label_name(name: str) -> bool:
    """True if ``name`` is a label name Prometheus and Alertmanager accept (classic mode)."""
    return bool(_LABEL_NAME.match(name)) and not name.startswith("__")


# --- reading attributes ------------------------------------------------------------------


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


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A condition that opens and closes: one Alertmanager alert while it is open.

    ``scope`` is ``pool`` when the labels say everything (several nodes may report it: one
    alert) or ``node`` when the condition belongs to the reporting node (``node`` label).
    ``expires_secs``: stop re-sending (let it resolve) that long after the last opening
    report even if no closing event came, for conditions whose close may never come.
    """

    alertname: str
    severity: str
    opens: Tuple[str, ...]
    closes: Tuple[str, ...]
    labels: Tuple[Label, ...]
    summary: str
    description: str
    scope: str = "pool"
    expires_secs: Optional[int] = None
    context: Tuple[Label, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Alarm:
    """A one-shot alarm: fires at the event's time, ends ``duration_secs`` later. A repeat
    with the same labels while it is on extends it."""

    event: str
    severity: str
    duration_secs: int
    labels: Tuple[Label, ...]
    summary: str
    description: str
    scope: str = "pool"
    context: Tuple[Label, ...] = ()

    @property
    def alertname(self) -> str:
        """``Gluster`` + the event's name in CamelCase, e.g. ``GlusterAfrSplitBrain``."""
        return "Gluster" + "".join(part.capitalize() for part in self.event.split("_"))


@dataclass(frozen=True)
class Sweep:
    """An informational event that also closes every open condition among ``alertnames``
    whose labels equal ``match`` (a stopped volume has no brick to wait for)."""

    event: str
    alertnames: Tuple[str, ...]
    match: Tuple[Label, ...]
    note: str


Rule = Union[Condition, Alarm]

_PEER_HOST = Label("peer_host", lambda a: a.get("peer", "host"), "`peer` or `host`")

CONDITIONS: Tuple[Condition, ...] = (
    Condition(
        "GlusterBrickDown", "critical",
        opens=("BRICK_DISCONNECTED", "BRICK_START_FAILED"), closes=("BRICK_CONNECTED",),
        labels=(_VOLUME, _GLUSTERD_BRICK),
        summary="Brick {brick} of volume {volume} is down",
        description="glusterd on {peer} reported {event}: the brick process of {brick} (volume "
                    "{volume}) is not running or not connected; it serves no I/O until "
                    "BRICK_CONNECTED.",
        note="Only the glusterd of the brick's own node reports it. BRICK_START_FAILED opens it "
             "too: a brick that never started never disconnects.",
    ),
    Condition(
        "GlusterPeerDisconnected", "critical",
        opens=("PEER_DISCONNECT",), closes=("PEER_CONNECT",),
        labels=(_attr("uuid", label="peer_uuid"),),
        context=(_PEER_HOST,),
        summary="Peer {peer_host} is disconnected from the pool",
        description="glusterd on node {node} lost its connection to peer {peer_host} "
                    "(uuid {peer_uuid}[, state {state}]). A peer whose glusterd is gone also "
                    "takes its bricks out without BRICK_DISCONNECTED.",
        note="Identity is the peer's uuid, not the reporting node: when B goes down every other "
             "node reports it, and that is one alert. The host name is an annotation only, "
             "because nodes may know B by different names (PEER_DISCONNECT sends `peer`, "
             "PEER_CONNECT sends `host`).",
    ),
    Condition(
        "GlusterServerQuorumLost", "critical",
        opens=("QUORUM_LOST",), closes=("QUORUM_REGAINED",),
        labels=(_VOLUME,),
        summary="Volume {volume} lost server quorum",
        description="glusterd on node {node} lost server quorum for volume {volume} and stopped "
                    "its local bricks of it, until QUORUM_REGAINED.",
        note="Each node that loses quorum reports it; one alert per volume.",
    ),
    Condition(
        "GlusterServiceDown", "warning",
        opens=("SVC_DISCONNECTED",), closes=("SVC_CONNECTED",),
        labels=(_NODE, _SERVICE, _attr("volume", optional=True)),
        scope="node",
        summary="Service {service} is down on node {node}",
        description="glusterd on node {node} lost its connection to its local {service} "
                    "daemon[ of volume {volume}].",
        note="Per node: every node runs its own self-heal, quota, bitrot, scrub and NFS daemons. "
             "snapd is per volume too (`volume` label, only for it).",
    ),
    Condition(
        "GlusterReplicaQuorumLost", "critical",
        opens=("AFR_QUORUM_FAIL",), closes=("AFR_QUORUM_MET",),
        labels=(_SUBVOL_LABEL, _VOLUME_OF_SUBVOL),
        summary="Replica set {subvol} lost client quorum",
        description="A client[ (client-pid {client_pid})] finds too few bricks of replica set "
                    "{subvol}[ of volume {volume}] up: writes to it fail until AFR_QUORUM_MET.",
        note="Reported by each client process (mounts, self-heal daemons) to its volfile "
             "server; one alert per replica set.",
    ),
    Condition(
        "GlusterReplicaSubvolDown", "critical",
        opens=("AFR_SUBVOLS_DOWN",), closes=("AFR_SUBVOL_UP",),
        labels=(_SUBVOL_LABEL, _VOLUME_OF_SUBVOL),
        summary="Replica set {subvol} is down",
        description="A client[ (client-pid {client_pid})] finds every brick of replica set "
                    "{subvol}[ of volume {volume}] down: its files are unreachable until "
                    "AFR_SUBVOL_UP.",
        note="Reported by each client process; one alert per replica set.",
    ),
    Condition(
        "GlusterDisperseSubvolDown", "critical",
        opens=("EC_MIN_BRICKS_NOT_UP",), closes=("EC_MIN_BRICKS_UP",),
        labels=(_SUBVOL_LABEL, _VOLUME_OF_SUBVOL),
        summary="Disperse set {subvol} has fewer bricks up than it needs",
        description="A client finds fewer bricks of disperse set {subvol}[ of volume {volume}] up "
                    "than the data needs: its files are unreachable until EC_MIN_BRICKS_UP.",
        note="Reported by each client process; one alert per disperse set.",
    ),
    Condition(
        "GlusterGeorepFaulty", "warning",
        opens=("GEOREP_FAULTY",), closes=("GEOREP_ACTIVE", "GEOREP_PASSIVE"),
        labels=(_attr("primary_volume", "master_volume", label="volume"),
                Label("secondary", _georep_secondary,
                      "`secondary_host` `::` `secondary_volume` (`slave_*` before Gluster 10), "
                      "without `user@`"),
                Label("brick", lambda a: _join_brick(a.get("primary_node", "master_node"),
                                                     a.get("brick_path")),
                      "`primary_node` `:` `brick_path` (`master_node` before Gluster 10)")),
        summary="Geo-replication of {volume} to {secondary} is faulty on brick {brick}",
        description="The geo-replication worker of brick {brick} (volume {volume} to {secondary}) "
                    "is faulty; it restarts by itself and the condition ends when it is Active "
                    "or Passive again.",
        note="The worker's monitor reports it on the brick's node.",
    ),
    Condition(
        "GlusterClientDisconnected", "info",
        opens=("CLIENT_DISCONNECT",), closes=("CLIENT_CONNECT",),
        labels=(_NODE, _attr("brick_path", label="brick"), Label("client", _client,
                "`client_uid` without its `-RECON_NO:` counter (else `client_identifier`'s host)")),
        scope="node",
        expires_secs=HOUR,
        summary="Client {client_host} disconnected from brick {brick}",
        description="The brick {brick} on node {node} lost client {client}[ "
                    "({client_identifier})]. An unmounted client never comes back, so this "
                    "ends by itself an hour after the disconnect.",
        context=(Label("client_host", lambda a: _host_of(a.get("client_identifier")),
                       "`client_identifier` without the port"),),
        note="The brick's own node reports it, and a brick path alone is not unique in the "
             "pool, hence the `node` label.",
    ),
)

_CONDITION_BY_NAME: Dict[str, Condition] = {c.alertname: c for c in CONDITIONS}

_BRICK_PATH_NODE = (_NODE, _attr("brick", label="brick"))


def _alarm(event: str, severity: str, duration: int, labels: Tuple[Label, ...], summary: str,
           description: str, scope: str = "pool", context: Tuple[Label, ...] = ()) -> Alarm:
    return Alarm(event, severity, duration, labels, summary, description, scope, context)


_FAILED_OP = "Reported by glusterd on node {node}."
_SYNC = ("A peer's copy of the configuration differs from this node's; until it is fixed the "
         "peer may stay rejected. Reported by glusterd on node {node}.")

ALARMS: Dict[str, Alarm] = {a.event: a for a in (
    _alarm("SNAPSHOT_CREATE_FAILED", "warning", HOUR,
           (_attr("volume_name", label="volume"), _attr("snapshot_name", label="snapshot")),
           "Snapshot {snapshot} of volume {volume} failed",
           "Creating snapshot {snapshot} of volume {volume} failed[: {error}]. Scheduled "
           "snapshots fail with nobody at the terminal."),
    _alarm("SNAPSHOT_DELETE_FAILED", "warning", HOUR,
           (_attr("snapshot_name", label="snapshot"),),
           "Deleting snapshot {snapshot} failed",
           "Deleting snapshot {snapshot} failed[: {error}]. glusterd's auto-delete reports this "
           "too."),
    _alarm("SNAPSHOT_SOFT_LIMIT_REACHED", "warning", DAY, (_attr("volume_name", label="volume"),),
           "Volume {volume} reached its snapshot soft limit",
           "Volume {volume} has reached the snapshot soft limit; older snapshots are deleted "
           "or new ones will fail at the hard limit."),
    _alarm("SNAPSHOT_HARD_LIMIT_REACHED", "critical", DAY,
           (_attr("volume_name", label="volume"),),
           "Volume {volume} reached its snapshot hard limit",
           "Volume {volume} has reached the snapshot hard limit: new snapshots fail until some "
           "are deleted."),
    _alarm("SVC_MANAGER_FAILED", "warning", HOUR,
           (_NODE, _SERVICE, _attr("volume", optional=True)),
           "glusterd could not manage {service} on node {node}",
           "glusterd on node {node} failed to start or reconfigure its {service} "
           "daemon[ of volume {volume}].", scope="node"),
    _alarm("SVC_RECONFIGURE_FAILED", "warning", HOUR, (_NODE, _SERVICE),
           "glusterd could not reconfigure {service} on node {node}",
           "glusterd on node {node} failed to reconfigure its {service} daemon.", scope="node"),
    _alarm("PEER_STORE_FAILURE", "warning", HOUR, (_NODE, _attr("peer")),
           "Node {node} could not store peer {peer}",
           "glusterd on node {node} failed to write peer {peer}'s details to disk.",
           scope="node"),
    _alarm("PEER_RPC_CREATE_FAILED", "warning", HOUR, (_NODE, _attr("peer")),
           "Node {node} could not connect to peer {peer}",
           "glusterd on node {node} failed to set up its connection to peer {peer}.",
           scope="node"),
    _alarm("PEER_REJECT", "warning", DAY,
           (_NODE, Label("peer", lambda a: _host_of(a.get("peer")), "`peer` without a port")),
           "Peer {peer} was rejected by node {node}",
           "glusterd on node {node} rejected peer {peer} (its configuration differs); the peer "
           "stays in the Rejected state until an administrator fixes it.", scope="node"),
    _alarm("PEER_NOT_FOUND", "warning", HOUR, (_NODE, _attr("uuid", label="peer_uuid")),
           "Node {node} has no record of peer {peer}",
           "glusterd on node {node} got a connection for peer {peer} (uuid {peer_uuid}) that it "
           "no longer knows.", scope="node"),
    _alarm("UNKNOWN_PEER", "warning", HOUR, (_NODE, _attr("peer", label="peer_uuid")),
           "Node {node} got a request from unknown peer {peer_uuid}",
           "glusterd on node {node} got a friend request from a peer it does not know "
           "(uuid {peer_uuid}).", scope="node"),
    _alarm("BRICK_STOP_FAILED", "warning", HOUR, (_VOLUME, _GLUSTERD_BRICK),
           "Brick {brick} of volume {volume} could not be stopped", _FAILED_OP),
    _alarm("BRICKPATH_RESOLVE_FAILED", "warning", HOUR, (_VOLUME, _GLUSTERD_BRICK),
           "Brick path {brick} of volume {volume} could not be resolved",
           "glusterd on node {node} could not resolve the host or path of brick {brick}."),
    _alarm("BRICKS_START_FAILED", "warning", HOUR, (_VOLUME,),
           "Bricks of volume {volume} failed to start",
           "Gluster 3.9: glusterd on node {node} failed to start bricks of volume {volume}."),
    _alarm("NOTIFY_UNKNOWN_OP", "warning", HOUR, (_NODE, _attr("op")),
           "Node {node} got an unknown notification {op}",
           "glusterd on node {node} got a notification it does not know (op {op}): often "
           "peers at different Gluster versions.", scope="node"),
    _alarm("REBALANCE_START_FAILED", "warning", HOUR, (_VOLUME,),
           "Rebalance of volume {volume} failed to start", _FAILED_OP),
    _alarm("REBALANCE_STATUS_UPDATE_FAILED", "warning", HOUR, (_VOLUME,),
           "Rebalance status of volume {volume} could not be updated", _FAILED_OP),
    _alarm("IMPORT_QUOTA_CONF_FAILED", "warning", DAY, (_NODE, _VOLUME),
           "Node {node} could not import the quota configuration of {volume}", _SYNC,
           scope="node"),
    _alarm("IMPORT_VOLUME_FAILED", "warning", DAY, (_NODE, _VOLUME),
           "Node {node} could not import volume {volume}", _SYNC, scope="node"),
    _alarm("IMPORT_BRICK_FAILED", "warning", DAY,
           (_NODE, Label("brick", lambda a: _join_brick(a.get("peer"), a.get("brick", "ta-brick")),
                         "`peer` `:` `brick` (or `ta-brick`)")),
           "Node {node} could not import brick {brick}", _SYNC, scope="node"),
    _alarm("COMPARE_FRIEND_VOLUME_FAILED", "warning", DAY, (_NODE, _VOLUME),
           "Node {node} could not compare volume {volume} with a peer", _SYNC, scope="node"),
    _alarm("NFS_GANESHA_EXPORT_FAILED", "warning", HOUR, (_VOLUME,),
           "NFS-Ganesha export of volume {volume} failed",
           "glusterd on node {node} failed to export volume {volume} through NFS-Ganesha."),
    _alarm("QUOTA_CROSSED_SOFT_LIMIT", "warning", DAY, (_VOLUME, _attr("path")),
           "Quota soft limit crossed on {path} of volume {volume}",
           "Directory {path} of volume {volume} uses[ {usage},] above its quota soft limit. "
           "Gluster repeats this every alert-time (a week by default) while it lasts."),
    _alarm("BITROT_BAD_FILE", "critical", DAY, _BRICK_PATH_NODE + (_attr("gfid"),),
           "Bitrot: corrupted file on brick {brick}",
           "The scrubber on node {node} found file[ {path}] (gfid {gfid}) on brick {brick} "
           "corrupted.", scope="node"),
    _alarm("CLIENT_AUTH_REJECT", "warning", HOUR,
           (_NODE, _attr("brick_path", label="brick"),
            Label("client_host", lambda a: _host_of(a.get("client_identifier")),
                  "`client_identifier` without the port")),
           "Brick {brick} rejected client {client_host}",
           "The brick {brick} on node {node} refused client {client_host} (auth.allow / "
           "auth.reject or TLS).", scope="node"),
    _alarm("POSIX_SAME_GFID", "warning", DAY, (_POSIX_BRICK, _attr("gfid")),
           "Two files share gfid {gfid} on brick {brick}",
           "Brick {brick} found[ {newpath}] with the gfid {gfid}[ of {path}]: needs a manual fix."),
    _alarm("POSIX_ALREADY_PART_OF_VOLUME", "warning", HOUR, (_POSIX_BRICK,),
           "Brick {brick} already belongs to another volume",
           "Brick {brick} refused to start: its directory is part of another volume[ (id {volume_id})]."),
    _alarm("POSIX_BRICK_NOT_IN_VOLUME", "warning", HOUR, (_POSIX_BRICK,),
           "Brick {brick} is not part of its volume",
           "Brick {brick} refused to start: its directory lacks the volume's id."),
    _alarm("POSIX_BRICK_VERIFICATION_FAILED", "warning", HOUR, (_POSIX_BRICK,),
           "Brick {brick} failed verification",
           "Brick {brick} refused to start: its directory could not be verified."),
    _alarm("POSIX_ACL_NOT_SUPPORTED", "warning", HOUR, (_POSIX_BRICK,),
           "Brick {brick} has no ACL support",
           "The file system of brick {brick} does not support ACLs."),
    _alarm("POSIX_HEALTH_CHECK_FAILED", "critical", DAY, (_POSIX_BRICK,),
           "Health check failed on brick {brick}",
           "The health check of brick {brick} failed[ ({op} on {path}: {error})]; the brick "
           "process takes itself down. Check the disk."),
    _alarm("AFR_SPLIT_BRAIN", "critical", DAY,
           (_SUBVOL_LABEL, _VOLUME_OF_SUBVOL, _attr("file", "gfid", label="file")),
           "Split-brain in replica set {subvol}",
           "Replica set {subvol}[ of volume {volume}] has a[ {type}] split-brain on {file}[: "
           "resolve it with `gluster volume heal {volume} split-brain`]."),
    _alarm("VOLUME_REBALANCE_FAILED", "warning", DAY, (_VOLUME,),
           "Rebalance of volume {volume} failed",
           "The rebalance process of volume {volume} failed; data is not fully migrated."),
    _alarm("DHT_DISK_USAGE", "warning", 6 * HOUR, (_VOLUME, _SUBVOL_LABEL),
           "Disk space low on {subvol} of volume {volume}",
           "Sub-volume {subvol} of volume {volume} is[ {usage}] full (past min-free-disk); "
           "consider adding bricks. Repeated while it lasts."),
    _alarm("DHT_INODES_USAGE", "warning", 6 * HOUR, (_VOLUME, _SUBVOL_LABEL),
           "Inodes low on {subvol} of volume {volume}",
           "Sub-volume {subvol} of volume {volume} has[ {usage} of] its inodes used; consider "
           "adding bricks. Repeated while it lasts."),
)}

_VOLUME_CONDITIONS = tuple(c.alertname for c in CONDITIONS
                           if any(label.name == "volume" for label in c.labels))

SWEEPS: Dict[str, Sweep] = {s.event: s for s in (
    Sweep("VOLUME_STOP", _VOLUME_CONDITIONS, (_attr("name", "volume", label="volume"),),
          "a stopped volume's conditions end with it"),
    Sweep("VOLUME_DELETE", _VOLUME_CONDITIONS, (_attr("name", "volume", label="volume"),),
          "a deleted volume's conditions end with it"),
    Sweep("GEOREP_STOP", ("GlusterGeorepFaulty",),
          (_attr("primary", "master", label="volume"),
           Label("secondary", _georep_cli_secondary, "`secondary` (`slave`) without `user@`")),
          "a stopped session's workers are never Active again"),
    Sweep("GEOREP_DELETE", ("GlusterGeorepFaulty",),
          (_attr("primary", "master", label="volume"),
           Label("secondary", _georep_cli_secondary, "`secondary` (`slave`) without `user@`")),
          "a deleted session's workers are never Active again"),
)}

#: Why some events that sound alarming are only informational.
INFO_NOTES: Dict[str, str] = {
    **{name: "run by an administrator, who sees the failure at the terminal"
       for name in NAMES if name.endswith("_FAILED") and name.startswith((
           "SNAPSHOT_ACTIVATE", "SNAPSHOT_DEACTIVATE", "SNAPSHOT_RESTORE", "SNAPSHOT_CLONE",
           "SNAPSHOT_CONFIG", "SNAPSHOT_SCHEDULER", "VOLUME_ADD_BRICK", "VOLUME_REMOVE_BRICK"))},
    **{name: "tiering was removed in Gluster 6" for name in NAMES if name.startswith("TIER_")},
    "PEER_DETACH": "does not end a GlusterPeerDisconnected alert: it names the peer as typed, "
                   "the alert is keyed by uuid",
    "GEOREP_CHECKPOINT_COMPLETED": "good news",
    "VOLUME_REBALANCE_COMPLETE": "good news",
}

#: What Gluster's sources send, where it differs from the admin guide's tables
#: (``eventtypes.ATTRIBUTES``). Checked against glusterfs at 595745f (Gluster 11 era).
ATTRIBUTE_NOTES: Dict[str, str] = {
    "PEER_DISCONNECT": "sends `peer` (not `host`), `uuid`, `state`",
    "PEER_CONNECT": "sends `host`, `uuid`; only for peers whose uuid is known (not on probe)",
    "SVC_DISCONNECTED": "also sends `volume` for snapd; the shd of Gluster 7+ sends "
                        "`svc_name=glustershd` only",
    "SVC_CONNECTED": "`volume` only for snapd",
    "SVC_MANAGER_FAILED": "`volume` for shd (per volume), gfproxyd and snapd only",
    "BRICK_RESET_START": "sends `Volume` (capital V)",
    "BRICK_RESET_COMMIT": "sends `Volume` (capital V)",
    "BRICK_REPLACE": "sends `Volume` (capital V)",
    "VOLUME_CREATE": "also sends `bricks`",
    "SNAPSHOT_CONFIG_UPDATED": "`config_type` (`volume_config` or `system_config`) and one of "
                               "`hard_limit`, `soft_limit`, `auto-delete`, `snap-activate`",
    "VOLUME_ADD_BRICK": "sends `volume`, `bricks`",
    "IMPORT_BRICK_FAILED": "a thin-arbiter brick comes as `ta-brick`",
    "QUOTA_CROSSED_SOFT_LIMIT": "sends `Usage` (capital U); `volume` is the quota xlator's "
                                "volume-uuid option, the volume name in the graphs glusterd builds",
    "BITROT_BAD_FILE": "`brick` is the brick's path only, without its host",
    "CLIENT_CONNECT": "also sends `subdir_mount`; `client_uid` ends with a reconnect counter "
                      "(`-RECON_NO:-N`), so it changes on every reconnect",
    "CLIENT_DISCONNECT": "`client_uid` as for CLIENT_CONNECT",
    "POSIX_SAME_GFID": "`brick` is `host:path`",
    "POSIX_ALREADY_PART_OF_VOLUME": "`brick` is `host:path`",
    "POSIX_BRICK_NOT_IN_VOLUME": "`brick` is `host:path`",
    "POSIX_BRICK_VERIFICATION_FAILED": "`brick` is `host:path`",
    "POSIX_ACL_NOT_SUPPORTED": "`brick` is `host:path`",
    "POSIX_HEALTH_CHECK_FAILED": "`op` is the operation name; `brick` is `host:path` followed by "
                                 "` timeout is N` (the format string runs on)",
    "AFR_QUORUM_MET": "also sends `client-pid`",
    "AFR_QUORUM_FAIL": "also sends `client-pid`",
    "AFR_SUBVOL_UP": "also sends `client-pid`",
    "AFR_SUBVOLS_DOWN": "also sends `client-pid`",
    "AFR_SPLIT_BRAIN": "sends `client-pid`, `subvol`, `type` (file, gfid, data, metadata) and "
                       "`file` or `gfid`, plus per-child details",
    "GEOREP_FAULTY": "Gluster 10 renamed the attributes: `primary_volume`, `primary_node`, "
                     "`primary_node_id`, `secondary_host`, `secondary_volume`, "
                     "`current_secondary_host`, `brick_path` (before: `master_*`, `slave_*`)",
    "GEOREP_ACTIVE": "`primary_volume`, `primary_node`, `primary_node_id`, `secondary_host`, "
                     "`secondary_volume`, `brick_path` (before Gluster 10: `master_*`, `slave_*`)",
    "GEOREP_PASSIVE": "as GEOREP_ACTIVE",
    "GEOREP_CHECKPOINT_COMPLETED": "as GEOREP_ACTIVE, plus the checkpoint's times",
    "GEOREP_START": "the CLI sends `primary`, `secondary` (`master`, `slave` before Gluster 10) "
                    "and the options used",
    "GEOREP_STOP": "as GEOREP_START",
    "GEOREP_DELETE": "as GEOREP_START",
    "DHT_DISK_USAGE": "sends `volume`, `subvol`, `usage` (e.g. `91.20 %`)",
    "DHT_INODES_USAGE": "sends `volume`, `subvol`, `usage`",
    "SNAPSHOT_DELETE_FAILED": "glusterd's auto-delete sends `snapshot_name`, `snapshot_uuid`",
    "VOLUME_REBALANCE_FAILED": "sent by the rebalance process: `volume`",
}

#: Events whose attributes no current Gluster source confirms (the table relies on the admin
#: guide, or on an old source).
UNCONFIRMED: Dict[str, str] = {
    "NFS_GANESHA_EXPORT_FAILED": "no sender in current sources; old glusterd sent `volume`",
    **{name: "no sender in current sources (tiering removed in Gluster 6); old ones sent `vol`"
       for name in NAMES if name.startswith("TIER_")},
    **{name: "no sender found in current sources; never seen with attributes"
       for name in NAMES if name.startswith(("VOLUME_ADD_BRICK_FAILED", "VOLUME_REMOVE_BRICK_"))
       and name.endswith("_FAILED")},
    "BRICKS_START_FAILED": "Gluster 3.9 only; the admin guide's `volume`",
}


def _kinds() -> Dict[str, Tuple[str, Optional[Rule]]]:
    table: Dict[str, Tuple[str, Optional[Rule]]] = {}
    for condition in CONDITIONS:
        for name in condition.opens:
            table[name] = (OPENS, condition)
        for name in condition.closes:
            table[name] = (CLOSES, condition)
    for name, alarm in ALARMS.items():
        table[name] = (ALARM, alarm)
    for name in NAMES + NAMES_3_9:
        table.setdefault(name, (INFO, None))
    return table


#: Event name -> (kind, the condition or alarm it belongs to; None for info).
TABLE: Dict[str, Tuple[str, Optional[Rule]]] = _kinds()


def _name(name: object) -> str:
    text = _text(name).upper()
    return text[len("EVENT_"):] if text.startswith("EVENT_") else text


def classify(name: object) -> str:
    """The kind of an event name (``EVENT_`` prefix and case ignored): ``opens``, ``closes``,
    ``alarm``, ``info``; ``unknown`` for a name that no catalog has."""
    entry = TABLE.get(_name(name))
    return entry[0] if entry else UNKNOWN


def rule_of(name: object) -> Optional[Rule]:
    """The condition or alarm an event belongs to; None for informational or unknown ones."""
    entry = TABLE.get(_name(name))
    return entry[1] if entry else None


# --- evaluating one event ----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What one event means for alerting.

    ``labels`` include ``alertname`` and ``severity``; ``key`` is the condition's identity as
    text (equal for an opening and its closing event). ``missing`` names the identity labels
    that the event did not carry and that were set to ``unknown``. ``sweep`` is set for an
    informational event that closes matching conditions: (alertnames, labels to match).
    """

    event: str
    kind: str
    alertname: str = ""
    severity: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    key: str = ""
    duration_secs: Optional[int] = None
    expires_secs: Optional[int] = None
    missing: Tuple[str, ...] = ()
    sweep: Optional[Tuple[Tuple[str, ...], Mapping[str, str]]] = None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value(label: Label, attrs: Attrs) -> str:
    try:
        value = label.get(attrs)
    except Exception:  # a getter bug must not stop the daemon: treat as missing
        value = ""
    return _cut(_text(value), MAX_LABEL_CHARS)


def condition_key(labels: Mapping[str, str]) -> str:
    """The identity of an alert as text, e.g. ``GlusterBrickDown{brick="h:/b",volume="v"}``:
    ``alertname`` then the other labels sorted, ``severity`` left out (it never varies for one
    alertname). Alertmanager computes its fingerprint from the same labels."""
    name = labels.get("alertname", "")
    rest = ",".join(
        '{}="{}"'.format(k, v.replace("\\", "\\\\").replace('"', '\\"'))
        for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    return f"{name}{{{rest}}}"


class _Context(Dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


_FIELD = re.compile(r"{(\w+)}")
_OPTIONAL = re.compile(r"\[([^\[\]]*)\]")


def _render(template: str, context: _Context) -> str:
    """Fill ``{name}`` fields from the context; a ``[...]`` part is kept only when every
    field in it has a value (``?`` marks any other missing one)."""

    def optional(match: re.Match[str]) -> str:
        part = match.group(1)
        return part if all(f in context for f in _FIELD.findall(part)) else ""

    try:
        text = _OPTIONAL.sub(optional, template).format_map(context)
    except (ValueError, IndexError, KeyError, AttributeError):
        text = template
    return _cut(text, MAX_ANNOTATION_CHARS)


def evaluate(name: object, message: object, nodeid: object = None) -> Outcome:
    """Labels and annotations for one parsed event (its name and message dict) reported by
    node ``nodeid``. Never raises: a message that is not a dict counts as empty, values of
    any type become text, a missing identity attribute becomes ``unknown`` (listed in
    ``missing``) and a missing optional one is left out."""
    event = _name(name)
    kind = classify(event)
    attrs = Attrs(message, nodeid, event)
    sweep = SWEEPS.get(event)
    if sweep is not None:
        match = {label.name: _value(label, attrs) for label in sweep.match}
        match = {k: v for k, v in match.items() if v}
        # A sweep with nothing to match would close every condition: skip it instead.
        if len(match) == len(sweep.match):
            return Outcome(event, kind, sweep=(sweep.alertnames, match))
    rule = rule_of(event)
    if rule is None:
        return Outcome(event, kind)
    labels: Dict[str, str] = {"alertname": rule.alertname, "severity": rule.severity}
    missing = []
    for label in rule.labels:
        value = _value(label, attrs)
        if not value:
            if label.optional:
                continue
            value = UNKNOWN_VALUE
            missing.append(label.name)
        labels[label.name] = value
    context = _Context({_fold(k): v for k, v in attrs.values.items() if v})
    context.update({k: v for k, v in labels.items()})
    for label in rule.context:
        context[label.name] = _value(label, attrs) or UNKNOWN_VALUE
    context["event"] = event
    context["node"] = attrs.node or UNKNOWN_VALUE
    annotations = {"summary": _render(rule.summary, context),
                   "description": _render(rule.description, context)}
    if isinstance(rule, Alarm):
        return Outcome(event, kind, rule.alertname, rule.severity, labels, annotations,
                       condition_key(labels), duration_secs=rule.duration_secs,
                       missing=tuple(missing))
    return Outcome(event, kind, rule.alertname, rule.severity, labels, annotations,
                   condition_key(labels), expires_secs=rule.expires_secs, missing=tuple(missing))
