"""The unit under a real systemd (Debian 12's 252, booted with systemd-nspawn), installed by
the README's block for RPM systems and others (a virtual environment, the unit pointing
there), word for word, on a machine without Gluster: start, an event end to end, reload under
traffic, a hand edit, kill -9, the security rating, stop. (The Debian package, on Debian 11, 12
and 13 with Gluster: test_debian_package.py.)

The tests share one container, started once, and run in this file's order (stop is last).
The node is fresh: /var/lib/glusterd does not exist when the unit first starts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glustereventsd.runtime import runstate
from glustereventsd.base.paths import resolve_paths
from tests.helpers import wait_for
from tests.system import nspawn, readme

pytestmark = pytest.mark.timeout(400)  # a cold root build is most of it (about 20-30 s here)

UNIT = "glustereventsd.service"
PORT = 24009  # etc/eventsconfig.json, as installed
HOOK = "http://127.0.0.1:9000"
SECURITY_TODAY = 2.5  # systemd-analyze security of the unit before issue 14
SENDER = """
import socket, sys, time
count, rate, prefix = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
start = time.monotonic()
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    for i in range(count):
        pause = start + i / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        sock.sendto(("%d 2 name=%s%d" % (time.time(), prefix, i)).encode(), ("127.0.0.1", 24009))
"""


@dataclass(frozen=True)
class Hook:
    """A receiver in the container: its URL, and the file (host view) where its events land."""

    url: str
    received: Path

    def bodies(self) -> list[dict[str, Any]]:
        """Every event body received, in order (the listener's banner line is not one)."""
        if not self.received.exists():
            return []
        found = []
        for line in self.received.read_text(errors="replace").splitlines():
            try:
                body = json.loads(line)
            except ValueError:
                continue
            if isinstance(body, dict):
                found.append(body)
        return found

    def names(self) -> list[str]:
        """The ``name`` of every event received, in order."""
        return [str(body.get("message", {}).get("name")) for body in self.bodies()]


class Node:
    """The container, with what the tests ask of it."""

    def __init__(self, machine: nspawn.Machine) -> None:
        self.machine = machine
        self.paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(machine.merged)})  # host view of its files
        self.receivers = 0
        self.hooks: dict[str, Hook] = {}

    def run(self, *command: str, timeout: float = 30, check: bool = True, stdin: str = "") -> nspawn.Ran:
        return self.machine.run(command, timeout=timeout, check=check, stdin=stdin)

    def show(self, *names: str) -> dict[str, str]:
        out = self.run("systemctl", "show", UNIT, *[f"--property={n}" for n in names]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def status(self) -> runstate.RunState | None:
        ran = self.run("cat", "/run/glustereventsd/status.json", check=False)
        return runstate.parse_status(ran.stdout) if ran.returncode == 0 else None

    def digest(self) -> str:
        return runstate.config_digest(self.paths)

    def daemon_log(self) -> str:
        path = self.machine.path("/var/log/glusterfs/glustereventsd.log")
        return path.read_text(errors="replace") if path.exists() else ""

    def receiver(self, name: str) -> Hook:
        """A `gluster-eventsapi listen` started with systemd-run (its output: a file)."""
        self.receivers += 1
        port = 9000 + self.receivers
        output = f"/var/tmp/{name}.jsonl"
        self.run("systemd-run", f"--unit=gev-receiver-{name}", "--setenv=PYTHONUNBUFFERED=1",
                 f"--property=StandardOutput=file:{output}", "gluster-eventsapi", "listen",
                 "--host", "127.0.0.1", "--port", str(port), "--json")
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1)"
        wait_for(lambda: self.run("python3", "-c", probe, check=False).returncode == 0, 10,
                 what=f"receiver {name} listening")
        hook = Hook(f"http://127.0.0.1:{port}/{name}", self.machine.path(output))
        self.hooks[name] = hook
        return hook

    def add_by_hand(self, hook: Hook) -> None:
        """Add ``hook`` to webhooks.json by rewriting the file in place, as an editor would."""
        hooks = json.loads(self.paths.webhooks_file.read_text())
        hooks[hook.url] = {}
        self.run("sh", "-c", "cat > /var/lib/glusterd/events/webhooks.json", stdin=json.dumps(hooks, indent=4))


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    try:
        nspawn.check_machine()
    except nspawn.Unavailable as why:
        pytest.skip(f"real-systemd tier: {why}")
    work = tmp_path_factory.mktemp("nspawn")
    started = time.monotonic()
    with nspawn.cached_root() as root:
        assert not (root / "var/lib/glusterd").exists()  # a fresh node: no events folder at first start
        built = time.monotonic()
        source = nspawn.source_copy(work)
        wheels = nspawn.wheelhouse(source, work / "wheels")
        machine = nspawn.Machine(root, work, f"gev-i14-{int(time.time() * 1000) % 10**8}",
                                 binds=[(wheels, "/opt/wheels"), (source, "/src")])
        try:
            machine.boot()
            booted = time.monotonic()
            inside = Node(machine)
            # The README's block, in a writable copy of the tree (pip builds in it); the
            # container has no network: pip takes the wheels made on the host, told so by its
            # environment, so that the commands are the README's own.
            inside.run("cp", "-a", "/src", "/root/src")
            script = "cd /root/src\n" + readme.blocks(readme.VENV)[0]
            inside.run("env", "PIP_NO_INDEX=1", "PIP_FIND_LINKS=/opt/wheels", "PIP_DISABLE_PIP_VERSION_CHECK=1",
                       "sh", "-e", "-x", "-c", script, timeout=180)
            installed = time.monotonic()
            print(f"\nreal-systemd tier: root {built - started:.1f}s, wheels and boot {booted - built:.1f}s, "
                  f"install {installed - booted:.1f}s, start {time.monotonic() - installed:.2f}s")
            yield inside
        finally:
            machine.shutdown()
            shutil.rmtree(source, ignore_errors=True)  # a copy of the tests: keep it out of the secret scan
            shutil.rmtree(wheels, ignore_errors=True)
            print(f"real-systemd tier: {time.monotonic() - started:.1f}s in all")


def test_start_is_active_ready_and_watches_the_events_folder_it_did_not_have(node: Node) -> None:
    props = node.show("ActiveState", "SubState", "StatusText", "MainPID", "Type", "NRestarts")
    assert (props["ActiveState"], props["SubState"], props["Type"]) == ("active", "running", "notify")
    assert props["StatusText"] == "Listening for Gluster events"  # READY=1 came with it
    pid = int(props["MainPID"])
    assert node.run("cat", "/run/glustereventsd/glustereventsd.pid").stdout.strip() == str(pid)
    status = wait_for(node.status, 10, what="status file")
    assert status.pid == pid
    assert (status.watch.backend, status.watch.watching, status.watch.problem) == ("inotify", True, "")
    assert status.config.digest == node.digest()
    assert node.machine.path("/var/lib/glusterd/events").is_dir()  # a state directory of the unit
    log = node.daemon_log()
    assert "Read-only file system" not in log and "Not watching" not in log


def test_an_emitted_event_reaches_a_receiver_started_with_systemd_run(node: Node) -> None:
    first = node.receiver("first")
    added = node.run("gluster-eventsapi", "webhook-add", first.url)
    assert "OK" in added.stdout and "NOT OK" not in added.stdout, added.stdout
    node.run("gluster-eventsapi", "emit", "VOLUME_CREATE", "name=nspawn-first")  # the instant it returned
    wait_for(lambda: first.names() == ["nspawn-first"], 10, what="the event at the receiver")
    body = first.bodies()[0]
    assert body["event"] == "VOLUME_CREATE" and body["nodeid"]


def test_reload_returns_once_applied_and_loses_nothing_under_traffic(node: Node) -> None:
    first = node.hooks["first"]
    before = len(first.names())
    sender = subprocess.Popen(node.machine.argv(["python3", "-c", SENDER, "600", "300", "t"]),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seconds = []
        for round_ in range(3):
            time.sleep(0.4)
            extra = node.receiver(f"reload{round_}")
            node.add_by_hand(extra)
            # And a change only a reload applies: nothing watches the shipped defaults.
            defaults = json.loads(node.paths.defaults_file.read_text())
            defaults["disable-events-log"] = round_ % 2 == 0
            node.paths.defaults_file.write_text(json.dumps(defaults))
            ran = node.run("systemctl", "reload", "glustereventsd")
            seconds.append(ran.seconds)
            status = node.status()  # applied when systemctl returns: in the status, and in effect
            assert status is not None and status.config.digest == node.digest(), status
            node.run("gluster-eventsapi", "emit", "VOLUME_CREATE", f"name=after-reload{round_}")
            wait_for(lambda: f"after-reload{round_}" in extra.names(), 10, what="event at the new webhook")
        assert sender.wait(30) == 0, sender.stderr.read() if sender.stderr else ""
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait(10)
    expected = {f"t{i}" for i in range(600)}
    wait_for(lambda: expected <= set(first.names()), 30, what="all 600 at the first webhook")
    assert len(first.names()) - before >= 600 + 3
    print(f"systemctl reload took {', '.join(f'{s:.2f}s' for s in seconds)}")


def test_a_refused_reload_fails_systemctl_reload_with_the_reason(node: Node) -> None:
    good = node.paths.config_file.read_bytes() if node.paths.config_file.exists() else None
    node.paths.config_file.write_text('{"port": "not-a-port"}')
    try:
        ran = node.run("systemctl", "reload", "glustereventsd", check=False)
        assert ran.returncode != 0
        journal = node.run("journalctl", "-u", UNIT, "-n", "20", "--no-pager", "-o", "cat").stdout
        assert "reload not applied: glustereventsd refused the files" in journal
        assert "invalid value 'not-a-port' for port" in journal
        assert node.show("ActiveState")["ActiveState"] == "active"
    finally:
        if good is None:
            node.paths.config_file.unlink()
        else:
            node.paths.config_file.write_bytes(good)
    node.run("systemctl", "reload", "glustereventsd")


def test_a_hand_edit_of_webhooks_json_is_picked_up_without_a_signal(node: Node) -> None:
    hand = node.receiver("hand")
    count = node.daemon_log().count("Configuration reloaded")
    node.add_by_hand(hand)  # and no signal
    wait_for(lambda: node.daemon_log().count("Configuration reloaded") > count, 10, what="reload by the watch")
    node.run("gluster-eventsapi", "emit", "VOLUME_CREATE", "name=by-hand")
    wait_for(lambda: hand.names() == ["by-hand"], 10, what="the event at the hand-added webhook")


def test_kill_9_restarts_the_daemon_which_then_delivers(node: Node) -> None:
    before = node.show("MainPID", "NRestarts")
    node.run("python3", "-c", f"import os; os.kill({before['MainPID']}, 9)")  # minbase has no kill(1)

    def restarted() -> dict[str, str] | None:
        now = node.show("ActiveState", "MainPID", "NRestarts")
        return now if now["ActiveState"] == "active" and now["MainPID"] not in ("0", before["MainPID"]) else None

    after = wait_for(restarted, 15, what="the restart (RestartSec=2s)")
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1
    wait_for(lambda: (status := node.status()) is not None and status.pid == int(after["MainPID"]), 10,
             what="the new daemon's status")
    node.run("gluster-eventsapi", "emit", "VOLUME_CREATE", "name=after-kill")
    wait_for(lambda: "after-kill" in node.hooks["first"].names(), 10, what="delivery after the restart")


def test_security_exposure_is_no_worse_than_before(node: Node) -> None:
    out = node.run("systemd-analyze", "security", UNIT, "--no-pager").stdout
    found = re.search(r"Overall exposure level for glustereventsd\.service: ([0-9.]+)", out)
    assert found, out[-500:]
    print(f"systemd-analyze security: {found.group(1)}")
    assert float(found.group(1)) <= SECURITY_TODAY


def test_stop_is_prompt_and_clean(node: Node) -> None:
    ran = node.run("systemctl", "stop", "glustereventsd")
    props = node.show("ActiveState", "Result", "ExecMainCode", "ExecMainStatus")
    print(f"systemctl stop took {ran.seconds:.2f}s")
    assert ran.seconds < 5
    assert (props["ActiveState"], props["Result"]) == ("inactive", "success")
    assert (props["ExecMainCode"], props["ExecMainStatus"]) == ("1", "0")  # exited, status 0
    assert node.run("test", "-e", "/run/glustereventsd/glustereventsd.pid", check=False).returncode == 1
    assert node.run("test", "-e", "/run/glustereventsd/status.json", check=False).returncode == 1
    assert "glustereventsd stopped" in node.daemon_log()
