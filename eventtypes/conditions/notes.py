"""Notes on the catalog for docs/CONDITIONS.md: why some events are only informational, what
Gluster's sources really send, and which events no current source confirms (data only)."""

from __future__ import annotations

from typing import Dict

from eventtypes import NAMES

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
