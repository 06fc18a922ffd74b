"""Gluster's own glustereventsd, run from the distribution's package as an external program.

Used as the oracle by the tests (tests/gluster) and as the baseline by the comparison
benchmark (bench/upstream_bench.py). Nothing of it is copied: ``/usr/sbin/glustereventsd``
runs as it is, with the system's ``/usr/bin/python3``.

It reads fixed paths (``/etc/glusterfs/eventsconfig.json``, the glusterd workdir's
``events/webhooks.json`` and ``glusterd.info``), asks glusterd for that workdir (``gluster
system:: getwd``, over ``/run/glusterd.socket``) and writes ``/var/log/glusterfs``. So it
runs in private mount and PID namespaces (``unshare``, root), where those paths and ``/run``
are bind mounts of a folder of its own: the host's files are never read or touched, a
glusterd running on the host is never asked (its socket is not there: the workdir is then
the default, the folder's), its port is the one given, and when the namespace's PID 1 ends,
the kernel ends its webhook process as well. ``/etc/glusterfs`` is the package's as shipped
(tests/glusterpkg.py), with the eventsconfig.json the caller asks for.
It stays in the host's network namespace, so it receives on loopback like any daemon.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

UPSTREAM_DAEMON = "/usr/sbin/glustereventsd"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MOUNTS = (("etc", "/etc/glusterfs"), ("glusterd", "/var/lib/glusterd"), ("log", "/var/log/glusterfs"),
          ("run", "/run"))


def available() -> str | None:
    """None when upstream's daemon can run here, else why not."""
    if os.geteuid() != 0:
        return "running Gluster's own daemon in private namespaces needs root"
    if not os.path.exists(UPSTREAM_DAEMON):
        return f"{UPSTREAM_DAEMON} is missing: install glusterfs-server (bash .ci/run does)"
    for _, target in MOUNTS:
        if not os.path.isdir(target):
            return f"{target} is missing: install glusterfs-server (bash .ci/run does)"
    return None


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return []


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for child in _children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def _cpu_secs(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _udp_ports_bound() -> set[tuple[str, int]]:
    """(family, port) of every UDP socket bound on this host's network namespace."""
    bound = set()
    for family, table in (("v4", "/proc/net/udp"), ("v6", "/proc/net/udp6")):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local = line.split()[1]
            bound.add((family, int(local.rsplit(":", 1)[1], 16)))
    return bound


class UpstreamDaemon:
    """``/usr/sbin/glustereventsd`` on ``port``, with ``webhooks`` and node id ``nodeid``.

    ``folder`` receives its files: ``etc/`` (eventsconfig.json), ``glusterd/`` (glusterd.info,
    events/), ``log/`` (events.log, the CLI log of its ``gluster system:: getwd``), ``run/``.
    """

    def __init__(self, folder: Path, port: int, webhooks: dict[str, object], nodeid: str,
                 config: dict[str, object] | None = None) -> None:
        self.folder = folder
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        etc, glusterd, log, run = (folder / name for name, _ in MOUNTS)
        from tests.glusterpkg import install_package_files

        install_package_files(etc=etc)  # the package's files, never the host's
        (etc / "eventsconfig.json").write_text(json.dumps(
            {"log-level": "INFO", "port": port, "disable-events-log": False, **(config or {})}))
        (glusterd / "events").mkdir(parents=True)
        (glusterd / "glusterd.info").write_text(f"UUID={nodeid}\noperating-version=100000\n")
        (glusterd / "events/webhooks.json").write_text(json.dumps(webhooks))
        log.mkdir()
        run.mkdir(mode=0o755)

    @property
    def events_log(self) -> Path:
        return self.folder / "log/events.log"

    def start(self, timeout: float = 30) -> UpstreamDaemon:
        """Start it and wait until both its UDP sockets (0.0.0.0 and ::1) are bound."""
        binds = " && ".join(f"mount --bind {self.folder / name} {target}" for name, target in MOUNTS)
        script = f"{binds} && exec {UPSTREAM_DAEMON} --pid-file {self.folder / 'glustereventsd.pid'}"
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
        with open(self.folder / "daemon.out", "ab") as out:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
                 "/bin/sh", "-c", script],
                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not {("v4", self.port), ("v6", self.port)} <= _udp_ports_bound():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                output = (self.folder / "daemon.out").read_text(errors="replace")
                self.stop()
                raise RuntimeError(f"Gluster's own glustereventsd did not start on port {self.port}: "
                                   f"{output[-2000:]}")
            time.sleep(0.05)
        time.sleep(0.2)  # its webhook process was started before the sockets: let it import requests
        return self

    def cpu(self) -> float:
        """CPU seconds (user + system) of every process of the daemon: the receiver and its webhook process."""
        if self.proc is None:
            return 0.0
        return sum(_cpu_secs(pid) for pid in _descendants(self.proc.pid))

    def stop(self) -> None:
        """Kill the namespace's PID 1 (the daemon): the kernel kills its webhook process with it."""
        if self.proc is None:
            return
        for pid in _children(self.proc.pid):  # PID 1 ignores signals it has no handler for, not SIGKILL
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
