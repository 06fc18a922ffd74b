"""The Debian package on Debian 11, 12 and 13, each booted with its own systemd and Gluster.

For each release: the package is built in that release's root (not booted, with the host's
network for pip) by the README's "Debian: build the package" block, word for word; then a
container of the same root boots (private network), becomes a Gluster node (glusterd started,
an address on ``lo`` for the brick, Gluster's own glustereventsd running with a webhook and a
setting added by Gluster's own CLI), and installs the package by the README's block for a
Gluster node. The tests then check, in this file's order: the takeover (Gluster's daemon
stopped, ours active and READY, the node's files kept), an event from that release's glusterd
at the webhook Gluster's CLI added, the CLI (status, webhook-test, webhook-add), a reload
applied when systemctl returns (and a refused one failing it), kill -9, the security rating,
a clean stop, the README's purge giving Gluster's own daemon back, delivering; a remove and a
reinstall, a masked unit, a failed upgrade and a failed install (a package that took one of our
files makes dpkg's unpack fail); last, Gluster purged, the README's block for a machine
without Gluster, and the package's own purge.

Receivers are a few lines of the release's own python3 (stdlib), so that they outlive the
package's purge.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from glustereventsd.runtime import runstate
from glustereventsd.base.paths import Paths, resolve_paths
from tests.helpers import wait_for
from tests.system import nspawn, readme

pytestmark = pytest.mark.timeout(900)  # a cold root and package build are most of it

UNIT = "glustereventsd.service"
VENV = "/opt/venvs/gluster-eventsapi"
NODE_ADDRESS = "10.211.0.1"  # on lo, as tests/gluster does: glusterd refuses a brick on 127.0.0.1
RECEIVER_PORT = 9000
SECURITY_TODAY = 2.5  # systemd-analyze security of the unit before issue 17
SYSTEMD = {"bullseye": 247, "bookworm": 252, "trixie": 257}
DIVERTED = ("/usr/sbin/glustereventsd", "/usr/sbin/gluster-eventsapi",
            "/usr/share/man/man8/glustereventsd.8.gz", "/usr/share/man/man8/gluster-eventsapi.8.gz",
            "/lib/systemd/system/glustereventsd.service", "/usr/lib/systemd/system/glustereventsd.service")
RECEIVER = """
import http.server, json, sys
out = sys.argv[2]
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(out, "a") as log:
            log.write(json.dumps({"path": self.path, "body": body.decode("utf-8", "replace")}) + "\\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""
RECEIVED = "/var/tmp/received.jsonl"


@dataclass
class Node:
    """The booted release, with what the tests ask of it."""

    release: nspawn.Release
    machine: nspawn.Machine
    timings: dict[str, float] = field(default_factory=dict)
    before: dict[str, str] = field(default_factory=dict)  # sha256 of the node's files before the install
    volume_sets: int = 0

    @property
    def paths(self) -> Paths:
        """The node's files as the host sees them (through the container's root)."""
        return resolve_paths({"GLUSTER_EVENTS_ROOT": str(self.machine.merged)})

    def run(self, *command: str, timeout: float = 60, check: bool = True, stdin: str = "") -> nspawn.Ran:
        return self.machine.run(command, timeout=timeout, check=check, stdin=stdin)

    def sh(self, script: str, cwd: str = "/", timeout: float = 300) -> nspawn.Ran:
        """A README block, word for word, under ``sh -e`` in ``cwd``."""
        return self.run("sh", "-e", "-x", "-c", f"cd {cwd}\n{script}", timeout=timeout)

    def show(self, *names: str) -> dict[str, str]:
        out = self.run("systemctl", "show", UNIT, *[f"--property={n}" for n in names]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_show(self, ready: Callable[[dict[str, str]], bool], what: str, *names: str) -> dict[str, str]:
        """The unit's properties ``names`` once ``ready`` holds for them (20 s at most)."""
        def check() -> dict[str, str] | None:
            props = self.show(*names)
            return props if ready(props) else None
        try:
            result: dict[str, str] = wait_for(check, 20, what=what)
        except AssertionError as err:
            status = self.run("systemctl", "status", UNIT, "--no-pager", "-l", check=False).stdout
            journal = self.run("journalctl", "-u", UNIT, "-n", "40", "--no-pager", check=False).stdout
            raise AssertionError(f"{err}\n{status}\n{journal}") from None
        return result

    def listening(self, port: int) -> bool:
        """Whether a UDP socket is bound to ``port`` (IPv4 or IPv6)."""
        return bool(self.run("ss", "-H", "-u", "-l", "-n", f"sport = :{port}").stdout.strip())

    def cmdline(self, pid: str) -> str:
        """A process's command line (the container's /proc, read inside)."""
        return self.run("cat", f"/proc/{pid}/cmdline", check=False).stdout.replace("\0", " ")

    def sha(self, path: str) -> str:
        ran = self.run("sha256sum", path, check=False)
        return ran.stdout.split()[0] if ran.returncode == 0 else "missing"

    def received(self) -> list[dict[str, Any]]:
        """Every POST the receiver got: its path, and its body as JSON (or text)."""
        path = self.machine.path(RECEIVED)
        found = []
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            entry = json.loads(line)
            try:
                entry["json"] = json.loads(entry["body"])
            except ValueError:
                entry["json"] = None
            found.append(entry)
        return found

    def events_at(self, path: str) -> list[dict[str, Any]]:
        return [e["json"] for e in self.received() if e["path"] == path and isinstance(e["json"], dict)]

    def volume_set(self) -> str:
        """A ``gluster volume set`` on the node's volume: glusterd sends VOLUME_SET. Its marker value."""
        self.volume_sets += 1
        value = str(1000 + self.volume_sets)
        self.run("gluster", "--mode=script", "volume", "set", "gev", "performance.cache-max-file-size", value)
        return value

    def has_volume_set(self, path: str, value: str) -> bool:
        for event in self.events_at(path):
            if event.get("event") == "VOLUME_SET" and value in json.dumps(event.get("message")):
                return True
        return False


def _gluster_node(node: Node) -> None:
    """glusterd up with an address on lo, Gluster's own events daemon running with a webhook."""
    node.run("ip", "addr", "add", f"{NODE_ADDRESS}/32", "dev", "lo")
    node.run("sh", "-c", f"echo '{NODE_ADDRESS} gev-node' >> /etc/hosts")
    node.run("systemctl", "start", "glusterd", timeout=90)
    wait_for(lambda: node.run("gluster", "--mode=script", "pool", "list", check=False).returncode == 0, 30,
             interval=0.5, what="glusterd answering")
    node.run("systemd-run", "--unit=gev-receiver", "python3", "-c", RECEIVER, str(RECEIVER_PORT), RECEIVED)
    probe = f"import socket; socket.create_connection(('127.0.0.1', {RECEIVER_PORT}), timeout=1)"
    wait_for(lambda: node.run("python3", "-c", probe, check=False).returncode == 0, 10, what="receiver")
    # Gluster's own daemon and CLI, as a node has them before this package comes.
    node.run("systemctl", "enable", "--now", UNIT, timeout=60)
    wait_for(lambda: node.show("ActiveState")["ActiveState"] == "active", 10, what="Gluster's glustereventsd")
    added = node.run("gluster-eventsapi", "webhook-add", f"http://127.0.0.1:{RECEIVER_PORT}/pre", timeout=90)
    assert "OK" in added.stdout, added.stdout + added.stderr
    node.run("gluster-eventsapi", "config-set", "log-level", "DEBUG", timeout=90)
    # Gluster's own daemon posts only to the webhooks it had when it started (as on a node where
    # it has run for a while): restarted.
    node.run("systemctl", "restart", UNIT, timeout=60)
    for path in ("/etc/glusterfs/eventsconfig.json", "/var/lib/glusterd/events/webhooks.json",
                 "/var/lib/glusterd/events/config.json"):
        node.before[path] = node.sha(path)
    node.before["gluster-pid"] = node.show("MainPID")["MainPID"]
    node.run("mkdir", "-p", "/bricks/gev")
    node.run("gluster", "--mode=script", "volume", "create", "gev", f"{NODE_ADDRESS}:/bricks/gev/b", "force")
    node.run("gluster", "--mode=script", "volume", "start", "gev")
    # Gluster's own daemon delivers (the oracle of what "running" means after the purge, too).
    wait_for(lambda: any(e.get("event") == "VOLUME_START" for e in node.events_at("/pre")), 20,
             what="Gluster's own daemon delivering VOLUME_START")


def _build_package(release: nspawn.Release, root: Path, work: Path) -> Path:
    """The README's build block in a copy of the tree; the folder holding the .deb."""
    folder = work / "build"
    folder.mkdir()
    source = nspawn.source_copy(folder)
    script = "\n".join(readme.blocks(readme.BUILD))
    try:
        done = nspawn.build(root, work / "build-overlay", release, folder, script, cwd=source)
    finally:
        shutil.rmtree(source, ignore_errors=True)  # a copy of the tests: keep it out of the secret scan
    if done.returncode != 0:
        raise AssertionError(f"package build on {release.suite} failed: {done.stdout[-3000:]}{done.stderr[-3000:]}")
    debs = list(folder.glob("gluster-eventsapi_*.deb"))
    assert len(debs) == 1, sorted(p.name for p in folder.iterdir())
    return folder


@pytest.fixture(scope="module", params=nspawn.GLUSTER_RELEASES, ids=lambda r: f"debian{r.number}")
def node(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    release: nspawn.Release = request.param
    try:
        nspawn.check_machine()
    except nspawn.Unavailable as why:
        pytest.skip(f"real-systemd tier: {why}")
    work = tmp_path_factory.mktemp(f"deb-{release.suite}")
    started = time.monotonic()
    with nspawn.cached_root(release) as root:
        timings = {"root": time.monotonic() - started}
        debs = _build_package(release, root, work)
        timings["package"] = time.monotonic() - started - sum(timings.values())
        machine = nspawn.Machine(root, work, f"gev-{release.suite}-{int(time.time() * 1000) % 10**8}",
                                 binds=[(debs, "/debs")])
        inside = Node(release, machine, timings)
        try:
            machine.boot(timeout=90)
            # The README's commands as typed, without apt's question (the container has no one to ask).
            inside.run("sh", "-c", "echo 'APT::Get::Assume-Yes \"true\";' > /etc/apt/apt.conf.d/90gev-tests")
            _gluster_node(inside)
            timings["boot and Gluster"] = time.monotonic() - started - sum(timings.values())
            install = readme.blocks(readme.WITH_GLUSTER)[0]
            inside.before["install-output"] = inside.sh(install, cwd="/debs").stdout
            timings["install"] = time.monotonic() - started - sum(timings.values())
            yield inside
        finally:
            machine.shutdown()
            timings["tests"] = time.monotonic() - started - sum(timings.values())
            print(f"\n{release.suite}: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
                  + f"; {time.monotonic() - started:.1f}s in all")


def test_install_takes_over_gluster_daemon_and_keeps_the_node_files(node: Node) -> None:
    props = node.show("ActiveState", "SubState", "StatusText", "MainPID", "Type", "FragmentPath")
    assert (props["ActiveState"], props["SubState"]) == ("active", "running"), props
    assert props["StatusText"] == "Listening for Gluster events"  # READY=1 came with it
    assert props["Type"] == "notify"
    assert props["FragmentPath"] in ("/lib/systemd/system/glustereventsd.service",  # /lib: merged /usr
                                     "/usr/lib/systemd/system/glustereventsd.service")
    assert "ExecStart=/usr/sbin/glustereventsd" in node.run("cat", props["FragmentPath"]).stdout
    assert props["MainPID"] != node.before["gluster-pid"]
    assert node.run("test", "-d", f"/proc/{node.before['gluster-pid']}", check=False).returncode != 0
    assert f"{VENV}/bin/python" in node.cmdline(props["MainPID"])
    diversions = node.run("dpkg-divert", "--list", "gluster-eventsapi").stdout
    for path in DIVERTED:
        assert f"diversion of {path} to {path}.distrib by gluster-eventsapi" in diversions, diversions
    for name in ("glustereventsd", "gluster-eventsapi"):
        assert node.run("readlink", "-f", f"/usr/sbin/{name}").stdout.strip() == f"{VENV}/bin/{name}"
    # Gluster's own files kept aside, still runnable.
    assert node.run("test", "-e", "/usr/sbin/glustereventsd.distrib", check=False).returncode == 0
    for path, digest in node.before.items():
        if path.startswith("/"):
            assert node.sha(path) == digest, f"{path} changed by the install"
    # The daemon listens where the distribution's eventsconfig.json says (Debian 11's Gluster 9.2: 24009).
    port = json.loads(node.run("cat", "/etc/glusterfs/eventsconfig.json").stdout)["port"]
    assert node.listening(port), node.run("ss", "-H", "-u", "-l", "-n", "-p").stdout
    assert node.run("test", "-e", "/etc/logrotate.d/glustereventsd", check=False).returncode != 0  # glusterfs-common's covers it
    assert node.run("test", "-d", "/usr/lib/python3/dist-packages/glustereventsd", check=False).returncode != 0
    print(f"{node.release.suite}: {node.before['install-output'].strip()[-300:]}")


def test_an_event_from_glusterd_reaches_the_webhook_glusters_cli_added(node: Node) -> None:
    value = node.volume_set()
    wait_for(lambda: node.has_volume_set("/pre", value), 20, what="VOLUME_SET from glusterd via our daemon")
    body = next(e for e in node.events_at("/pre") if e.get("event") == "VOLUME_SET" and value in json.dumps(e))
    assert body["nodeid"] and isinstance(body["ts"], int)


def test_cli_status_webhook_test_and_add(node: Node) -> None:
    status = node.run("gluster-eventsapi", "status", timeout=90).stdout
    assert "UP" in status and "DOWN" not in status, status
    assert "http://127.0.0.1:9000/pre" in status, status
    tested = node.run("gluster-eventsapi", "webhook-test", "http://127.0.0.1:9000/tested", timeout=90).stdout
    assert "OK" in tested and "NOT OK" not in tested, tested
    assert any(e["path"] == "/tested" for e in node.received())
    added = node.run("gluster-eventsapi", "webhook-add", "http://127.0.0.1:9000/added", timeout=90).stdout
    assert "OK" in added and "NOT OK" not in added, added
    value = node.volume_set()  # the moment webhook-add returned: the new webhook is in force
    wait_for(lambda: node.has_volume_set("/added", value) and node.has_volume_set("/pre", value), 20,
             what="VOLUME_SET at both webhooks")


def test_reload_is_applied_when_systemctl_returns_and_a_refused_one_fails(node: Node) -> None:
    hooks_file = "/var/lib/glusterd/events/webhooks.json"
    hooks = json.loads(node.run("cat", hooks_file).stdout)
    hooks["http://127.0.0.1:9000/reloaded"] = {"token": "", "secret": ""}
    # Written in place, then the reload: in force when systemctl returns (whether the watch or the signal did it).
    node.run("sh", "-c", f"cat > {hooks_file}", stdin=json.dumps(hooks))
    node.run("systemctl", "reload", UNIT)
    status = runstate.parse_status(node.run("cat", "/run/glustereventsd/status.json").stdout)
    assert status is not None and status.config.digest == runstate.config_digest(node.paths), status
    value = node.volume_set()
    wait_for(lambda: node.has_volume_set("/reloaded", value), 20, what="VOLUME_SET at the reloaded webhook")
    config = "/var/lib/glusterd/events/config.json"
    good = node.run("cat", config).stdout
    node.run("sh", "-c", f"cat > {config}", stdin='{"port": "not-a-port"}')
    try:
        refused = node.run("systemctl", "reload", UNIT, check=False)
        assert refused.returncode != 0
        journal = node.run("journalctl", "-u", UNIT, "-n", "30", "--no-pager", "-o", "cat").stdout
        assert "invalid value 'not-a-port' for port" in journal
        assert node.show("ActiveState")["ActiveState"] == "active"
    finally:
        node.run("sh", "-c", f"cat > {config}", stdin=good)
    node.run("systemctl", "reload", UNIT)


def test_kill_9_is_restarted_and_delivers(node: Node) -> None:
    before = node.show("MainPID", "NRestarts")
    node.run("sh", "-c", f"kill -9 {before['MainPID']}")  # minbase has no kill(1)

    def restarted() -> dict[str, str] | None:
        now = node.show("ActiveState", "MainPID", "NRestarts", "StatusText")
        fresh = now["MainPID"] not in ("0", before["MainPID"])
        return now if now["ActiveState"] == "active" and fresh and now["StatusText"] else None

    after = wait_for(restarted, 20, what="the restart (RestartSec=2s)")
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    value = node.volume_set()
    wait_for(lambda: node.has_volume_set("/added", value), 20, what="delivery after the restart")


def test_security_exposure_is_no_worse_than_before(node: Node) -> None:
    out = node.run("systemd-analyze", "security", UNIT, "--no-pager").stdout
    found = re.search(r"Overall exposure level for glustereventsd\.service: ([0-9.]+)", out)
    assert found, out[-500:]
    print(f"{node.release.suite} (systemd {SYSTEMD[node.release.suite]}): systemd-analyze security {found.group(1)}")
    assert float(found.group(1)) <= SECURITY_TODAY


def test_stop_is_prompt_and_clean(node: Node) -> None:
    ran = node.run("systemctl", "stop", UNIT)
    props = node.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    assert ran.seconds < 5, ran.seconds
    assert (props["ActiveState"], props["Result"]) == ("inactive", "success")
    assert (props["ExecMainCode"], props["ExecMainStatus"]) == ("1", "0")
    assert node.run("test", "-e", "/run/glustereventsd/status.json", check=False).returncode == 1
    node.run("systemctl", "start", UNIT)


UPGRADE_TIMES = """
import os, subprocess, time
offset = time.time() - time.monotonic()  # systemd's *Monotonic timestamps are CLOCK_MONOTONIC
def at(prop):
    out = subprocess.check_output(["systemctl", "show", "--value", "-p", prop, "glustereventsd.service"])
    return int(out) / 1e6 + offset
print(at("InactiveEnterTimestampMonotonic"), os.stat(os.sys.argv[1]).st_ctime, at("ActiveEnterTimestampMonotonic"))
"""


def test_upgrade_stops_the_daemon_before_its_files_are_replaced(node: Node) -> None:
    before = node.show("MainPID")["MainPID"]
    node.run("sh", "-c", "dpkg -i /debs/gluster-eventsapi_*.deb", timeout=120)  # the same version again: an upgrade
    props = _ours_running(node, "ours after the upgrade")
    assert props["MainPID"] != before
    # Stopped (prerm upgrade) before dpkg put the new files in place, started (postinst) after.
    script = f"{VENV}/bin/glustereventsd"
    stopped, replaced, started = map(float, node.run("python3", "-c", UPGRADE_TIMES, script).stdout.split())
    assert stopped < replaced < started, (stopped, replaced, started)


def test_purge_gives_glusters_own_daemon_back_running(node: Node) -> None:
    purge = readme.blocks(readme.WITH_GLUSTER)[1]
    node.sh(purge)
    assert node.run("dpkg-divert", "--list", "gluster-eventsapi").stdout.strip() == ""
    assert node.run("dpkg-query", "-S", "/usr/sbin/glustereventsd").stdout.startswith("glusterfs-server")
    assert node.run("test", "-e", VENV, check=False).returncode != 0
    props = node.wait_show(lambda p: p["ActiveState"] == "active", "Gluster's own daemon active",
                           "ActiveState", "MainPID", "FragmentPath", "UnitFileState")
    assert props["UnitFileState"] == "enabled"
    assert VENV not in node.cmdline(props["MainPID"])
    fragment = node.run("cat", props["FragmentPath"]).stdout
    assert "Type=simple" in fragment  # Gluster's own unit, back in its place
    assert node.sha("/etc/glusterfs/eventsconfig.json") == node.before["/etc/glusterfs/eventsconfig.json"]
    hooks = json.loads(node.run("cat", "/var/lib/glusterd/events/webhooks.json").stdout)
    assert {"http://127.0.0.1:9000/pre", "http://127.0.0.1:9000/added"} <= set(hooks)
    value = node.volume_set()
    wait_for(lambda: node.has_volume_set("/pre", value), 30, what="Gluster's own daemon delivering again")


def _ours_running(node: Node, what: str) -> dict[str, str]:
    """Our daemon active and READY under the unit name, enabled (so also after a reboot)."""
    props = node.wait_show(lambda p: p["ActiveState"] == "active" and bool(p["StatusText"]), what,
                           "ActiveState", "StatusText", "MainPID", "UnitFileState", "FragmentPath")
    assert props["UnitFileState"] == "enabled", props
    assert f"{VENV}/bin/python" in node.cmdline(props["MainPID"]), props
    assert "ExecStart=/usr/sbin/glustereventsd" in node.run("cat", props["FragmentPath"]).stdout
    return props


def _gluster_running(node: Node, what: str) -> dict[str, str]:
    props = node.wait_show(lambda p: p["ActiveState"] == "active", what, "ActiveState", "MainPID", "UnitFileState")
    assert VENV not in node.cmdline(props["MainPID"]), props
    return props


def test_remove_gives_glusters_daemon_back_as_it_was_and_a_reinstall_from_rc_starts_ours(node: Node) -> None:
    # Gluster's own daemon running but disabled: given back exactly so (running, still disabled).
    node.run("systemctl", "disable", UNIT)
    install = readme.blocks(readme.WITH_GLUSTER)[0]
    node.sh(install, cwd="/debs")
    _ours_running(node, "ours after the install")
    recorded = node.run("cat", "/var/lib/gluster-eventsapi/gluster-unit").stdout
    assert recorded.split() == ["enabled=disabled", "active=active"], recorded
    node.run("apt-get", "remove", "-q", "gluster-eventsapi", timeout=120)
    props = _gluster_running(node, "Gluster's own daemon after the remove")
    assert props["UnitFileState"] == "disabled", props
    assert node.run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "gluster-eventsapi").stdout.strip() == "rc"
    # From the rc state (postinst gets the old version as $2): ours enabled and started all the same.
    node.sh(install, cwd="/debs")
    _ours_running(node, "ours after a reinstall from the rc state")


def test_a_masked_unit_is_reported_at_install(node: Node) -> None:
    node.run("apt-get", "remove", "-q", "gluster-eventsapi", timeout=120)
    _gluster_running(node, "Gluster's own daemon after the remove")
    node.run("systemctl", "stop", UNIT)
    node.run("systemctl", "mask", UNIT)
    # dpkg, not apt (which puts the scripts' stderr on its stdout): the warning is on stderr.
    ran = node.run("sh", "-c", "dpkg -i /debs/gluster-eventsapi_*.deb", timeout=120)
    assert f"WARNING: {UNIT} is masked" in ran.stderr, ran.stdout + ran.stderr
    assert node.show("ActiveState")["ActiveState"] == "inactive"
    # What the warning says to do.
    node.run("sh", "-c", f"systemctl unmask {UNIT} && systemctl enable --now {UNIT}")
    _ours_running(node, "ours once unmasked")


THIEF = """Package: gev-file-thief
Version: 1.0
Architecture: all
Maintainer: tests <tests@localhost>
Description: owns a file of gluster-eventsapi, so that dpkg cannot unpack gluster-eventsapi
"""


def _thief_takes(node: Node) -> str:
    """Install a package that takes over one of our package's files, so that its next unpack fails; the file."""
    shipped = node.run("dpkg-query", "-L", "gluster-eventsapi").stdout.split()
    docs = sorted(p for p in shipped if p.startswith("/usr/share/doc/gluster-eventsapi/") and p.endswith("copyright"))
    assert docs, shipped[:20]
    node.run("mkdir", "-p", "/var/tmp/thief/DEBIAN", "/var/tmp/thief" + docs[0].rsplit("/", 1)[0])
    node.run("sh", "-c", f"cat > /var/tmp/thief/DEBIAN/control && echo stolen > /var/tmp/thief{docs[0]}", stdin=THIEF)
    node.run("dpkg-deb", "--build", "/var/tmp/thief", "/var/tmp/thief.deb", timeout=60)
    node.run("dpkg", "-i", "--force-overwrite", "/var/tmp/thief.deb", timeout=60)
    assert node.run("dpkg-query", "-S", docs[0]).stdout.startswith("gev-file-thief"), docs[0]
    return docs[0]


def test_a_failed_upgrade_runs_ours_again_and_a_failed_install_gives_glusters_back(node: Node) -> None:
    before = _ours_running(node, "ours before the failed upgrade")["MainPID"]
    stolen = _thief_takes(node)
    # An upgrade whose unpack fails: prerm upgrade stopped ours, postinst abort-upgrade starts it again.
    failed = node.run("sh", "-c", "dpkg -i /debs/gluster-eventsapi_*.deb", timeout=120, check=False)
    assert failed.returncode != 0 and "trying to overwrite" in failed.stdout + failed.stderr, failed.stdout + failed.stderr
    assert node.run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "gluster-eventsapi").stdout.strip() == "ii"
    after = _ours_running(node, "ours again after the failed upgrade")["MainPID"]
    assert after != before  # stopped, then started again: not left stopped, nor never stopped
    diversions = node.run("dpkg-divert", "--list", "gluster-eventsapi").stdout
    assert all(f"diversion of {path} to {path}.distrib" in diversions for path in DIVERTED), diversions
    # An install whose unpack fails, from Gluster's own daemon enabled and running: preinst stopped
    # it and diverted its files, postrm abort-install gives both back.
    node.run("apt-get", "remove", "-q", "gluster-eventsapi", timeout=120)
    node.run("systemctl", "enable", "--now", UNIT, timeout=60)
    gluster_pid = _gluster_running(node, "Gluster's own daemon before the failed install")["MainPID"]
    failed = node.run("sh", "-c", "dpkg -i /debs/gluster-eventsapi_*.deb", timeout=120, check=False)
    assert failed.returncode != 0 and "trying to overwrite" in failed.stdout + failed.stderr, failed.stdout + failed.stderr
    assert "stopping Gluster's own glustereventsd" in failed.stdout + failed.stderr  # preinst did run
    assert node.run("dpkg-divert", "--list", "gluster-eventsapi").stdout.strip() == ""
    assert node.run("dpkg-query", "-S", "/usr/sbin/glustereventsd").stdout.startswith("glusterfs-server")
    props = _gluster_running(node, "Gluster's own daemon given back after the failed install")
    assert props["UnitFileState"] == "enabled" and props["MainPID"] != gluster_pid, props
    assert node.run("test", "-e", "/var/lib/gluster-eventsapi/installing", check=False).returncode != 0
    # Without the thief, the README's install works again.
    node.run("dpkg", "--purge", "gev-file-thief", timeout=60)
    assert node.run("test", "-e", stolen, check=False).returncode != 0
    node.sh(readme.blocks(readme.WITH_GLUSTER)[0], cwd="/debs")
    _ours_running(node, "ours after the install without the thief")


def test_ours_survives_glusterfs_server_remove_and_purge(node: Node) -> None:
    # glusterfs-server's own scripts manage the unit name: Debian 11's prerm stops it and
    # postrm remove masks it; 12's and 13's postrm purge removes its enable link.
    removed = node.run("apt-get", "remove", "-q", "glusterfs-server", timeout=180)
    _ours_running(node, "ours after apt-get remove glusterfs-server")
    assert node.run("test", "-L", f"/etc/systemd/system/{UNIT}", check=False).returncode != 0
    if node.release.suite == "bullseye":  # the mask was made, and taken back
        assert "masked glustereventsd.service on its removal: unmasked" in removed.stdout, removed.stdout
    port = json.loads(node.run("cat", "/etc/glusterfs/eventsconfig.json").stdout)["port"]
    assert node.listening(port)
    purged = node.run("apt-get", "purge", "-q", "glusterfs-server", timeout=180)
    assert node.run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "glusterfs-server", check=False).stdout.strip() in ("", "un")
    _ours_running(node, "ours after apt-get purge glusterfs-server")
    if node.release.suite != "bullseye":  # the enable link was removed, and made again
        assert "purge disabled glustereventsd.service: enabled again" in purged.stdout, purged.stdout
    assert node.run("test", "-L", f"/etc/systemd/system/multi-user.target.wants/{UNIT}", check=False).returncode == 0
    assert node.run("test", "-L", f"/etc/systemd/system/{UNIT}", check=False).returncode != 0
    assert node.listening(port)  # the same daemon, on the port of the (now purged) eventsconfig.json
    node.run("apt-get", "purge", "-q", "gluster-eventsapi", timeout=120)


def test_without_gluster_the_package_runs_on_its_shipped_defaults(node: Node) -> None:
    # Gluster 11.1's own daemon (Debian 13) can take its TimeoutStopSec (90 s) to stop: killed.
    # (glusterfs-server is purged already: glusterd.service may be gone or a leftover process.)
    node.run("systemctl", "kill", "--signal=SIGKILL", "glusterd.service", UNIT, check=False)
    node.run("systemctl", "stop", "glusterd.service", UNIT, timeout=120, check=False)
    node.run("sh", "-c", "apt-get purge -q 'glusterfs-*' >/dev/null", timeout=180)
    node.run("rm", "-rf", "/var/lib/glusterd", "/etc/glusterfs", "/var/log/glusterfs")
    assert node.run("sh", "-c", "command -v gluster", check=False).returncode != 0
    install = readme.blocks(readme.WITHOUT_GLUSTER)[0]
    node.sh(install, cwd="/debs")
    props = node.wait_show(lambda p: bool(p["StatusText"]), "READY", "ActiveState", "StatusText")
    assert props["ActiveState"] == "active"
    assert node.listening(24009)  # the shipped defaults' port
    assert node.run("test", "-e", "/etc/glusterfs/eventsconfig.json", check=False).returncode != 0
    added = node.run("gluster-eventsapi", "webhook-add", "http://127.0.0.1:9000/plain", timeout=60).stdout
    assert "OK" in added and "NOT OK" not in added, added
    node.run("gluster-eventsapi", "emit", "VOLUME_CREATE", "name=on-24009")  # to the default port, 24009
    wait_for(lambda: any(e.get("message", {}).get("name") == "on-24009" for e in node.events_at("/plain")), 20,
             what="an emitted event on the default port")
    # Its own logrotate rule here (no glusterfs-common rule), accepted by logrotate.
    assert node.run("test", "-f", "/etc/logrotate.d/glustereventsd", check=False).returncode == 0
    checked = node.run("logrotate", "--debug", "/etc/logrotate.conf", check=False)
    errors = [line for line in checked.stderr.splitlines()
              if line.startswith("error:") and "state file" not in line]  # no state yet: a fresh node
    assert checked.returncode == 0 and not errors, checked.stderr[-1000:]
    assert "/var/log/glusterfs/glustereventsd.log" in checked.stderr
    node.run("apt-get", "purge", "-q", "gluster-eventsapi", timeout=120)
    for gone in (VENV, "/etc/logrotate.d/glustereventsd", "/usr/lib/systemd/system/glustereventsd.service",
                 "/etc/systemd/system/multi-user.target.wants/glustereventsd.service", "/var/lib/glustereventsd"):
        assert node.run("test", "-e", gone, check=False).returncode != 0, f"{gone} left after the purge"
    assert node.run("dpkg-divert", "--list", "gluster-eventsapi").stdout.strip() == ""
