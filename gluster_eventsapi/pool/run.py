"""Run a pool-wide command from this node: the SSH settings, the fan-out, the push of the files.

Binds ``fanout`` (SSH mechanics, which knows nothing of files or config) to one CLI run's
``Context``: the pool comes from ``peers``, the SSH options from the merged config, and the
local node answers in-process through ``node``. Pool-wide commands change this node's files
under their locks, then ``sync_pool`` pushes both cluster files to every peer and reloads
every daemon, and returns one row per node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glustereventsd.base.paths import Paths

from gluster_eventsapi.context import Context
from gluster_eventsapi.errors import CliError, ExitStatus
from gluster_eventsapi.files import store, tlsfiles
from gluster_eventsapi.pool import node, peers
from gluster_eventsapi.pool.fanout import Peer, SshSettings, run_on_pool
from gluster_eventsapi.results import NodeResult, NodeTable

# The local node already has the files it is pushing: it only reloads its daemon.
LOCAL_EQUIVALENT: Mapping[str, str] = {"node-sync": "node-reload"}


def ssh_settings(paths: Paths) -> SshSettings:
    """The ``ssh-*`` options of the merged config.

    User, port and identity are passed to ssh only when set in a config file, so that an
    ssh_config file (``ssh-config``) can decide them otherwise.
    """
    values, _ = store.merged_config(paths)
    explicit = store.keys_set_in(paths.defaults_file) | store.keys_set_in(paths.config_file)

    def chosen(name: str) -> Any:
        value = values[name]
        return value if name in explicit and value not in ("", None) else None

    return SshSettings(
        user=chosen("ssh-user"),
        port=chosen("ssh-port"),
        identity=chosen("ssh-identity"),
        config_file=str(values["ssh-config"]) or None,
        connect_timeout_secs=int(values["ssh-connect-timeout-secs"]),  # type: ignore[call-overload]
        command_timeout_secs=int(values["ssh-command-timeout-secs"]),  # type: ignore[call-overload]
        parallel=int(values["ssh-parallel"]),  # type: ignore[call-overload]
        host_key_checking=str(values["ssh-host-key-checking"]),
        remote_command=str(values["ssh-remote-command"]) or "gluster-eventsapi",
    )


def on_pool(ctx: Context, command: str, request: Mapping[str, object]) -> list[NodeResult]:
    """Run a node command on every node (the local one in-process) and collect the rows."""
    paths = ctx.get_paths()
    settings = ssh_settings(paths)
    pool: list[Peer] = peers.pool(paths, ctx.environ)

    def local(name: str, body: Mapping[str, object]) -> Mapping[str, object]:
        return node.handle(LOCAL_EQUIVALENT.get(name, name), body, paths, ctx.clock())

    return run_on_pool(pool, command, request, settings, ctx.get_runner(), local)


def sync_pool(ctx: Context, notes: tuple[str, ...] = ()) -> NodeTable:
    """Push webhooks.json and config.json to every peer and reload every daemon.

    Pushes from this node are serialised and read the files at push time, so when two
    commands run at once the last push carries the newest content.
    """
    paths = ctx.get_paths()
    with store.push_lock(paths):
        webhooks_text, webhooks = store.pushed_file(paths.webhooks_file, ExitStatus.WEBHOOKS_SYNC_FAILED)
        request = {
            "webhooks": webhooks_text,
            "config": store.file_text(paths.config_file, ExitStatus.CONFIG_SYNC_FAILED),
            "tls_files": tlsfiles.payload(paths.events_dir, webhooks),
        }
        try:
            rows = on_pool(ctx, "node-sync", request)
        except peers.PoolUnavailable as err:  # as Gluster's own CLI when glusterd is down: exit 8 or 9
            failed = ExitStatus.WEBHOOKS_SYNC_FAILED if webhooks_text is not None else ExitStatus.CONFIG_SYNC_FAILED
            raise CliError(err.message, failed) from None
        node.prune_bundles(paths)
    return NodeTable("SYNC STATUS", tuple(rows), notes)
