"""Where every file of the Events API lives.

All locations come from one call, ``resolve_paths(environ)``, never from import-time
globals. Setting ``GLUSTER_EVENTS_ROOT`` re-roots every default path under that folder, so a
non-root user with no Gluster installed can run the daemon and the CLI.

Otherwise, on a Gluster node, the glusterd working directory (webhooks, config, node id) is
the one glusterd reports with ``gluster system:: getwd``, as Gluster's own Events API finds
it. When glusterd does not answer (not started yet), the ``working-directory`` option of
``/etc/glusterfs/glusterd.vol``, which glusterd itself reads; else ``/var/lib/glusterd``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "GLUSTER_EVENTS_ROOT"
DEFAULT_WORKDIR = "/var/lib/glusterd"
DEFAULT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
GETWD_TIMEOUT_SECS = 5.0  # glusterd answers in ~0.1 s; a hung glusterd must not hang us
GLUSTERD_VOLFILE = "/etc/glusterfs/glusterd.vol"


@dataclass(frozen=True)
class Paths:
    """Every file and folder the daemon and the CLI read or write."""

    root: Path
    defaults_file: Path  # shipped defaults: etc/glusterfs/eventsconfig.json
    glusterd_workdir: Path  # /var/lib/glusterd
    events_dir: Path  # <workdir>/events: cluster-wide files, synced to every peer
    webhooks_file: Path
    config_file: Path
    peers_file: Path  # pool members when there is no `gluster` command
    glusterd_info: Path  # UUID=... of this node, written by glusterd
    state_dir: Path  # this node's own state: spool, generated node id
    event_log: Path
    daemon_log: Path
    pid_file: Path
    runtime_pid_file: Path  # where the systemd unit's RuntimeDirectory= puts the pid file

    @property
    def node_id_file(self) -> Path:
        """The node id generated when there is no glusterd.info."""
        return self.state_dir / "node-id"

    @property
    def spool_file(self) -> Path:
        """The SQLite database that holds every undelivered event."""
        return self.state_dir / "spool.sqlite3"

    @property
    def runtime_status_file(self) -> Path:
        """The running daemon's status (see ``runstate``), next to the systemd pid file."""
        return self.runtime_pid_file.parent / "status.json"

    def pid_files(self) -> tuple[Path, ...]:
        """Pid files a running daemon may hold, most specific first."""
        return (self.pid_file, self.runtime_pid_file)


def configured_workdir(volfile: str | None = None) -> str:
    """The ``option working-directory`` of glusterd's volfile, or ``/var/lib/glusterd``."""
    try:
        with open(volfile or GLUSTERD_VOLFILE, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                words = line.split()
                if len(words) == 3 and words[:2] == ["option", "working-directory"] and words[2].startswith("/"):
                    return words[2]
    except OSError:
        pass
    return DEFAULT_WORKDIR


@functools.lru_cache(maxsize=8)
def glusterd_workdir(gluster: str | None) -> str:
    """The working directory glusterd reports (``gluster system:: getwd``), once per process.

    ``gluster`` is the command's path (None: not installed: ``/var/lib/glusterd``). When
    glusterd does not answer in time, its volfile's setting (``configured_workdir``).
    """
    if gluster is None:
        return DEFAULT_WORKDIR
    try:
        done = subprocess.run([gluster, "--mode=script", "system::", "getwd"], capture_output=True,
                              stdin=subprocess.DEVNULL, timeout=GETWD_TIMEOUT_SECS, check=False)
    except (OSError, subprocess.SubprocessError):
        return configured_workdir()
    answer = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 or not answer.startswith("/") or "\n" in answer:
        return configured_workdir()
    return answer


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    """Build the ``Paths`` of this process from its environment."""
    env = os.environ if environ is None else environ
    rooted = bool(env.get(ROOT_ENV))
    root = Path(env.get(ROOT_ENV) or "/").resolve()

    def under(absolute: str) -> Path:
        return root / absolute.lstrip("/")

    if rooted:
        workdir = under(DEFAULT_WORKDIR)
    else:
        workdir = Path(glusterd_workdir(shutil.which("gluster", path=env.get("PATH") or DEFAULT_PATH)))
    events_dir = workdir / "events"
    return Paths(
        root=root,
        defaults_file=under("/etc/glusterfs/eventsconfig.json"),
        glusterd_workdir=workdir,
        events_dir=events_dir,
        webhooks_file=events_dir / "webhooks.json",
        config_file=events_dir / "config.json",
        peers_file=events_dir / "peers.json",
        glusterd_info=workdir / "glusterd.info",
        state_dir=under("/var/lib/glustereventsd"),
        event_log=under("/var/log/glusterfs/events.log"),
        daemon_log=under("/var/log/glusterfs/glustereventsd.log"),
        pid_file=under("/var/run/glustereventsd.pid"),
        runtime_pid_file=under("/run/glustereventsd/glustereventsd.pid"),
    )
