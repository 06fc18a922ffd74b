"""Where every file of the Events API lives.

All locations come from one call, ``resolve_paths(environ)``, never from import-time
globals. Setting ``GLUSTER_EVENTS_ROOT`` re-roots every default path under that folder, so a
non-root user with no Gluster installed can run the daemon and the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT_ENV = "GLUSTER_EVENTS_ROOT"


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


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    """Build the ``Paths`` of this process from its environment."""
    env = os.environ if environ is None else environ
    root = Path(env.get(ROOT_ENV) or "/").resolve()

    def under(absolute: str) -> Path:
        return root / absolute.lstrip("/")

    workdir = under("/var/lib/glusterd")
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
