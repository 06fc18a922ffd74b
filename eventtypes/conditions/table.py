"""The conditions table: what each Gluster event opens, closes or raises (data only).

``CONDITIONS`` are conditions that open and close (one alert while open), ``ALARMS`` one-shot
alarms keyed by event name, ``SWEEPS`` informational events that also close matching
conditions. Each rule names its identity labels (``labels``), chosen so that the opening and
the closing event give the same ones and the same condition reported by several nodes is one
alert. Evaluating an event against this table is ``outcome``'s job; docs/CONDITIONS.md is
generated from it (``python -m tools.conditions_doc``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

from eventtypes.conditions.labels import (
    _GLUSTERD_BRICK, _NODE, _POSIX_BRICK, _SERVICE, _SUBVOL_LABEL, _VOLUME, _VOLUME_OF_SUBVOL, Label, _attr,
    _client, _georep_cli_secondary, _georep_secondary, _host_of, _join_brick)

HOUR = 3600
DAY = 24 * HOUR


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

