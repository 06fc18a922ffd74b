"""A real Gluster 10 node: glusterd, a brick, the real ``gluster`` CLI, and our daemon as a drop-in.

One node (tests/gluster/node.py: private mount, network, UTS and PID namespaces) runs the
distribution's glusterd with a non-default workdir. Gluster's own ``gluster-eventsapi``
registers the webhook and sets DEBUG, as on a node that ran Gluster's daemon; then our
``glustereventsd`` starts with no option at all and must find everything: the port of the
distribution's eventsconfig.json, the workdir from ``gluster system:: getwd``, the node id,
and upstream's webhooks.json and config.json as they are. Then real volume commands run,
and every datagram Gluster sends (captured off ``lo`` by AF_PACKET, independently of any
daemon) must reach the webhook exactly once, with the exact body.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gluster import oracle
from tests.gluster.node import BIN, GlusterNode, skip_reason, wait_until
from tests.gluster.session import (
    COMMANDS,
    PORT,
    UPSTREAM_TOKEN,
    VOLUME,
    Session,
    measured,
    run_commands,
    start_session,
)

SKIP = skip_reason()
pytestmark = [pytest.mark.skipif(SKIP is not None, reason=str(SKIP)), pytest.mark.timeout(240)]

ADDRESS = "10.211.0.1"
BRICK = f"{ADDRESS}:/mnt/bricks/b1"
WORKDIR = "/var/lib/glusterd-i11g"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    started = start_session(tmp_path_factory.mktemp("gluster-node"))
    try:
        run_commands(started, BRICK)
        (started.folder / "measured.json").write_text(json.dumps(measured(started), indent=1))
        yield started
    finally:
        started.node.close()
        assert "Traceback" not in started.daemon_log(), started.daemon_log()[-4000:]


def _bodies(session: Session) -> list[dict[str, object]]:
    return [json.loads(d["body"]) for d in session.deliveries() if d["body"]]


def _name(datagram: bytes) -> str:
    import eventtypes

    return eventtypes.names_for("3.10")[int(datagram.strip().split(b" ", 2)[1])]


def _delivered_all(session: Session) -> list[dict[str, object]]:
    want = len(session.captured())
    wait_until(lambda: len(_bodies(session)) >= want, 30, f"{want} deliveries")
    return _bodies(session)


# -- the drop-in: what our daemon found on its own ----------------------------------------------

def test_daemon_found_the_distribution_port_workdir_and_node_id(session: Session) -> None:
    eventsconfig = json.loads(session.node.run(["cat", "/etc/glusterfs/eventsconfig.json"]).stdout)
    assert eventsconfig["port"] == PORT == 55555  # the distribution's file, kept as the package ships it
    assert session.node.run(["gluster", "system::", "getwd"]).stdout.strip() == WORKDIR
    log = session.daemon_log()
    assert f"glustereventsd started port={PORT} nodeid={session.uuid} webhooks=1" in log


def test_our_unit_has_the_packages_name_so_it_replaces_it() -> None:
    """README: /etc/systemd/system/glustereventsd.service takes precedence over the package's unit."""
    from tests.helpers import REPO

    package_unit = Path("/lib/systemd/system/glustereventsd.service")
    assert package_unit.is_file(), "glusterfs-server ships its unit here"
    assert "ExecStart=/usr/sbin/glustereventsd" in package_unit.read_text()
    assert (REPO / "systemd/glustereventsd.service").name == package_unit.name


def test_upstream_cli_wrote_the_files_our_daemon_reads_as_they_are(session: Session) -> None:
    assert session.upstream_cli["webhook-add"][0] == 0, session.upstream_cli
    assert session.upstream_cli["config-set"][0] == 0, session.upstream_cli
    webhooks = json.loads(session.node.run(["cat", f"{WORKDIR}/events/webhooks.json"]).stdout)
    assert webhooks == {session.webhook_url: {"token": UPSTREAM_TOKEN, "secret": ""}}  # upstream's own format
    config = json.loads(session.node.run(["cat", f"{WORKDIR}/events/config.json"]).stdout)
    assert config == {"log-level": "DEBUG"}
    deliveries = _delivered_all(session)
    assert deliveries and all(d["headers"]["authorization"] == f"Bearer {UPSTREAM_TOKEN}"
                              for d in session.deliveries() if d["body"])
    # DEBUG, set by upstream's config-set: every datagram and its sender are in our log
    debug = [line for line in session.daemon_log().splitlines() if "DEBUG" in line and "Datagram received" in line]
    assert len(debug) == len(session.captured())


def test_no_file_of_the_default_workdir_was_used(session: Session) -> None:
    """Had the daemon ignored 'gluster system:: getwd', it would have read /var/lib/glusterd/events."""
    assert session.node.run(["test", "-e", "/var/lib/glusterd/events/webhooks.json"]).returncode == 1
    script = ("import glustereventsd.base.paths as p; p.GLUSTERD_VOLFILE = '/nonexistent'; "
              "print(p.glusterd_workdir('/usr/sbin/gluster'))")  # getwd alone, no volfile fallback
    assert session.node.run([__import__("sys").executable, "-c", script]).stdout.strip() == WORKDIR


# -- what each command sends, and that every datagram arrives with the exact body ----------------

def test_every_command_ran(session: Session) -> None:
    results = {step.label: (step.returncode, step.output) for step in session.steps}
    assert [step.label for step in session.steps] == [label for label, _ in COMMANDS]
    for label, (code, output) in results.items():
        if label == "snapshot":
            assert code != 0 and "LVM" in output, output  # no LVM here: the failure is the event
        else:
            assert code == 0, (label, output)


#: What each command sends from the CLI or glusterd, measured on Gluster 10.3 (the capture
#: shows it again on every run): event name -> exact message. Bricks also send
#: CLIENT_CONNECT/DISCONNECT for the auxiliary mounts of quota and bitrot, in numbers that vary.
EXPECTED = {
    "create": [("VOLUME_CREATE", {"name": VOLUME, "bricks": f" {BRICK}"})],
    "start": [("BRICK_CONNECTED", {"peer": ADDRESS, "volume": VOLUME, "brick": "/mnt/bricks/b1"}),
              ("VOLUME_START", {"name": VOLUME, "force": False})],
    "set": [("VOLUME_SET", {"name": VOLUME, "options": [["performance.cache-size", "64MB"]]})],
    "reset": [("VOLUME_RESET", {"name": VOLUME, "option": "performance.cache-size"})],
    "quota-enable": [("SVC_CONNECTED", {"svc_name": "quotad"}), ("QUOTA_ENABLE", {"volume": VOLUME})],
    "quota-limit": [("QUOTA_SET_USAGE_LIMIT", {"volume": VOLUME, "path": "/", "limit": "1GB"})],
    "quota-disable": [("QUOTA_DISABLE", {"volume": VOLUME})],
    "bitrot-enable": [("BITROT_ENABLE", {}), ("SVC_CONNECTED", {"svc_name": "bitd"}),
                      ("SVC_CONNECTED", {"svc_name": "scrub"})],
    "bitrot-disable": [("BITROT_DISABLE", {})],
    "snapshot": [("SNAPSHOT_CREATE_FAILED", {"snapshot_name": "snap1", "volume_name": VOLUME,
                                             "error": "LVM commands not found, snapshot functionality is disabled"})],
    "stop": [("VOLUME_STOP", {"name": VOLUME, "force": False})],
    "delete": [("VOLUME_DELETE", {"name": VOLUME})],
}
VARYING = {"CLIENT_CONNECT", "CLIENT_DISCONNECT"}


def test_each_command_sends_the_measured_events(session: Session) -> None:
    table = measured(session)
    for step in session.steps:
        expected = Counter(name for name, _ in EXPECTED[step.label])
        got = Counter(name for name in table[step.label] if name not in VARYING)
        assert got == expected, (step.label, table[step.label])


def test_every_datagram_reaches_the_webhook_once_with_the_exact_body(session: Session) -> None:
    bodies = _delivered_all(session)
    captured = session.captured()
    assert len(captured) >= sum(len(v) for v in EXPECTED.values())
    assert len(bodies) == len(captured)  # nothing lost, nothing twice
    delivered = Counter(json.dumps(body, sort_keys=True) for body in bodies)
    for step in session.steps:
        for name, message in EXPECTED[step.label]:
            matching = [d for d in step.datagrams if _name(d.data) == name]
            ts = int(matching[0].data.strip().split(b" ", 1)[0])
            body = {"event": name, "message": message, "nodeid": session.uuid, "ts": ts}
            assert delivered[json.dumps(body, sort_keys=True)] >= 1, (step.label, body, bodies)


def test_the_cli_and_glusterd_send_to_ipv6_localhost(session: Session) -> None:
    """Server-side processes resolve 'localhost': ::1 first. With only 0.0.0.0, these are lost."""
    by_name = {_name(d.data): d for step in session.steps for d in step.datagrams}
    for name in ("VOLUME_CREATE", "VOLUME_START", "QUOTA_ENABLE", "BITROT_ENABLE", "SVC_CONNECTED",
                 "BRICK_CONNECTED", "SNAPSHOT_CREATE_FAILED"):
        assert by_name[name].dst == "::1", (name, by_name[name])
    assert by_name["CLIENT_CONNECT"].dst == ADDRESS  # bricks send to their volfile server's address


def test_live_bodies_equal_upstreams_for_the_same_datagrams_except_documented(session: Session,
                                                                             tmp_path: Path) -> None:
    """The captured datagrams, replayed through Gluster's own daemon and ours (the oracle)."""
    captured = [d.data for d in session.captured()]
    outcomes = oracle.run_both(captured, tmp_path)
    unexplained = [o for o in outcomes if not o.identical and len(oracle.explain(o)) != 1]
    assert not unexplained, unexplained
    assert {key for o in outcomes if not o.identical for key in oracle.explain(o)} == {"null-details"}
    # and what ours delivered live is what ours delivers for them offline (ts and node id aside)
    live = Counter(json.dumps({**body, "ts": 0, "nodeid": ""}, sort_keys=True) for body in _delivered_all(session))
    offline = Counter(json.dumps({**o.ours, "ts": 0, "nodeid": ""}, sort_keys=True) for o in outcomes if o.ours)
    assert live == offline


def test_null_details_were_delivered_and_counted_once_per_event(session: Session) -> None:
    log = session.daemon_log()
    assert log.count("Gluster sent BITROT_ENABLE with the details '(null)'") == 1
    assert log.count("Gluster sent BITROT_DISABLE with the details '(null)'") == 1


# -- our CLI next to Gluster's own, on the same node ------------------------------------------

def test_config_get_json_is_identical_to_upstreams(session: Session) -> None:
    for args in (("config-get", "--json"), ("config-get", "--name", "port", "--json"),
                 ("config-get", "--name", "log-level", "--json")):
        ours, theirs = session.ours(*args), session.upstream(*args)
        assert ours[0] == theirs[0] == 0, (ours, theirs)
        assert json.loads(ours[1]) == json.loads(theirs[1]), (args, ours, theirs)
    assert json.loads(session.ours("config-get", "--json")[1]) == {
        "output": {"log-level": "DEBUG", "port": 55555, "disable-events-log": False}, "error": ""}


def test_config_get_table_keeps_the_seeds_names(session: Session) -> None:
    """Upstream 10.3 prints log-level; the seed (the user's document) shows log_level: the seed wins."""
    ours, theirs = session.ours("config-get"), session.upstream("config-get")
    def rows(text: str) -> dict[str, str]:
        return dict(re.findall(r"^\|\s*(\S+)\s*\|\s*(\S+)\s*\|$", text, re.MULTILINE)[1:])

    assert rows(ours[1]) == {"log_level": "DEBUG", "port": "55555", "disable_events_log": "false"}, ours
    assert rows(theirs[1]) == {"log-level": "DEBUG", "port": "55555", "disable-events-log": "False"}, theirs


def test_node_rows_in_json_match_upstreams(session: Session) -> None:
    for args, column in ((("webhook-test", session.webhook_url, "--json"), "webhook_status"),
                         (("sync", "--json"), "sync_status")):
        ours, theirs = session.ours(*args), session.upstream(*args)
        assert ours[0] == theirs[0] == 0, (ours, theirs)
        assert json.loads(ours[1]) == json.loads(theirs[1]) == {
            "output": [{"node": "localhost", "node_status": "UP", column: "OK", "error": ""}], "error": ""}


def test_status_table_matches_upstreams_and_upstreams_json_crashes(session: Session) -> None:
    ours, theirs = session.ours("status"), session.upstream("status")
    assert ours[0] == theirs[0] == 0
    # 'Webhooks:' as the seed prints it (upstream 10.3 adds a trailing space); then the same
    # URL and table, except the status cell: the seed shows UP/DOWN, upstream 10.3 prints OK
    # for any node that answered (it drops the UP/DOWN its node command returned)
    assert ours[1].split("\n", 1)[0] == "Webhooks:" and theirs[1].split("\n", 1)[0] == "Webhooks: "
    ours_row = "| localhost |          UP |                    UP |"
    assert ours_row in ours[1] and ours[1].split("\n", 1)[1] == \
        theirs[1].split("\n", 1)[1].replace("| localhost |          UP |                    OK |", ours_row)
    code, out, err = session.upstream("status", "--json")
    assert code != 0 and "dict_keys" in err  # Python 3 cannot serialise dict.keys(): upstream has no status --json
    code, out, _ = session.ours("status", "--json")
    assert code == 0 and json.loads(out) == {"output": {"webhooks": [session.webhook_url], "data": [
        {"node": "localhost", "node_status": "UP", "glustereventsd_status": "UP", "error": ""}]}, "error": ""}


def test_errors_in_json_have_upstreams_exit_codes(session: Session) -> None:
    for args, status in ((("config-set", "log-level", "DEBUG", "--json"), 2),
                         (("webhook-add", session.webhook_url, "--json"), 5),
                         (("webhook-del", "http://127.0.0.1:9/nowhere", "--json"), 6),
                         (("config-get", "--name", "no-such-key", "--json"), 7)):
        ours, theirs = session.ours(*args), session.upstream(*args)
        assert ours[0] == theirs[0] == status, (args, ours, theirs)
        mine, upstream_answer = json.loads(ours[1]), json.loads(theirs[1])
        assert mine["output"] == upstream_answer["output"] == ""
        assert mine["error"].split(":")[0].split(".")[0] == upstream_answer["error"].split(".")[0] or \
            upstream_answer["error"].lower().split()[0] in mine["error"].lower(), (args, mine, upstream_answer)


def test_config_set_of_the_same_number_is_unchanged_for_us_and_not_for_upstream(session: Session) -> None:
    """Upstream compares the text '55555' with the number 55555: it rewrites and asks for a restart."""
    code, out, _ = session.ours("config-set", "port", "55555", "--json")
    assert code == 2 and json.loads(out)["error"] == "Config value not changed. Same config"
    code, out, _ = session.upstream("config-set", "port", "55555", "--json")
    assert code == 0 and "Restart glustereventsd in all nodes" in out


# -- a peer that has only Gluster's own CLI -----------------------------------------------------

def test_a_peer_with_only_upstreams_cli_gets_a_row_that_says_so(session: Session) -> None:
    from tests.cli.sshpool import SshKeys, SshNode, write_ssh_config

    node: GlusterNode = session.node
    keys = SshKeys.create(session.folder / "ssh")
    sshd_config = session.folder / "ssh/sshd_config"
    sshd_config.write_text("\n".join([
        f"ListenAddress {ADDRESS}:2222", f"HostKey {keys.host_key}", f"AuthorizedKeysFile {keys.authorized_keys}",
        f"PidFile {session.folder / 'ssh/sshd.pid'}", "UsePAM no", "StrictModes no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PermitRootLogin prohibit-password", "UseDNS no", "LogLevel ERROR",
        # What a Gluster node's root session has: upstream's CLI only. The login shell may source
        # a ~/.bashrc that puts other tools first (pyenv shims on a developer's machine or in CI,
        # where one may be ours), so the command runs with exactly this PATH.
        'ForceCommand env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "$SSH_ORIGINAL_COMMAND"',
        ""]))
    sshd = node.spawn("sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_config)])
    wait_until(lambda: node.run(["bash", "-c", f"exec 3<>/dev/tcp/{ADDRESS}/2222"]).returncode == 0
               or not sshd.alive(), 10, "sshd on the node")
    ssh_config = write_ssh_config(session.folder / "ssh/ssh_config",
                                  [SshNode("upstream-node", ADDRESS, session.folder / "ssh", keys, port=2222)], keys)
    # This CLI's own node: no 'gluster' on PATH, so its pool is its peers file: the Gluster node.
    here = session.folder / "cli-node"
    (here / "var/lib/glusterd/events").mkdir(parents=True)
    (here / "var/lib/glusterd/events/config.json").write_text(json.dumps({"ssh-config": str(ssh_config)}))
    (here / "var/lib/glusterd/events/peers.json").write_text(json.dumps({"upstream-node": {}}))
    env = {"GLUSTER_EVENTS_ROOT": str(here), "PATH": f"{BIN}:/usr/bin:/bin"}
    for command in ("status", "sync"):
        code, out, err = session.ours(command, env=env)
        assert code == 4, (command, out, err)
        row = next(line for line in out.splitlines() if "upstream-node" in line)
        assert "NOT OK: only Gluster's own gluster-eventsapi (glusterfs-server's) is installed there" in row
        assert "install this gluster-eventsapi on that node" in out.replace("\n", "")
        code, out, err = session.ours(command, "--json", env=env)
        rows = json.loads(out)["output"]
        rows = rows["data"] if command == "status" else rows
        peer = next(r for r in rows if r["node"] == "upstream-node")
        assert peer["node_status"] == "UP" and "only Gluster's own gluster-eventsapi" in peer["error"]
        if command == "status":
            assert "(it reports glustereventsd UP)" in peer["error"]
    node.stop(sshd)
