"""Attributes that the Gluster 3.9 admin guide documents for each event.

Name -> tuple of (attribute, description). Events not listed carry whatever attributes
arrive; the daemon publishes them as received. Data only.
"""

from __future__ import annotations

ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    "PEER_ATTACH": (
        ("host", "Hostname or IP of added node"),
    ),
    "PEER_DETACH": (
        ("host", "Hostname or IP of detached node"),
    ),
    "VOLUME_CREATE": (
        ("name", "Volume Name"),
    ),
    "VOLUME_START": (
        ("force", "Force option used or not during Start"),
        ("name", "Volume Name"),
    ),
    "VOLUME_STOP": (
        ("force", "Force option used or not during Stop"),
        ("name", "Volume Name"),
    ),
    "VOLUME_DELETE": (
        ("name", "Volume Name"),
    ),
    "VOLUME_SET": (
        ("name", "Volume Name"),
        ("options", "List of Options[(key1, val1), (key2, val2),..]"),
    ),
    "VOLUME_RESET": (
        ("name", "Volume Name"),
        ("option", "Option Name"),
    ),
    "BRICK_RESET_START": (
        ("volume", "Volume Name"),
        ("source-brick", "Source Brick details"),
    ),
    "BRICK_RESET_COMMIT": (
        ("volume", "Volume Name"),
        ("destination-brick", "Destination Brick"),
        ("source-brick", "Source Brick details"),
    ),
    "BRICK_REPLACE": (
        ("volume", "Volume Name"),
        ("destination-brick", "Destination Brick"),
        ("source-brick", "Source Brick details"),
    ),
    "GEOREP_CREATE": (
        ("force", "Force option used during session Create"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
        ("no_verify", "No verify option is used or not"),
        ("push_pem", "Push pem option is used or Not"),
        ("ssh_port", "If SSH port is configured during Session Create"),
        ("master", "Master Volume Name"),
    ),
    "GEOREP_START": (
        ("force", "Force option used during session Start"),
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
    ),
    "GEOREP_STOP": (
        ("force", "Force option used during session Stop"),
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
    ),
    "GEOREP_PAUSE": (
        ("force", "Force option used during session Pause"),
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
    ),
    "GEOREP_RESUME": (
        ("force", "Force option used during session Resume"),
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
    ),
    "GEOREP_DELETE": (
        ("force", "Force option used during session Delete"),
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
    ),
    "GEOREP_CONFIG_SET": (
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
        ("option", "Name of Geo-rep config"),
        ("value", "Changed Value"),
    ),
    "GEOREP_CONFIG_RESET": (
        ("master", "Master Volume Name"),
        ("slave", "Slave Details(Slavehost::SlaveVolume)"),
        ("option", "Name of Geo-rep config"),
    ),
    "BITROT_ENABLE": (
        ("name", "Volume Name"),
    ),
    "BITROT_DISABLE": (
        ("name", "Volume Name"),
    ),
    "BITROT_SCRUB_THROTTLE": (
        ("name", "Volume Name"),
        ("value", "Changed Value"),
    ),
    "BITROT_SCRUB_FREQ": (
        ("name", "Volume Name"),
        ("value", "Changed Value"),
    ),
    "BITROT_SCRUB_OPTION": (
        ("name", "Volume Name"),
        ("value", "Changed Value"),
    ),
    "QUOTA_ENABLE": (
        ("volume", "Volume Name"),
    ),
    "QUOTA_DISABLE": (
        ("volume", "Volume Name"),
    ),
    "QUOTA_SET_USAGE_LIMIT": (
        ("volume", "Volume Name"),
        ("path", "Path in Volume on which Quota option is set"),
        ("limit", "Changed Value"),
    ),
    "QUOTA_SET_OBJECTS_LIMIT": (
        ("volume", "Volume Name"),
        ("path", "Path in Volume on which Quota option is set"),
        ("limit", "Changed Value"),
    ),
    "QUOTA_REMOVE_USAGE_LIMIT": (
        ("volume", "Volume Name"),
        ("path", "Path in Volume on which Quota option is Reset"),
    ),
    "QUOTA_REMOVE_OBJECTS_LIMIT": (
        ("volume", "Volume Name"),
        ("path", "Path in Volume on which Quota option is Reset"),
    ),
    "QUOTA_ALERT_TIME": (
        ("volume", "Volume Name"),
        ("time", "Changed Alert Time"),
    ),
    "QUOTA_SOFT_TIMEOUT": (
        ("volume", "Volume Name"),
        ("soft-timeout", "Changed Value"),
    ),
    "QUOTA_HARD_TIMEOUT": (
        ("volume", "Volume Name"),
        ("hard-timeout", "Changed Value"),
    ),
    "QUOTA_DEFAULT_SOFT_LIMIT": (
        ("volume", "Volume Name"),
        ("default-soft-limit", "Changed Value"),
    ),
    "SNAPSHOT_CREATED": (
        ("snapshot_name", "Snapshot Name"),
        ("volume_name", "Volume Name"),
        ("snapshot_uuid", "Snapshot UUID"),
    ),
    "SNAPSHOT_CREATE_FAILED": (
        ("snapshot_name", "Snapshot Name"),
        ("volume_name", "Volume Name"),
        ("error", "Failure details"),
    ),
    "SNAPSHOT_ACTIVATED": (
        ("snapshot_name", "Snapshot Name"),
        ("snapshot_uuid", "Snapshot UUID"),
    ),
    "SNAPSHOT_ACTIVATE_FAILED": (
        ("snapshot_name", "Snapshot Name"),
        ("error", "Failure details"),
    ),
    "SNAPSHOT_DEACTIVATED": (
        ("snapshot_name", "Snapshot Name"),
        ("snapshot_uuid", "Snapshot UUID"),
    ),
    "SNAPSHOT_DEACTIVATE_FAILED": (
        ("snapshot_name", "Snapshot Name"),
        ("error", "Failure details"),
    ),
    "SNAPSHOT_SOFT_LIMIT_REACHED": (
        ("volume_name", "Volume Name"),
        ("volume_id", "Volume ID"),
    ),
    "SNAPSHOT_HARD_LIMIT_REACHED": (
        ("volume_name", "Volume Name"),
        ("volume_id", "Volume ID"),
    ),
    "SNAPSHOT_RESTORED": (
        ("snapshot_name", "Snapshot Name"),
        ("volume_name", "Volume Name"),
        ("snapshot_uuid", "Snapshot UUID"),
    ),
    "SNAPSHOT_RESTORE_FAILED": (
        ("snapshot_name", "Snapshot Name"),
        ("error", "Failure details"),
    ),
    "SNAPSHOT_DELETED": (
        ("snapshot_name", "Snapshot Name"),
        ("snapshot_uuid", "Snapshot UUID"),
    ),
    "SNAPSHOT_DELETE_FAILED": (
        ("snapshot_name", "Snapshot Name"),
        ("error", "Failure details"),
    ),
    "SNAPSHOT_CLONED": (
        ("clone_uuid", "Snapshot Clone UUID"),
        ("snapshot_name", "Snapshot Name"),
        ("clone_name", "Snapshot Clone Name"),
    ),
    "SNAPSHOT_CLONE_FAILED": (
        ("snapshot_name", "Snapshot Name"),
        ("clone_name", "Snapshot Clone Name"),
        ("error", "Failure details"),
    ),
    "SNAPSHOT_CONFIG_UPDATED": (
        ("auto-delete", "Auto delete Value if available"),
        ("config_type", "Volume Config or System Config"),
        ("hard_limit", "Hard Limit Value if available"),
        ("soft_limit", "Soft Limit Value if available"),
        ("snap-activate", "Snap activate Value if available"),
    ),
    "SNAPSHOT_CONFIG_UPDATE_FAILED": (
        ("error", "Error details"),
    ),
    "SNAPSHOT_SCHEDULER_INITIALISED": (
        ("status", "Succss Status"),
    ),
    "SNAPSHOT_SCHEDULER_INIT_FAILED": (
        ("error", "Error details"),
    ),
    "SNAPSHOT_SCHEDULER_ENABLED": (
        ("status", "Succss Status"),
    ),
    "SNAPSHOT_SCHEDULER_ENABLE_FAILED": (
        ("error", "Error details"),
    ),
    "SNAPSHOT_SCHEDULER_DISABLED": (
        ("status", "Succss Status"),
    ),
    "SNAPSHOT_SCHEDULER_DISABLE_FAILED": (
        ("error", "Error details"),
    ),
    "SNAPSHOT_SCHEDULER_SCHEDULE_ADDED": (
        ("status", "Succss Status"),
    ),
    "SNAPSHOT_SCHEDULER_SCHEDULE_ADD_FAILED": (
        ("error", "Error details"),
    ),
    "SNAPSHOT_SCHEDULER_SCHEDULE_EDITED": (
        ("status", "Succss Status"),
    ),
    "SNAPSHOT_SCHEDULER_SCHEDULE_EDIT_FAILED": (
        ("error", "Error details"),
    ),
    "SNAPSHOT_SCHEDULER_SCHEDULE_DELETED": (
        ("status", "Succss Status"),
    ),
    "SNAPSHOT_SCHEDULER_SCHEDULE_DELETE_FAILED": (
        ("error", "Error details"),
    ),
    "SVC_MANAGER_FAILED": (
        ("volume", "Volume Name if available"),
        ("svc_name", "Service Name"),
    ),
    "SVC_CONNECTED": (
        ("volume", "Volume Name if available"),
        ("svc_name", "Service Name"),
    ),
    "SVC_DISCONNECTED": (
        ("svc_name", "Service Name"),
    ),
    "PEER_STORE_FAILURE": (
        ("peer", "Hostname or IP"),
    ),
    "PEER_RPC_CREATE_FAILED": (
        ("peer", "Hostname or IP"),
    ),
    "PEER_REJECT": (
        ("peer", "Hostname or IP"),
    ),
    "PEER_CONNECT": (
        ("host", "Hostname or IP"),
        ("uuid", "Host UUID"),
    ),
    "PEER_DISCONNECT": (
        ("host", "Hostname or IP"),
        ("uuid", "Host UUID"),
        ("state", "Disconnect State"),
    ),
    "PEER_NOT_FOUND": (
        ("peer", "Hostname or IP"),
        ("uuid", "Host UUID"),
    ),
    "UNKNOWN_PEER": (
        ("peer", "Hostname or IP"),
    ),
    "BRICK_START_FAILED": (
        ("peer", "Hostname or IP"),
        ("volume", "Volume Name"),
        ("brick", "Brick"),
    ),
    "BRICK_STOP_FAILED": (
        ("peer", "Hostname or IP"),
        ("volume", "Volume Name"),
        ("brick", "Brick"),
    ),
    "BRICK_DISCONNECTED": (
        ("peer", "Hostname or IP"),
        ("volume", "Volume Name"),
        ("brick", "Brick"),
    ),
    "BRICK_CONNECTED": (
        ("peer", "Hostname or IP"),
        ("volume", "Volume Name"),
        ("brick", "Brick"),
    ),
    "BRICKS_START_FAILED": (
        ("volume", "Volume Name"),
    ),
    "BRICKPATH_RESOLVE_FAILED": (
        ("peer", "Hostname or IP"),
        ("volume", "Volume Name"),
        ("brick", "Brick"),
    ),
    "NOTIFY_UNKNOWN_OP": (
        ("op", "Operation Name"),
    ),
    "QUORUM_LOST": (
        ("volume", "Volume Name"),
    ),
    "QUORUM_REGAINED": (
        ("volume", "Volume Name"),
    ),
    "REBALANCE_START_FAILED": (
        ("volume", "Volume Name"),
    ),
    "REBALANCE_STATUS_UPDATE_FAILED": (
        ("volume", "Volume Name"),
    ),
    "IMPORT_QUOTA_CONF_FAILED": (
        ("volume", "Volume Name"),
    ),
    "IMPORT_VOLUME_FAILED": (
        ("volume", "Volume Name"),
    ),
    "IMPORT_BRICK_FAILED": (
        ("peer", "Hostname or IP"),
        ("brick", "Brick details"),
    ),
    "COMPARE_FRIEND_VOLUME_FAILED": (
        ("volume", "Volume Name"),
    ),
    "EC_MIN_BRICKS_NOT_UP": (
        ("subvol", "Subvolume"),
    ),
    "EC_MIN_BRICKS_UP": (
        ("subvol", "Subvolume"),
    ),
    "GEOREP_FAULTY": (
        ("master_node", "Hostname or IP of Master Volume"),
        ("brick_path", "Brick Path"),
        ("slave_host", "Slave Hostname or IP"),
        ("master_volume", "Master Volume Name"),
        ("current_slave_host", "Current Slave Host to which Geo-rep worker was trying to connect to"),
        ("slave_volume", "Slave Volume Name"),
    ),
    "QUOTA_CROSSED_SOFT_LIMIT": (
        ("usage", "Usage"),
        ("volume", "Volume Name"),
        ("path", "Path"),
    ),
    "BITROT_BAD_FILE": (
        ("gfid", "GFID of File"),
        ("path", "Path if Available"),
        ("brick", "Brick details"),
    ),
    "CLIENT_CONNECT": (
        ("client_identifier", "Client Identifier"),
        ("client_uid", "Client UID"),
        ("server_identifier", "Server Identifier"),
        ("brick_path", "Path of Brick"),
    ),
    "CLIENT_AUTH_REJECT": (
        ("client_identifier", "Client Identifier"),
        ("client_uid", "Client UID"),
        ("server_identifier", "Server Identifier"),
        ("brick_path", "Path of Brick"),
    ),
    "CLIENT_DISCONNECT": (
        ("client_identifier", "Client Identifier"),
        ("client_uid", "Client UID"),
        ("server_identifier", "Server Identifier"),
        ("brick_path", "Path of Brick"),
    ),
    "POSIX_SAME_GFID": (
        ("gfid", "GFID of File"),
        ("path", "Path of File"),
        ("newpath", "New Path of File"),
        ("brick", "Brick details"),
    ),
    "POSIX_ALREADY_PART_OF_VOLUME": (
        ("volume-id", "Volume ID"),
        ("brick", "Brick details"),
    ),
    "POSIX_BRICK_NOT_IN_VOLUME": (
        ("brick", "Brick details"),
    ),
    "POSIX_BRICK_VERIFICATION_FAILED": (
        ("brick", "Brick details"),
    ),
    "POSIX_ACL_NOT_SUPPORTED": (
        ("brick", "Brick details"),
    ),
    "POSIX_HEALTH_CHECK_FAILED": (
        ("path", "Path"),
        ("brick", "Brick details"),
        ("op", "Error Number"),
        ("error", "Error"),
    ),
    "AFR_QUORUM_MET": (
        ("subvol", "Sub Volume Name"),
    ),
    "AFR_QUORUM_FAIL": (
        ("subvol", "Sub Volume Name"),
    ),
    "AFR_SUBVOL_UP": (
        ("subvol", "Sub Volume Name"),
    ),
    "AFR_SUBVOLS_DOWN": (
        ("subvol", "Sub Volume Name"),
    ),
    "AFR_SPLIT_BRAIN": (
        ("subvol", "Sub Volume Name"),
    ),
    "TIER_ATTACH": (
        ("vol", "Volume Name"),
    ),
    "TIER_ATTACH_FORCE": (
        ("vol", "Volume Name"),
    ),
    "TIER_DETACH_START": (
        ("vol", "Volume Name"),
    ),
    "TIER_DETACH_STOP": (
        ("vol", "Volume Name"),
    ),
    "TIER_DETACH_COMMIT": (
        ("vol", "Volume Name"),
    ),
    "TIER_DETACH_FORCE": (
        ("vol", "Volume Name"),
    ),
    "TIER_PAUSE": (
        ("vol", "Volume Name"),
    ),
    "TIER_RESUME": (
        ("vol", "Volume Name"),
    ),
    "TIER_WATERMARK_HI": (
        ("vol", "Volume Name"),
    ),
    "TIER_WATERMARK_DROPPED_TO_MID": (
        ("vol", "Volume Name"),
    ),
    "TIER_WATERMARK_RAISED_TO_MID": (
        ("vol", "Volume Name"),
    ),
    "TIER_WATERMARK_DROPPED_TO_LOW": (
        ("vol", "Volume Name"),
    ),
    "VOLUME_ADD_BRICK": (
        ("volume", "Volume Name"),
        ("bricks", "Bricks details separated by Space"),
    ),
    "VOLUME_REMOVE_BRICK_START": (
        ("volume", "Volume Name"),
        ("bricks", "Bricks details separated by Space"),
    ),
    "VOLUME_REMOVE_BRICK_COMMIT": (
        ("volume", "Volume Name"),
        ("bricks", "Bricks details separated by Space"),
    ),
    "VOLUME_REMOVE_BRICK_STOP": (
        ("volume", "Volume Name"),
        ("bricks", "Bricks details separated by Space"),
    ),
    "VOLUME_REMOVE_BRICK_FORCE": (
        ("volume", "Volume Name"),
        ("bricks", "Bricks details separated by Space"),
    ),
    "VOLUME_REBALANCE_START": (
        ("volume", "Volume Name"),
    ),
    "VOLUME_REBALANCE_STOP": (
        ("volume", "Volume Name"),
    ),
    "VOLUME_REBALANCE_FAILED": (
        ("volume", "Volume Name"),
    ),
    "VOLUME_REBALANCE_COMPLETE": (
        ("volume", "Volume Name"),
    ),
}
