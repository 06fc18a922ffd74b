"""The conditions table against the catalog, and evaluate() against messages as Gluster sends
them (attribute names read from Gluster's sources) and as the admin guide documents them."""

from __future__ import annotations

import re
from typing import Dict, List

import pytest

import eventtypes
from eventtypes import conditions as cond
from tests.catalog_spec import SPEC_NAMES_3_9, SPEC_NAMES_3_10

NODE_A = "8f0d2f7e-3c59-4a8e-9d1a-0a1b2c3d4e5f"
NODE_C = "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"
PEER_B = "5e8c1d3a-2f4b-4c6d-8e0f-1a2b3c4d5e6f"
CLIENT_UID = "CTX_ID:6f1e-GRAPH_ID:0-PID:4242-HOST:client1-PC_NAME:gv0-client-1-RECON_NO:-{n}"

#: Messages as Gluster's own senders build them (gf_event calls in glusterfs, Gluster 10+),
#: for every event that opens or closes a condition and for every alarm.
SENT: Dict[str, Dict[str, str]] = {
    "BRICK_DISCONNECTED": {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"},
    "BRICK_START_FAILED": {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"},
    "BRICK_CONNECTED": {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"},
    "PEER_DISCONNECT": {"peer": "server2", "uuid": PEER_B, "state": "Peer in Cluster"},
    "PEER_CONNECT": {"host": "server2", "uuid": PEER_B},
    "QUORUM_LOST": {"volume": "gv0"},
    "QUORUM_REGAINED": {"volume": "gv0"},
    "SVC_DISCONNECTED": {"svc_name": "glustershd"},
    "SVC_CONNECTED": {"svc_name": "glustershd"},
    "AFR_QUORUM_FAIL": {"client-pid": "-6", "subvol": "gv0-replicate-1"},
    "AFR_QUORUM_MET": {"client-pid": "0", "subvol": "gv0-replicate-1"},
    "AFR_SUBVOLS_DOWN": {"client-pid": "0", "subvol": "gv0-replicate-1"},
    "AFR_SUBVOL_UP": {"client-pid": "0", "subvol": "gv0-replicate-1"},
    "EC_MIN_BRICKS_NOT_UP": {"subvol": "ec1-disperse-0"},
    "EC_MIN_BRICKS_UP": {"subvol": "ec1-disperse-0"},
    "GEOREP_FAULTY": {"primary_volume": "gv0", "primary_node": "server1",
                      "primary_node_id": NODE_A, "secondary_host": "backup1",
                      "secondary_volume": "gv0dr", "current_secondary_host": "backup2",
                      "brick_path": "/bricks/b1"},
    "GEOREP_ACTIVE": {"primary_volume": "gv0", "primary_node": "server1",
                      "primary_node_id": NODE_A, "secondary_host": "geoaccount@backup1",
                      "secondary_volume": "gv0dr", "brick_path": "/bricks/b1"},
    "GEOREP_PASSIVE": {"primary_volume": "gv0", "primary_node": "server1",
                       "primary_node_id": NODE_A, "secondary_host": "backup1",
                       "secondary_volume": "gv0dr", "brick_path": "/bricks/b1"},
    "CLIENT_DISCONNECT": {"client_uid": CLIENT_UID.format(n=0),
                          "client_identifier": "192.168.1.50:49142",
                          "server_identifier": "192.168.1.11:49152", "brick_path": "/bricks/b1"},
    "CLIENT_CONNECT": {"client_uid": CLIENT_UID.format(n=1),
                       "client_identifier": "192.168.1.50:49139",
                       "server_identifier": "192.168.1.11:49152", "brick_path": "/bricks/b1",
                       "subdir_mount": "(null)"},
    # alarms
    "SNAPSHOT_CREATE_FAILED": {"snapshot_name": "daily_GMT-2024.05.01-00.00.01",
                               "volume_name": "gv0", "error": "Quorum is not met"},
    "SNAPSHOT_DELETE_FAILED": {"snapshot_name": "snap1", "error": "Snapshot is in use"},
    "SNAPSHOT_SOFT_LIMIT_REACHED": {"volume_name": "gv0", "volume_id": PEER_B},
    "SNAPSHOT_HARD_LIMIT_REACHED": {"volume_name": "gv0", "volume_id": PEER_B},
    "SVC_MANAGER_FAILED": {"volume": "gv0", "svc_name": "snapd"},
    "SVC_RECONFIGURE_FAILED": {"svc_name": "quotad"},
    "PEER_STORE_FAILURE": {"peer": "server3"},
    "PEER_RPC_CREATE_FAILED": {"peer": "server3"},
    "PEER_REJECT": {"peer": "192.168.1.13:1023"},
    "PEER_NOT_FOUND": {"peer": "server3", "uuid": PEER_B},
    "UNKNOWN_PEER": {"peer": PEER_B},
    "BRICK_STOP_FAILED": {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"},
    "BRICKPATH_RESOLVE_FAILED": {"peer": "server2", "volume": "gv0", "brick": "/bricks/b1"},
    "BRICKS_START_FAILED": {"volume": "gv0"},
    "NOTIFY_UNKNOWN_OP": {"op": "42"},
    "REBALANCE_START_FAILED": {"volume": "gv0"},
    "REBALANCE_STATUS_UPDATE_FAILED": {"volume": "gv0"},
    "IMPORT_QUOTA_CONF_FAILED": {"volume": "gv0"},
    "IMPORT_VOLUME_FAILED": {"volume": "gv0"},
    "IMPORT_BRICK_FAILED": {"peer": "server2", "brick": "/bricks/b1"},
    "COMPARE_FRIEND_VOLUME_FAILED": {"volume": "gv0"},
    "NFS_GANESHA_EXPORT_FAILED": {"volume": "gv0"},
    "QUOTA_CROSSED_SOFT_LIMIT": {"Usage": "8.5GB", "volume": "gv0", "path": "/projects"},
    "BITROT_BAD_FILE": {"gfid": "b2c3d4e5-0000-4000-8000-000000000001",
                        "path": "/projects/a.dat", "brick": "/bricks/b1"},
    "CLIENT_AUTH_REJECT": {"client_uid": CLIENT_UID.format(n=0),
                           "client_identifier": "10.9.9.9:1020",
                           "server_identifier": "192.168.1.11:49152",
                           "brick_path": "/bricks/b1"},
    "POSIX_SAME_GFID": {"gfid": "b2c3d4e5-0000-4000-8000-000000000001", "path": "/a",
                        "newpath": "/b", "brick": "server2:/bricks/b1"},
    "POSIX_ALREADY_PART_OF_VOLUME": {"volume-id": PEER_B, "brick": "server2:/bricks/b1"},
    "POSIX_BRICK_NOT_IN_VOLUME": {"brick": "server2:/bricks/b1"},
    "POSIX_BRICK_VERIFICATION_FAILED": {"brick": "server2:/bricks/b1"},
    "POSIX_ACL_NOT_SUPPORTED": {"brick": "server2:/bricks/b1"},
    "POSIX_HEALTH_CHECK_FAILED": {"op": "write", "path": "/bricks/b1/.glusterfs/health_check",
                                  "error": "Input/output error",
                                  "brick": "server2:/bricks/b1 timeout is 20"},
    "AFR_SPLIT_BRAIN": {"client-pid": "-6", "subvol": "gv0-replicate-0", "type": "data",
                        "file": "b2c3d4e5-0000-4000-8000-000000000001"},
    "VOLUME_REBALANCE_FAILED": {"volume": "gv0"},
    "DHT_DISK_USAGE": {"volume": "gv0", "subvol": "gv0-replicate-0", "usage": "91.20 %"},
    "DHT_INODES_USAGE": {"volume": "gv0", "subvol": "gv0-replicate-0", "usage": "95.00 %"},
}

ALL_NAMES = sorted(set(SPEC_NAMES_3_10) | set(SPEC_NAMES_3_9))


def _events_of(condition: cond.Condition) -> List[str]:
    return list(condition.opens) + list(condition.closes)


# --- the table against the catalog -------------------------------------------------------


def test_every_catalog_event_is_classified() -> None:
    assert len(SPEC_NAMES_3_10) == 142
    kinds = {name: cond.classify(name) for name in ALL_NAMES}
    assert {k for k in kinds.values()} <= set(cond.KINDS)
    assert [n for n, k in kinds.items() if k == cond.UNKNOWN] == []
    assert set(cond.TABLE) == set(ALL_NAMES)
    # the pairs and one-shot alarms are there
    for opens, closes in [("BRICK_DISCONNECTED", "BRICK_CONNECTED"), ("PEER_DISCONNECT", "PEER_CONNECT"),
                          ("QUORUM_LOST", "QUORUM_REGAINED"), ("SVC_DISCONNECTED", "SVC_CONNECTED"),
                          ("AFR_QUORUM_FAIL", "AFR_QUORUM_MET"), ("AFR_SUBVOLS_DOWN", "AFR_SUBVOL_UP"),
                          ("EC_MIN_BRICKS_NOT_UP", "EC_MIN_BRICKS_UP"),
                          ("CLIENT_DISCONNECT", "CLIENT_CONNECT")]:
        assert (kinds[opens], kinds[closes]) == (cond.OPENS, cond.CLOSES)
        assert cond.rule_of(opens) is cond.rule_of(closes)
    for name in ["AFR_SPLIT_BRAIN", "POSIX_HEALTH_CHECK_FAILED", "BITROT_BAD_FILE",
                 "QUOTA_CROSSED_SOFT_LIMIT", "SNAPSHOT_HARD_LIMIT_REACHED"]:
        assert kinds[name] == cond.ALARM
    for name in ["VOLUME_CREATE", "VOLUME_SET", "GEOREP_CONFIG_SET", "QUOTA_ENABLE"]:
        assert kinds[name] == cond.INFO


def test_every_open_has_a_close_and_no_event_has_two_roles() -> None:
    seen: List[str] = []
    for condition in cond.CONDITIONS:
        assert condition.opens and condition.closes, condition.alertname
        seen += _events_of(condition)
        for name in condition.opens:
            assert cond.classify(name) == cond.OPENS and cond.rule_of(name) is condition
        for name in condition.closes:
            assert cond.classify(name) == cond.CLOSES and cond.rule_of(name) is condition
    seen += list(cond.ALARMS)
    assert len(seen) == len(set(seen)), "an event is in two roles"
    assert set(seen) <= set(ALL_NAMES)
    for name in ALL_NAMES:
        rule = cond.rule_of(name)
        if cond.classify(name) == cond.OPENS:
            assert isinstance(rule, cond.Condition) and rule.closes
        if cond.classify(name) == cond.CLOSES:
            assert isinstance(rule, cond.Condition) and rule.opens
        if cond.classify(name) == cond.INFO:
            assert rule is None


def test_names_severities_and_durations_are_sane() -> None:
    rules: List[cond.Rule] = list(cond.CONDITIONS) + list(cond.ALARMS.values())
    alertnames = [rule.alertname for rule in rules]
    assert len(alertnames) == len(set(alertnames))
    for rule in rules:
        assert re.fullmatch(r"Gluster[A-Z][A-Za-z0-9]+", rule.alertname)
        assert rule.severity in cond.SEVERITIES
        assert rule.scope in ("pool", "node")
        names = [label.name for label in rule.labels]
        assert names and len(names) == len(set(names))
        assert all(cond.valid_label_name(n) for n in names), names
        assert not {"alertname", "severity"} & set(names)
        # the node is an identity label exactly when the rule says it is per node
        assert ("node" in names) == (rule.scope == "node"), rule.alertname
        assert rule.summary and rule.description
    for alarm in cond.ALARMS.values():
        assert alarm.duration_secs >= 3600
    for condition in cond.CONDITIONS:
        assert condition.expires_secs is None or condition.expires_secs >= 600


def test_label_name_check() -> None:
    assert cond.valid_label_name("peer_uuid")
    assert cond.valid_label_name("_x1")
    for bad in ["", "1a", "client-pid", "a.b", "__reserved", "é", "a b"]:
        assert not cond.valid_label_name(bad), bad


# --- open and close give one alert -------------------------------------------------------


def test_sent_messages_cover_every_condition_event_and_alarm() -> None:
    wanted = {n for c in cond.CONDITIONS for n in _events_of(c)} | set(cond.ALARMS)
    assert wanted == set(SENT)


@pytest.mark.parametrize("condition", cond.CONDITIONS, ids=lambda c: c.alertname)
def test_open_and_close_as_gluster_sends_them_give_identical_labels(
        condition: cond.Condition) -> None:
    outcomes = [cond.evaluate(name, SENT[name], NODE_A) for name in _events_of(condition)]
    first = outcomes[0]
    for outcome in outcomes:
        assert outcome.missing == ()
        assert outcome.alertname == condition.alertname
        assert dict(outcome.labels) == dict(first.labels), outcome.event
        assert outcome.key == first.key
        assert "unknown" not in outcome.labels.values()
        assert "?" not in outcome.annotations["summary"], outcome.annotations
        assert "?" not in outcome.annotations["description"], outcome.annotations
    assert first.labels["alertname"] == condition.alertname
    assert first.labels["severity"] == condition.severity


@pytest.mark.parametrize("condition", cond.CONDITIONS, ids=lambda c: c.alertname)
def test_several_nodes_give_one_alert_unless_the_condition_is_per_node(
        condition: cond.Condition) -> None:
    name = condition.opens[0]
    from_a = cond.evaluate(name, SENT[name], NODE_A)
    from_c = cond.evaluate(name, SENT[name], NODE_C)
    if condition.scope == "pool":
        assert from_a.key == from_c.key
        assert NODE_A not in from_a.key
    else:
        assert from_a.key != from_c.key
        assert from_a.labels["node"] == NODE_A


@pytest.mark.parametrize("name", sorted(n for c in cond.CONDITIONS for n in c.opens)
                         + sorted(cond.ALARMS))
def test_a_different_object_is_a_different_alert(name: str) -> None:
    """Labels come from the attributes: change every value and the identity changes."""
    base = cond.evaluate(name, SENT[name], NODE_A)
    other = {k: "x" + v.replace(":", ":x") for k, v in SENT[name].items()}
    changed = cond.evaluate(name, other, NODE_A)
    assert changed.key != base.key
    assert changed.alertname == base.alertname


def test_peer_disconnect_seen_by_two_nodes_is_one_alert_closed_by_either() -> None:
    # PEER_DISCONNECT sends `peer`, PEER_CONNECT sends `host`; the uuid is the identity.
    down_a = cond.evaluate("PEER_DISCONNECT", SENT["PEER_DISCONNECT"], NODE_A)
    down_c = cond.evaluate("PEER_DISCONNECT", dict(SENT["PEER_DISCONNECT"], peer="192.168.1.12"),
                           NODE_C)
    up_c = cond.evaluate("PEER_CONNECT", SENT["PEER_CONNECT"], NODE_C)
    assert down_a.key == down_c.key == up_c.key == f'GlusterPeerDisconnected{{peer_uuid="{PEER_B}"}}'
    assert "server2" in down_a.annotations["summary"]
    assert "192.168.1.12" in down_c.annotations["summary"]


def test_brick_down_labels_and_key() -> None:
    out = cond.evaluate("BRICK_DISCONNECTED", SENT["BRICK_DISCONNECTED"], NODE_A)
    assert dict(out.labels) == {"alertname": "GlusterBrickDown", "severity": "critical",
                                "volume": "gv0", "brick": "server2:/bricks/b1"}
    assert out.key == 'GlusterBrickDown{brick="server2:/bricks/b1",volume="gv0"}'
    assert out.annotations["summary"] == "Brick server2:/bricks/b1 of volume gv0 is down"
    assert out.expires_secs is None and out.duration_secs is None


def test_snapd_service_keeps_its_volume_and_shd_has_none() -> None:
    snapd_down = cond.evaluate("SVC_DISCONNECTED", {"volume": "gv0", "svc_name": "snapd"}, NODE_A)
    snapd_up = cond.evaluate("SVC_CONNECTED", {"volume": "gv0", "svc_name": "snapd"}, NODE_A)
    shd_down = cond.evaluate("SVC_DISCONNECTED", {"svc_name": "glustershd"}, NODE_A)
    assert snapd_down.key == snapd_up.key != shd_down.key
    assert snapd_down.labels["volume"] == "gv0" and "volume" not in shd_down.labels
    assert shd_down.missing == ()


def test_client_reconnect_closes_although_its_uid_counter_moved() -> None:
    down = cond.evaluate("CLIENT_DISCONNECT", SENT["CLIENT_DISCONNECT"], NODE_A)
    up = cond.evaluate("CLIENT_CONNECT", SENT["CLIENT_CONNECT"], NODE_A)
    assert SENT["CLIENT_DISCONNECT"]["client_uid"] != SENT["CLIENT_CONNECT"]["client_uid"]
    assert down.key == up.key
    assert "RECON_NO" not in down.labels["client"]
    assert down.expires_secs == 3600
    other_process = dict(SENT["CLIENT_CONNECT"], client_uid=CLIENT_UID.replace("4242", "77").format(n=0))
    assert cond.evaluate("CLIENT_CONNECT", other_process, NODE_A).key != down.key


def test_georep_before_gluster_10_uses_master_and_slave_names() -> None:
    old_faulty = {"master_volume": "gv0", "master_node": "server1", "master_node_id": NODE_A,
                  "slave_host": "backup1", "slave_volume": "gv0dr", "brick_path": "/bricks/b1",
                  "current_slave_host": "backup2"}
    new_faulty = cond.evaluate("GEOREP_FAULTY", SENT["GEOREP_FAULTY"], NODE_A)
    assert cond.evaluate("GEOREP_FAULTY", old_faulty, NODE_A).key == new_faulty.key
    assert new_faulty.labels["secondary"] == "backup1::gv0dr"
    assert new_faulty.labels["brick"] == "server1:/bricks/b1"


def test_posix_brick_loses_the_health_check_tail() -> None:
    out = cond.evaluate("POSIX_HEALTH_CHECK_FAILED", SENT["POSIX_HEALTH_CHECK_FAILED"], NODE_A)
    assert out.labels["brick"] == "server2:/bricks/b1"
    assert out.duration_secs == 86400 and out.kind == cond.ALARM
    assert out.labels["alertname"] == "GlusterPosixHealthCheckFailed"


def test_afr_volume_comes_from_the_subvolume_name() -> None:
    out = cond.evaluate("AFR_QUORUM_FAIL", {"subvol": "my-vol-2-replicate-11"}, NODE_A)
    assert out.labels["volume"] == "my-vol-2"
    odd = cond.evaluate("AFR_QUORUM_FAIL", {"subvol": "custom-name"}, NODE_A)
    assert "volume" not in odd.labels and odd.missing == ()
    assert odd.labels["subvol"] == "custom-name"


def test_guide_attribute_names_give_identical_labels_for_each_pair() -> None:
    """The admin guide's tables (eventtypes.ATTRIBUTES), where both sides are documented:
    attributes the guide calls optional ("if available") are left out."""
    checked = 0
    for condition in cond.CONDITIONS:
        names = [n for n in _events_of(condition) if n in eventtypes.ATTRIBUTES]
        if len(names) < 2 or not any(n in condition.opens for n in names) \
                or not any(n in condition.closes for n in names):
            continue
        keys = set()
        for name in names:
            message = {attr: f"{attr}-1" for attr, text in eventtypes.ATTRIBUTES[name]
                       if "if available" not in text.lower()}
            outcome = cond.evaluate(name, message, NODE_A)
            assert outcome.missing == (), (name, outcome.missing)
            keys.add(outcome.key)
        assert len(keys) == 1, (condition.alertname, keys)
        checked += 1
    assert checked >= 7


# --- sweeps ------------------------------------------------------------------------------


def test_volume_stop_sweeps_the_volume_conditions() -> None:
    out = cond.evaluate("VOLUME_STOP", {"name": "gv0", "force": True}, NODE_A)
    assert out.kind == cond.INFO and out.sweep is not None
    alertnames, match = out.sweep
    assert dict(match) == {"volume": "gv0"}
    assert "GlusterBrickDown" in alertnames and "GlusterServerQuorumLost" in alertnames
    assert "GlusterPeerDisconnected" not in alertnames
    brick = cond.evaluate("BRICK_DISCONNECTED", SENT["BRICK_DISCONNECTED"], NODE_A)
    assert brick.labels["volume"] == match["volume"]
    # nothing to match: no sweep (it would close every condition)
    assert cond.evaluate("VOLUME_STOP", {}, NODE_A).sweep is None


def test_georep_stop_sweeps_the_faulty_worker_of_that_session() -> None:
    stop = cond.evaluate("GEOREP_STOP", {"force": False, "primary": "gv0",
                                         "secondary": "geoaccount@backup1::gv0dr"}, NODE_A)
    old_stop = cond.evaluate("GEOREP_STOP", {"master": "gv0", "slave": "backup1::gv0dr"}, NODE_A)
    faulty = cond.evaluate("GEOREP_FAULTY", SENT["GEOREP_FAULTY"], NODE_A)
    for out in (stop, old_stop):
        assert out.sweep is not None
        alertnames, match = out.sweep
        assert alertnames == ("GlusterGeorepFaulty",)
        assert all(faulty.labels[k] == v for k, v in match.items()), (match, faulty.labels)


def test_sweep_labels_exist_on_the_conditions_they_close() -> None:
    by_name = {c.alertname: c for c in cond.CONDITIONS}
    for sweep in cond.SWEEPS.values():
        assert cond.classify(sweep.event) == cond.INFO
        for alertname in sweep.alertnames:
            names = {label.name for label in by_name[alertname].labels}
            assert {label.name for label in sweep.match} <= names


# --- odd input ---------------------------------------------------------------------------


class _Hostile:
    def __str__(self) -> str:
        raise RuntimeError("no")


ODD_MESSAGES: List[object] = [
    None, [], "peer=x;uuid=y", 42, b"bytes", {}, {"": ""}, {None: "x", 3: 4},
    {"volume": None, "brick": 7, "peer": True}, {"volume": ["a", "b"], "brick": {"x": 1}},
    {"volume": "gv\udcff0", "brick": "/b\x00\n1", "peer": "s\u00e9rver"},
    {"volume": "v" * 10000, "subvol": "s" * 10000, "uuid": "u" * 10000},
    {"VOLUME": "gv0", "Brick": "/b", "PEER": "h"}, {"volume": _Hostile()},
    {"subvol": "{0}{volume!r}{__class__}", "volume": "{node}"},
]


@pytest.mark.parametrize("name", ALL_NAMES + ["NOT_AN_EVENT", "", "event_brick_disconnected"])
def test_odd_messages_never_raise_and_give_valid_labels(name: str) -> None:
    for message in ODD_MESSAGES:
        for node in (NODE_A, None, 5, ""):
            out = cond.evaluate(name, message, node)
            assert out.kind in cond.KINDS + (cond.UNKNOWN,)
            for key, value in out.labels.items():
                assert cond.valid_label_name(key)
                assert value and len(value) <= cond.MAX_LABEL_CHARS
                value.encode("utf-8")  # valid UTF-8: no lone surrogates
                assert "\n" not in value and "\x00" not in value
            for value in out.annotations.values():
                value.encode("utf-8")
                assert len(value) <= cond.MAX_ANNOTATION_CHARS


def test_odd_names_and_missing_attributes_fall_back() -> None:
    assert cond.classify("event_brick_disconnected") == cond.OPENS
    assert cond.classify(None) == cond.UNKNOWN
    assert cond.classify(76) == cond.UNKNOWN
    assert cond.evaluate(object(), {}, NODE_A).kind == cond.UNKNOWN
    out = cond.evaluate("BRICK_DISCONNECTED", None, None)
    assert out.kind == cond.OPENS
    assert set(out.missing) == {"volume", "brick"}
    assert out.labels["volume"] == cond.UNKNOWN_VALUE == out.labels["brick"]
    # case and -/_ differences in attribute names are tolerated
    out = cond.evaluate("BRICK_REPLACE", {"Volume": "gv0"}, NODE_A)
    assert out.kind == cond.INFO
    out = cond.evaluate("QUOTA_CROSSED_SOFT_LIMIT", {"USAGE": "1GB", "Volume": "gv0", "path": "/p"})
    assert out.labels["volume"] == "gv0" and "1GB" in out.annotations["description"]
    # a template in an attribute value stays text
    out = cond.evaluate("AFR_SUBVOLS_DOWN", {"subvol": "{node}-replicate-0"}, NODE_A)
    assert out.labels["subvol"] == "{node}-replicate-0"
    assert NODE_A not in out.annotations["summary"]
    # a brick without its host still makes a label
    out = cond.evaluate("BRICK_CONNECTED", {"volume": "gv0", "brick": "/b"}, NODE_A)
    assert out.labels["brick"] == "/b" and out.missing == ()


def test_condition_key_escapes_and_sorts() -> None:
    key = cond.condition_key({"alertname": "A", "severity": "x", "b": 'q"uote', "a": "back\\"})
    assert key == 'A{a="back\\\\",b="q\\"uote"}'


def test_unconfirmed_and_notes_name_catalog_events() -> None:
    for table in (cond.UNCONFIRMED, cond.ATTRIBUTE_NOTES, cond.INFO_NOTES):
        assert set(table) <= set(ALL_NAMES)
    for name in cond.INFO_NOTES:
        assert cond.classify(name) == cond.INFO
