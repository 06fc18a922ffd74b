"""Fixtures of the CLI tests: real sshd nodes on 127.0.0.x, real daemons, real receivers.

Session scope starts the sshd processes once (node1..node3 on 127.0.0.1..3, and "nocli" on
127.0.0.4 where gluster-eventsapi is not installed); every test gets fresh node folders.
``node1`` is where the CLI runs (in-process through ``main(argv, ctx)``, or as a process).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gluster_eventsapi.__main__ import main
from gluster_eventsapi.context import Context
from tests.cli.sshpool import REPO, SshKeys, SshNode, write_ssh_config
from tests.helpers import DaemonProcess, free_udp_port

NODES = {"node1": "127.0.0.1", "node2": "127.0.0.2", "node3": "127.0.0.3", "nocli": "127.0.0.4"}
# Each node runs "its own installed" CLI: $GLUSTER_EVENTS_ROOT/usr/bin/gluster-eventsapi.
REMOTE_COMMAND = '"$GLUSTER_EVENTS_ROOT"/usr/bin/gluster-eventsapi'
SHIPPED_DEFAULTS = json.loads((REPO / "etc/eventsconfig.json").read_text())


@dataclass
class Run:
    """One CLI run: exit status and what it printed."""

    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Tarpit:
    """A TCP listener that accepts and never speaks: ssh waits for a banner until ConnectTimeout."""

    def __init__(self, address: str = "127.0.0.9") -> None:
        self.sock = socket.socket()
        self.sock.bind((address, 0))
        self.sock.listen(64)
        self.address, self.port = self.sock.getsockname()
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        for conn in self.held:
            conn.close()
        self.sock.close()


@dataclass
class Cluster:
    """The session's sshd nodes, their keys and the ssh_config that names them."""

    base: Path
    keys: SshKeys
    nodes: dict[str, SshNode]
    ssh_config: Path


@dataclass
class Pool:
    """The nodes of one test, with fresh folders, and ways to run the CLI on them."""

    cluster: Cluster
    tmp: Path
    daemons: dict[str, DaemonProcess] = field(default_factory=dict)
    extra_path: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def node(self, name: str) -> SshNode:
        return self.cluster.nodes[name]

    def root(self, name: str) -> Path:
        return self.node(name).root

    def events_dir(self, name: str) -> Path:
        return self.root(name) / "var/lib/glusterd/events"

    def webhooks(self, name: str) -> dict[str, Any]:
        path = self.events_dir(name) / "webhooks.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def file_bytes(self, name: str, file: str) -> bytes | None:
        path = self.events_dir(name) / file
        return path.read_bytes() if path.exists() else None

    def set_peers(self, *names: str, on: str = "node1") -> None:
        """Write the peers file of ``on`` (the CLI node) listing ``names``."""
        path = self.events_dir(on) / "peers.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({name: {} for name in names}))

    def environ(self, name: str = "node1") -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "GLUSTER_EVENTS_ROOT"}
        env["GLUSTER_EVENTS_ROOT"] = str(self.root(name))
        env["PATH"] = ":".join(self.extra_path + ["/usr/bin", "/bin"])
        env.update(self.extra_env)
        return env

    def cli(self, *argv: str, stdin: str = "", on: str = "node1") -> Run:
        """Run ``gluster-eventsapi argv`` in this process as if on node ``on``."""
        out, err = io.StringIO(), io.StringIO()
        ctx = Context(environ=self.environ(on), stdin=io.StringIO(stdin), stdout=out, stderr=err)
        status = main(list(argv), ctx)
        return Run(status, out.getvalue(), err.getvalue())

    def cli_process(self, *argv: str, stdin: str = "", on: str = "node1",
                    timeout: float = 60) -> Run:
        """Run ``gluster-eventsapi argv`` as its own process."""
        done = subprocess.run([sys.executable, "-m", "gluster_eventsapi", *argv],
                              input=stdin.encode(), capture_output=True, timeout=timeout,
                              env=self.environ(on), cwd=self.tmp)
        return Run(done.returncode, done.stdout.decode(), done.stderr.decode())

    def start_daemon(self, name: str) -> DaemonProcess:
        process = DaemonProcess(self.root(name), free_udp_port(), listen=("127.0.0.1",))
        self.daemons[name] = process
        return process.start()

    def stop_daemons(self) -> None:
        for process in self.daemons.values():
            process.stop()
        self.daemons.clear()


def local_cli(root: Path, shipped_defaults: bool) -> Any:
    """A one-node pool (empty peers file) under ``root``, the CLI run in-process.

    Returns ``run(*argv, stdin="") -> (status, out, err)`` with ``run.root`` and
    ``run.events``. ``shipped_defaults`` writes etc/glusterfs/eventsconfig.json as a package does.
    """
    events = root / "var/lib/glusterd/events"
    events.mkdir(parents=True)
    (events / "peers.json").write_text("{}")
    if shipped_defaults:
        (root / "etc/glusterfs").mkdir(parents=True)
        (root / "etc/glusterfs/eventsconfig.json").write_text(
            '{"log-level": "INFO", "port": 24009, "disable-events-log": false}')

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        ctx = Context(environ={"GLUSTER_EVENTS_ROOT": str(root), "PATH": "/nonexistent"},
                      stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return main(list(argv), ctx), out.getvalue(), err.getvalue()

    run.root = root  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    return run


def _fresh_root(node: SshNode, defaults: dict[str, Any]) -> None:
    if node.root.exists():
        shutil.rmtree(node.root)
    etc = node.root / "etc/glusterfs"
    etc.mkdir(parents=True)
    (etc / "eventsconfig.json").write_text(json.dumps(defaults, indent=4))
    if node.with_cli:
        bin_dir = node.root / "usr/bin"
        bin_dir.mkdir(parents=True)
        wrapper = bin_dir / "gluster-eventsapi"
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m gluster_eventsapi "$@"\n')
        wrapper.chmod(0o755)


def cli_defaults(cluster: Cluster, **extra: Any) -> dict[str, Any]:
    """The CLI node's shipped defaults plus the SSH settings that reach the test nodes."""
    return {**SHIPPED_DEFAULTS, "ssh-config": str(cluster.ssh_config),
            "ssh-remote-command": REMOTE_COMMAND, "ssh-host-key-checking": "yes",
            "ssh-connect-timeout-secs": 3, "ssh-command-timeout-secs": 20, **extra}


def _broken_hosts(base: Path, target: SshNode, keys: SshKeys) -> list[str]:
    """ssh_config hosts that reach node2's sshd the wrong way: unknown key, unknown host key."""
    stranger = base / "keys/stranger_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)
    empty_known = base / "keys/empty_known_hosts"
    empty_known.write_text("")
    common = [f"    HostName {target.address}", f"    Port {target.port}", "    User root",
              "    IdentitiesOnly yes", "    LogLevel ERROR"]
    return [
        "\n".join(["Host badkey", *common, f"    IdentityFile {stranger}",
                   f"    UserKnownHostsFile {keys.known_hosts}", ""]),
        "\n".join(["Host badhostkey", *common, f"    IdentityFile {keys.client_key}",
                   f"    UserKnownHostsFile {empty_known}", ""]),
    ]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if not shutil.which("sshd") and not Path("/usr/sbin/sshd").exists():
        pytest.skip("openssh-server is not installed (apt-get install -y openssh-server)")
    base = tmp_path_factory.mktemp("sshpool")
    keys = SshKeys.create(base / "keys")
    nodes = {name: SshNode(name, address, base / name, keys, with_cli=name != "nocli")
             for name, address in NODES.items()}
    try:
        for node in nodes.values():
            node.start()
        config = write_ssh_config(base / "ssh_config", list(nodes.values()), keys,
                                  _broken_hosts(base, nodes["node2"], keys))
        yield Cluster(base, keys, nodes, config)
    finally:
        for node in nodes.values():
            node.stop()


@pytest.fixture
def pool(cluster: Cluster, tmp_path: Path) -> Iterator[Pool]:
    """Fresh folders on every node; node1's peers file lists node2 and node3."""
    for name, node in cluster.nodes.items():
        if node.process is None:  # a test stopped it
            node.start()
        _fresh_root(node, cli_defaults(cluster) if name == "node1" else SHIPPED_DEFAULTS)
    made = Pool(cluster, tmp_path)
    made.set_peers("node2", "node3")
    yield made
    made.stop_daemons()
