"""Real OpenSSH servers on 127.0.0.x for the CLI tests and the CLI benchmark.

Each ``SshNode`` is one ``sshd`` process bound to its own loopback address, with key-only
authentication and ``SetEnv GLUSTER_EVENTS_ROOT=<its folder>``, so every node has its own
files. Nothing here is a mock: the CLI reaches these nodes with the real ``ssh`` client.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
REPO = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def free_port(address: str) -> int:
    """A TCP port free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def port_open(address: str, port: int) -> bool:
    """True when something accepts TCP connections on ``address:port``."""
    try:
        with socket.create_connection((address, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class SshKeys:
    """A host key shared by every test sshd and one client key they all accept."""

    folder: Path
    host_key: Path
    client_key: Path
    authorized_keys: Path
    known_hosts: Path

    @classmethod
    def create(cls, folder: Path) -> SshKeys:
        folder.mkdir(parents=True, exist_ok=True)
        host_key, client_key = folder / "host_ed25519", folder / "client_ed25519"
        for key in (host_key, client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True, timeout=30, stdin=subprocess.DEVNULL)
        authorized = folder / "authorized_keys"
        authorized.write_text(Path(f"{client_key}.pub").read_text())
        known = folder / "known_hosts"
        known.write_text("")
        return cls(folder, host_key, client_key, authorized, known)

    def host_public(self) -> str:
        """The host key as it appears in a known_hosts line (type and base64)."""
        return " ".join(Path(f"{self.host_key}.pub").read_text().split()[:2])


def cli_bin_dir() -> str:
    """The folder holding this interpreter's ``gluster-eventsapi`` console script."""
    return sysconfig.get_path("scripts")


@dataclass
class SshNode:
    """One simulated Gluster node: an sshd on its own 127.0.0.x with its own root folder."""

    name: str
    address: str
    folder: Path
    keys: SshKeys
    port: int = 0
    with_cli: bool = True  # False: gluster-eventsapi is not on the node's PATH
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def root(self) -> Path:
        """GLUSTER_EVENTS_ROOT of this node."""
        return self.folder / "root"

    def environ(self) -> dict[str, str]:
        """The environment of a CLI or daemon running on this node."""
        env = dict(os.environ)
        env["GLUSTER_EVENTS_ROOT"] = str(self.root)
        return env

    def write_config(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        path_dirs = ([cli_bin_dir()] if self.with_cli else []) + ["/usr/bin", "/bin"]
        config = self.folder / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {self.keys.host_key}",
            f"AuthorizedKeysFile {self.keys.authorized_keys}",
            f"PidFile {self.folder / 'sshd.pid'}",
            "UsePAM no",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "PermitRootLogin prohibit-password",
            "UseDNS no",
            "PrintMotd no",
            "MaxStartups 1000",
            "MaxSessions 100",
            "LogLevel ERROR",
            f"SetEnv GLUSTER_EVENTS_ROOT={self.root} PATH={':'.join(path_dirs)}",
            "",
        ]))
        return config

    def start(self, timeout: float = 10.0) -> None:
        """Start sshd in the foreground and wait until it accepts connections."""
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        if not self.port:
            self.port = free_port(self.address)
        config = self.write_config()
        log = open(self.folder / "sshd.log", "ab")
        try:
            self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        finally:
            log.close()
        wait_for(lambda: port_open(self.address, self.port) or self.process.poll() is not None,
                 timeout, what=f"sshd on {self.address}:{self.port}")
        if self.process.poll() is not None:
            raise RuntimeError(f"sshd for {self.name} exited: "
                               f"{(self.folder / 'sshd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop this node's sshd (and with it any session it still serves)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
        wait_for(lambda: not port_open(self.address, self.port), 5.0,
                 what=f"{self.address}:{self.port} to close")


def write_ssh_config(path: Path, nodes: list[SshNode], keys: SshKeys,
                     extra: list[str] | None = None) -> Path:
    """An ssh_config naming every node (``Host node2`` -> 127.0.0.2:port) and a known_hosts.

    ``extra``: more ``Host`` blocks appended as they are.
    """
    blocks, known = list(extra or []), []
    for node in nodes:
        blocks.append("\n".join([
            f"Host {node.name}",
            f"    HostName {node.address}",
            f"    Port {node.port}",
            "    User root",
            f"    IdentityFile {keys.client_key}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {keys.known_hosts}",
            "    LogLevel ERROR",
            "",
        ]))
        known.append(f"[{node.address}]:{node.port},[{node.name}]:{node.port} {keys.host_public()}")
    path.write_text("\n".join(blocks))
    keys.known_hosts.write_text("\n".join(known) + "\n")
    return path


def remote_python_command() -> str:
    """A remote command that runs this checkout's CLI with this interpreter."""
    return f"{sys.executable} -m gluster_eventsapi"
