"""A throw-away machine for the init script tests: the init scripts run for real, as root,
against the real daemon, with the default paths, and nothing of this machine is touched.

It is a network namespace ``i11pool-<pid>-init`` (its own ports: the daemon listens on the
distribution's port on every address, as installed) and a private mount namespace with
overlays on /etc and /var/lib and private /run and /var/log/glusterfs. /run being private
also hides /run/systemd, so ``service`` runs the init script instead of asking systemd (and
a glusterd of the machine: its socket). /etc/glusterfs and /var/lib/glusterd are the
package's files as shipped (tests/glusterpkg.py) and /var/lib/glustereventsd is empty, so
nothing of a machine that is itself a Gluster node is seen.
"""

from __future__ import annotations

import json
import os
import socket
import sysconfig
import threading
import time
from pathlib import Path
from typing import Any

from tests.glusterpkg import install_package_files
from tests.helpers import Receiver, wait_for
from tests.namespaces import Holder, delete_netns, ip, run_in_netns
from tests.realpool.harness import PREFIX, remove_stale_namespaces

DAEMON = str(Path(sysconfig.get_path("scripts")) / "glustereventsd")
PATH = ":".join([sysconfig.get_path("scripts"), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                 "/usr/bin", "/sbin", "/bin"])


def is_live(pid: int) -> bool:
    """True while any thread of ``pid`` exists and is not a zombie.

    A killed multi-threaded process's main thread can be a zombie while its other threads
    are still exiting, and they share its open files: its locks go only with the last one.
    """
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[-1].split()[0] != "Z":
            return True
    return False


class InitMachine:
    """Namespaces, folders and helpers; ``close`` stops everything started inside by pid."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.netns = f"{PREFIX}-{os.getpid()}-init"
        remove_stale_namespaces()
        for sub in ("etc.upper", "etc.work", "var-lib.upper", "var-lib.work", "run", "log", "state"):
            (base / sub).mkdir(parents=True)
        # Gluster's files as the package ships them, never a Gluster host's own.
        install_package_files(base / "etc-glusterfs", base / "glusterd")
        ip("netns", "add", self.netns)
        self.holder: Holder | None = None
        self.receiver: Receiver | None = None
        try:
            ip("link", "set", "lo", "up", netns=self.netns)
            self.holder = Holder(netns=self.netns)
            self.holder.sh(f"""
                mount -t overlay {PREFIX}-etc -o lowerdir=/etc,upperdir={base}/etc.upper,workdir={base}/etc.work /etc
                mount -t overlay {PREFIX}-var-lib -o lowerdir=/var/lib,upperdir={base}/var-lib.upper,workdir={base}/var-lib.work /var/lib
                mount --bind {base}/run /run
                mount --bind {base}/log /var/log/glusterfs
                mount --bind {base}/etc-glusterfs /etc/glusterfs
                mount --bind {base}/glusterd /var/lib/glusterd
                mkdir -p /var/lib/glustereventsd
                mount --bind {base}/state /var/lib/glustereventsd
                mkdir -p /var/lib/glusterd/events
            """)
            self.check_private()
            self.receiver = run_in_netns(self.netns, lambda: Receiver("127.0.0.1"))
        except BaseException:
            self.close()
            raise

    def check_private(self) -> None:
        """Fail unless /run, /var/log/glusterfs and Gluster's and our state inside are this machine's folders."""
        private = {"/run": "run", "/var/log/glusterfs": "log", "/etc/glusterfs": "etc-glusterfs",
                   "/var/lib/glusterd": "glusterd", "/var/lib/glustereventsd": "state"}
        seen = self.run("stat", "-L", "-c", "%d:%i", *private)[1].split()
        wanted = [f"{os.stat(self.base / p).st_dev}:{os.stat(self.base / p).st_ino}" for p in private.values()]
        assert seen == wanted, "the init machine does not see its private mounts"
        assert self.run("stat", "-f", "-c", "%T", "/etc")[1].strip() == "overlayfs"

    # -- running commands inside ---------------------------------------------------------------
    def run(self, *argv: str, timeout: float = 90) -> tuple[int, str]:
        """Run ``argv`` inside as root with a plain root environment; (status, stdout+stderr)."""
        assert self.holder is not None
        env = {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
        done = self.holder.run(list(argv), timeout=timeout, check=False, env=env)
        return done.returncode, done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")

    def write(self, path: str, text: str, mode: int = 0o644) -> None:
        """Write a file inside (through its overlays)."""
        assert self.holder is not None
        self.holder.run(["sh", "-c", f'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod {mode:o} "$1"',
                         "sh", path], input=text.encode())

    def read(self, path: str) -> str | None:
        status, out = self.run("sh", "-c", 'cat "$1" 2>/dev/null || exit 9', "sh", path)
        return out if status == 0 else None

    def daemon_log(self) -> str:
        path = self.base / "log/glustereventsd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid_file(self) -> Path:
        """/var/run/glustereventsd.pid as seen from outside."""
        return self.base / "run/glustereventsd.pid"

    def daemon_pids(self) -> list[int]:
        """Processes inside that are our daemon (by command line).

        A child the daemon forks (a subprocess, between its fork and its exec) has the
        daemon's command line for a moment: it is part of that daemon, not a second one.
        """
        assert self.holder is not None
        found: dict[int, int] = {}
        for pid in self.holder.pids_inside():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            if any(part.endswith(b"glustereventsd") for part in cmdline[:2]):
                found[pid] = int(status.split("\nPPid:", 1)[1].split()[0])
        return [pid for pid, parent in found.items() if parent not in found]

    def register_webhook(self) -> str:
        assert self.receiver is not None
        url = f"http://127.0.0.1:{self.receiver.port}/listen"
        self.write("/var/lib/glusterd/events/webhooks.json", json.dumps({url: {"token": "", "secret": ""}}), 0o600)
        return url

    def sender(self) -> socket.socket:
        """A UDP socket in this machine's network namespace (usable from any thread)."""
        return run_in_netns(self.netns, lambda: socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))

    def close(self) -> list[int]:
        """Stop everything inside, delete the namespace; return pids that had to be stopped."""
        left: list[int] = []
        if self.receiver is not None:
            self.receiver.stop()
        if self.holder is not None:
            left = self.holder.pids_inside()
            self.holder.stop()
            assert not self.holder.pids_inside(), "processes left in the init machine"
        delete_netns(self.netns)
        return left


class Traffic:
    """``count`` datagrams ``<ts> 2 name=<prefix><i>`` to [::1]:port at ``rate`` per second."""

    def __init__(self, sock: socket.socket, port: int, count: int, rate: float, prefix: str) -> None:
        self.sock, self.port, self.count, self.rate, self.prefix = sock, port, count, rate, prefix
        self.sent = 0
        self.thread = threading.Thread(target=self._run, name="init-traffic", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        for i in range(self.count):
            pause = start + i / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.sock.sendto(f"{int(time.time())} 2 name={self.prefix}{i}".encode(), ("::1", self.port))
            self.sent = i + 1

    def names(self) -> set[str]:
        return {f"{self.prefix}{i}" for i in range(self.count)}

    def join(self, timeout: float = 120) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "traffic did not finish"


def delivered(receiver: Receiver, prefix: str) -> set[str]:
    """Names (``message.name``) of the accepted events that start with ``prefix``."""
    return {name for name in receiver.names() if name.startswith(prefix)}


def wait_delivered(receiver: Receiver, names: set[str], prefix: str, timeout: float = 60) -> Any:
    return wait_for(lambda: delivered(receiver, prefix) >= names, timeout=timeout,
                    what=f"all {len(names)} events named {prefix}*")
