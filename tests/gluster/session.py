"""The single-node scenario: a real glusterd, Gluster's own CLI to register the webhook, our
daemon at the distribution's port, then real volume commands, each one's datagrams captured.

``run_session`` does it once for the whole module (tests/gluster/test_single_node.py) and
returns what happened; the tests then check its parts.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.gluster.node import BIN, GlusterNode, NodeProcess, wait_until

PORT = 55555  # the distribution's /etc/glusterfs/eventsconfig.json (asserted by the tests)
VOLUME = "gv1"
UPSTREAM_TOKEN = "i11g-upstream-cli-token"  # registered with upstream's CLI, which takes it in argv
OUR_CLI = [sys.executable, "-m", "gluster_eventsapi"]
OUR_DAEMON = [sys.executable, "-m", "glustereventsd"]

#: The commands, in order: (label, gluster arguments).
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("create", ("volume", "create", VOLUME, "{brick}", "force")),
    ("start", ("volume", "start", VOLUME)),
    ("set", ("volume", "set", VOLUME, "performance.cache-size", "64MB")),
    ("reset", ("volume", "reset", VOLUME, "performance.cache-size")),
    ("quota-enable", ("volume", "quota", VOLUME, "enable")),
    ("quota-limit", ("volume", "quota", VOLUME, "limit-usage", "/", "1GB")),
    ("quota-disable", ("volume", "quota", VOLUME, "disable")),
    ("bitrot-enable", ("volume", "bitrot", VOLUME, "enable")),
    ("bitrot-disable", ("volume", "bitrot", VOLUME, "disable")),
    ("snapshot", ("snapshot", "create", "snap1", VOLUME, "no-timestamp")),
    ("stop", ("volume", "stop", VOLUME)),
    ("delete", ("volume", "delete", VOLUME)),
)
QUIET_SECS = 1.5  # a command's events are in once nothing more came for this long
COMMAND_WINDOW_SECS = 10.0


@dataclass(frozen=True)
class Datagram:
    """One datagram the capture saw going to the events port."""

    at: float
    src: str
    dst: str
    data: bytes


@dataclass
class Step:
    """One gluster command: how it ended and the datagrams sent while it ran and settled."""

    label: str
    argv: list[str]
    returncode: int
    output: str
    datagrams: list[Datagram] = field(default_factory=list)


@dataclass
class Session:
    node: GlusterNode
    uuid: str
    recorder_port: int
    daemon: NodeProcess
    upstream_cli: dict[str, tuple[int, str]] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return self.node.folder

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.recorder_port}/listen"

    def captured(self) -> list[Datagram]:
        found = []
        path = self.folder / "captured.jsonl"
        for line in path.read_text().splitlines() if path.exists() else []:
            item = json.loads(line)
            found.append(Datagram(item["at"], item["src"], item["dst"], bytes.fromhex(item["data"])))
        return found

    def deliveries(self) -> list[dict[str, Any]]:
        """Every request the webhook got: {"at", "path", "headers", "body"}."""
        path = self.folder / "deliveries.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def daemon_log(self) -> str:
        try:
            return (self.node.logs / "glustereventsd.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def ours(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Our CLI on the node."""
        done = self.node.run([*OUR_CLI, *args], env=env)
        return done.returncode, done.stdout, done.stderr

    def upstream(self, *args: str) -> tuple[int, str, str]:
        """Gluster's own CLI on the node."""
        done = self.node.run(["/usr/sbin/gluster-eventsapi", *args])
        return done.returncode, done.stdout, done.stderr


def _settle(session: Session, before: int) -> list[Datagram]:
    """Datagrams captured after index ``before``, once QUIET_SECS pass without a new one."""
    deadline = time.monotonic() + COMMAND_WINDOW_SECS
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now = len(session.captured())
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= QUIET_SECS:
            break
        time.sleep(0.05)
    return session.captured()[before:]


def start_session(folder: Path) -> Session:
    """Bring the node up to the point where the commands can run (see the module docstring)."""
    node = GlusterNode(folder).start()
    try:
        node.spawn("glusterd", ["glusterd", "-N"])
        wait_until(lambda: node.gluster("pool", "list").returncode == 0, 30, "glusterd to answer")
        info = node.run(["sh", "-c", "cat \"$(gluster system:: getwd)/glusterd.info\""]).stdout
        uuid = next(line.split("=", 1)[1] for line in info.splitlines() if line.startswith("UUID="))
        capture = node.spawn("capture", [sys.executable, "-m", "tests.gluster.capture",
                                         str(folder / "captured.jsonl"), str(PORT)])
        wait_until(lambda: "ready" in node.output_of("capture") or not capture.alive(), 10, "the capture")
        recorder = node.spawn("recorder", [sys.executable, "-m", "tests.gluster.recorder",
                                           str(folder / "deliveries.jsonl")])
        port = int(wait_until(lambda: node.output_of("recorder").strip() or not recorder.alive(), 10,
                              "the recorder's port"))
        session = Session(node, uuid, port, daemon=None)  # type: ignore[arg-type]
        # The drop-in: the webhook and the log level are set with Gluster's own CLI, as an
        # administrator of a Gluster 10 node did before switching daemons.
        for key, args in (("webhook-add", ("webhook-add", session.webhook_url, "--bearer_token", UPSTREAM_TOKEN)),
                          ("config-set", ("config-set", "log-level", "DEBUG"))):
            code, out, err = session.upstream(*args)
            session.upstream_cli[key] = (code, out + err)
        session.daemon = node.spawn("glustereventsd", OUR_DAEMON)
        wait_until(lambda: "glustereventsd started" in session.daemon_log() or not session.daemon.alive(), 20,
                   "our daemon to start")
        return session
    except BaseException:
        node.close()
        raise


def run_commands(session: Session, brick: str) -> None:
    """Each command of COMMANDS, its datagrams recorded in its step."""
    for label, args in COMMANDS:
        argv = [arg.format(brick=brick) for arg in args]
        before = len(session.captured())
        done = session.node.gluster(*argv)
        step = Step(label, argv, done.returncode, done.stdout + done.stderr)
        step.datagrams = _settle(session, before)
        session.steps.append(step)


def measured(session: Session) -> dict[str, list[str]]:
    """Event names per command, as measured: the figures the report quotes."""
    import eventtypes

    names = eventtypes.names_for("3.10")
    table: dict[str, list[str]] = {}
    for step in session.steps:
        found = []
        for datagram in step.datagrams:
            fields = datagram.data.strip().split(b" ", 2)
            found.append(names[int(fields[1])] if len(fields) > 1 and fields[1].isdigit() else repr(datagram.data))
        table[step.label] = found
    return table


def our_cli_path() -> str:
    return f"{BIN}/gluster-eventsapi"
