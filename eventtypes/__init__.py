"""The Gluster event catalog: ids, names and the attributes each event carries.

The id of an event is its position in the catalog; Gluster sends the id in every datagram.
Gluster 3.10 and later share one numbering (ids never move: new events go at the end);
Gluster 3.9 numbered differently (see ``NAMES_3_9``). This module is data only and imports
nothing from the project, so Gluster tools can use it without the daemon.
"""

from __future__ import annotations

from eventtypes.attributes import ATTRIBUTES

__all__ = [
    "ATTRIBUTES",
    "NAMES",
    "NAMES_3_9",
    "NUMBERINGS",
    "UnknownEvent",
    "id_of",
    "name_of",
    "names_for",
]

#: Gluster 3.10 and later (4.x to 11.x): the default numbering.
NAMES: tuple[str, ...] = (
    "PEER_ATTACH",
    "PEER_DETACH",
    "VOLUME_CREATE",
    "VOLUME_START",
    "VOLUME_STOP",
    "VOLUME_DELETE",
    "VOLUME_SET",
    "VOLUME_RESET",
    "BRICK_RESET_START",
    "BRICK_RESET_COMMIT",
    "BRICK_REPLACE",
    "GEOREP_CREATE",
    "GEOREP_START",
    "GEOREP_STOP",
    "GEOREP_PAUSE",
    "GEOREP_RESUME",
    "GEOREP_DELETE",
    "GEOREP_CONFIG_SET",
    "GEOREP_CONFIG_RESET",
    "BITROT_ENABLE",
    "BITROT_DISABLE",
    "BITROT_SCRUB_THROTTLE",
    "BITROT_SCRUB_FREQ",
    "BITROT_SCRUB_OPTION",
    "BITROT_SCRUB_ONDEMAND",
    "QUOTA_ENABLE",
    "QUOTA_DISABLE",
    "QUOTA_SET_USAGE_LIMIT",
    "QUOTA_SET_OBJECTS_LIMIT",
    "QUOTA_REMOVE_USAGE_LIMIT",
    "QUOTA_REMOVE_OBJECTS_LIMIT",
    "QUOTA_ALERT_TIME",
    "QUOTA_SOFT_TIMEOUT",
    "QUOTA_HARD_TIMEOUT",
    "QUOTA_DEFAULT_SOFT_LIMIT",
    "SNAPSHOT_CREATED",
    "SNAPSHOT_CREATE_FAILED",
    "SNAPSHOT_ACTIVATED",
    "SNAPSHOT_ACTIVATE_FAILED",
    "SNAPSHOT_DEACTIVATED",
    "SNAPSHOT_DEACTIVATE_FAILED",
    "SNAPSHOT_SOFT_LIMIT_REACHED",
    "SNAPSHOT_HARD_LIMIT_REACHED",
    "SNAPSHOT_RESTORED",
    "SNAPSHOT_RESTORE_FAILED",
    "SNAPSHOT_DELETED",
    "SNAPSHOT_DELETE_FAILED",
    "SNAPSHOT_CLONED",
    "SNAPSHOT_CLONE_FAILED",
    "SNAPSHOT_CONFIG_UPDATED",
    "SNAPSHOT_CONFIG_UPDATE_FAILED",
    "SNAPSHOT_SCHEDULER_INITIALISED",
    "SNAPSHOT_SCHEDULER_INIT_FAILED",
    "SNAPSHOT_SCHEDULER_ENABLED",
    "SNAPSHOT_SCHEDULER_ENABLE_FAILED",
    "SNAPSHOT_SCHEDULER_DISABLED",
    "SNAPSHOT_SCHEDULER_DISABLE_FAILED",
    "SNAPSHOT_SCHEDULER_SCHEDULE_ADDED",
    "SNAPSHOT_SCHEDULER_SCHEDULE_ADD_FAILED",
    "SNAPSHOT_SCHEDULER_SCHEDULE_EDITED",
    "SNAPSHOT_SCHEDULER_SCHEDULE_EDIT_FAILED",
    "SNAPSHOT_SCHEDULER_SCHEDULE_DELETED",
    "SNAPSHOT_SCHEDULER_SCHEDULE_DELETE_FAILED",
    "SVC_MANAGER_FAILED",
    "SVC_RECONFIGURE_FAILED",
    "SVC_CONNECTED",
    "SVC_DISCONNECTED",
    "PEER_STORE_FAILURE",
    "PEER_RPC_CREATE_FAILED",
    "PEER_REJECT",
    "PEER_CONNECT",
    "PEER_DISCONNECT",
    "PEER_NOT_FOUND",
    "UNKNOWN_PEER",
    "BRICK_START_FAILED",
    "BRICK_STOP_FAILED",
    "BRICK_DISCONNECTED",
    "BRICK_CONNECTED",
    "BRICKPATH_RESOLVE_FAILED",
    "NOTIFY_UNKNOWN_OP",
    "QUORUM_LOST",
    "QUORUM_REGAINED",
    "REBALANCE_START_FAILED",
    "REBALANCE_STATUS_UPDATE_FAILED",
    "IMPORT_QUOTA_CONF_FAILED",
    "IMPORT_VOLUME_FAILED",
    "IMPORT_BRICK_FAILED",
    "COMPARE_FRIEND_VOLUME_FAILED",
    "NFS_GANESHA_EXPORT_FAILED",
    "EC_MIN_BRICKS_NOT_UP",
    "EC_MIN_BRICKS_UP",
    "GEOREP_FAULTY",
    "GEOREP_CHECKPOINT_COMPLETED",
    "GEOREP_ACTIVE",
    "GEOREP_PASSIVE",
    "QUOTA_CROSSED_SOFT_LIMIT",
    "BITROT_BAD_FILE",
    "CLIENT_CONNECT",
    "CLIENT_AUTH_REJECT",
    "CLIENT_DISCONNECT",
    "POSIX_SAME_GFID",
    "POSIX_ALREADY_PART_OF_VOLUME",
    "POSIX_BRICK_NOT_IN_VOLUME",
    "POSIX_BRICK_VERIFICATION_FAILED",
    "POSIX_ACL_NOT_SUPPORTED",
    "POSIX_HEALTH_CHECK_FAILED",
    "AFR_QUORUM_MET",
    "AFR_QUORUM_FAIL",
    "AFR_SUBVOL_UP",
    "AFR_SUBVOLS_DOWN",
    "AFR_SPLIT_BRAIN",
    "TIER_ATTACH",
    "TIER_ATTACH_FORCE",
    "TIER_DETACH_START",
    "TIER_DETACH_STOP",
    "TIER_DETACH_COMMIT",
    "TIER_DETACH_FORCE",
    "TIER_PAUSE",
    "TIER_RESUME",
    "TIER_WATERMARK_HI",
    "TIER_WATERMARK_DROPPED_TO_MID",
    "TIER_WATERMARK_RAISED_TO_MID",
    "TIER_WATERMARK_DROPPED_TO_LOW",
    "VOLUME_ADD_BRICK",
    "VOLUME_ADD_BRICK_FAILED",
    "VOLUME_REMOVE_BRICK_START",
    "VOLUME_REMOVE_BRICK_START_FAILED",
    "VOLUME_REMOVE_BRICK_COMMIT",
    "VOLUME_REMOVE_BRICK_COMMIT_FAILED",
    "VOLUME_REMOVE_BRICK_STOP",
    "VOLUME_REMOVE_BRICK_STOP_FAILED",
    "VOLUME_REMOVE_BRICK_FORCE",
    "VOLUME_REMOVE_BRICK_FORCE_FAILED",
    "VOLUME_REMOVE_BRICK_FAILED",
    "VOLUME_REBALANCE_START",
    "VOLUME_REBALANCE_STOP",
    "VOLUME_REBALANCE_FAILED",
    "VOLUME_REBALANCE_COMPLETE",
    "TIER_START",
    "TIER_START_FORCE",
    "DHT_DISK_USAGE",
    "DHT_INODES_USAGE",
)

#: Gluster 3.9 had BRICKS_START_FAILED at id 78 and no DHT_* usage events.
NAMES_3_9: tuple[str, ...] = NAMES[:78] + ("BRICKS_START_FAILED",) + NAMES[78:140]

#: Numbering name (the ``event-numbering`` config value) -> catalog.
NUMBERINGS: dict[str, tuple[str, ...]] = {"3.10": NAMES, "3.9": NAMES_3_9}


class UnknownEvent(LookupError):
    """An event id or name that the chosen catalog does not have."""


def names_for(numbering: str = "3.10") -> tuple[str, ...]:
    """Return the catalog of one numbering (``"3.10"``, the default, or ``"3.9"``)."""
    try:
        return NUMBERINGS[numbering]
    except KeyError:
        allowed = ", ".join(sorted(NUMBERINGS))
        raise UnknownEvent(f"unknown event numbering {numbering!r} (allowed: {allowed})") from None


def name_of(event_id: int, numbering: str = "3.10") -> str:
    """Return the name of ``event_id``; raise UnknownEvent for an id outside the catalog."""
    names = names_for(numbering)
    if not 0 <= event_id < len(names):
        raise UnknownEvent(f"unknown event id {event_id} (Gluster {numbering} ids are 0..{len(names) - 1})")
    return names[event_id]


def id_of(name: str, numbering: str = "3.10") -> int:
    """Return the id of an event name (``EVENT_`` prefix and case ignored)."""
    wanted = name.upper()
    wanted = wanted[len("EVENT_"):] if wanted.startswith("EVENT_") else wanted
    try:
        return names_for(numbering).index(wanted)
    except ValueError:
        raise UnknownEvent(f"unknown event name {name!r}") from None
