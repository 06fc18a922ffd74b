"""The pool commands: status, reload and sync of every node's daemon, and the peers file.

``status``, ``reload``, ``sync``, ``conditions`` and ``condition-clear`` fan out to every node (``pool.run``); ``peer-add``,
``peer-del`` and ``peer-list`` read and change this node's peers file, the list of nodes
used where Gluster's own ``gluster pool list`` is not available.
"""

from __future__ import annotations

import argparse
from typing import Any

from gluster_eventsapi.context import Context
from gluster_eventsapi.errors import CliError
from gluster_eventsapi.files import hooks, store
from gluster_eventsapi.pool import peers
from gluster_eventsapi.pool.run import on_pool, sync_pool
from gluster_eventsapi.pool.conditions import clear_pool, parse_selection, pool_conditions
from gluster_eventsapi.results import ConditionsReport, Message, NodeTable, PeerRows, StatusReport


def cmd_status(args: argparse.Namespace, ctx: Context) -> StatusReport:
    """Registered webhooks and, per node, whether glustereventsd runs."""
    webhooks = store.read_webhooks(ctx.get_paths())
    rows = on_pool(ctx, "node-status", {})
    return StatusReport(tuple(webhooks), tuple(rows), hooks.insecure_urls(webhooks), hooks.formats(webhooks))


def cmd_conditions(args: argparse.Namespace, ctx: Context) -> ConditionsReport:
    """Every condition open across the pool: which, since when, reported by which nodes."""
    return pool_conditions(ctx, include_over=bool(getattr(args, "all", False)))


def cmd_condition_clear(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Close chosen open conditions on every node, for a node that missed their closing event."""
    return clear_pool(ctx, parse_selection(args.condition))


def cmd_reload(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Ask every node's daemon to re-read its files."""
    return NodeTable("RELOAD STATUS", tuple(on_pool(ctx, "node-reload", {})))


def cmd_sync(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Copy this node's webhooks.json and config.json to every peer and reload all daemons."""
    return sync_pool(ctx)


def _gluster_note(ctx: Context) -> str:
    if peers.find_gluster(ctx.environ):
        return (" (note: 'gluster' is installed, so the pool comes from 'gluster pool list' "
                "and this file is not used)")
    return ""


def cmd_peer_add(args: argparse.Namespace, ctx: Context) -> Message:
    """Add a node to this node's peers file."""
    paths = ctx.get_paths()
    host = peers.check_host(args.host)
    entry = {key: value for key, value in (("ssh-user", args.ssh_user),
                                           ("ssh-port", args.ssh_port),
                                           ("ssh-identity", args.ssh_identity))
             if value not in (None, "")}
    peers.peer_from_entry(host, entry, paths.peers_file)

    def add(data: dict[str, Any]) -> None:
        if host in data:
            raise CliError(f"Peer {host} already exists in {paths.peers_file} (to change "
                           f"its SSH options: 'gluster-eventsapi peer-del {host}', then "
                           "peer-add again)")
        data[host] = entry

    peers.modify_peers_file(paths, add)
    text = (f"Peer {host} added. Run 'gluster-eventsapi sync' to copy the files to it."
            + _gluster_note(ctx))
    return Message(text, {"host": host, **entry})


def cmd_peer_del(args: argparse.Namespace, ctx: Context) -> Message:
    """Remove a node from this node's peers file."""
    paths = ctx.get_paths()
    host = args.host.strip()

    def delete(data: dict[str, Any]) -> None:
        if host not in data:
            raise CliError(f"Peer {host} does not exist in {paths.peers_file} (see "
                           "'gluster-eventsapi peer-list' for the names as added)")
        del data[host]

    peers.modify_peers_file(paths, delete)
    return Message(f"Peer {host} removed." + _gluster_note(ctx), {"host": host})


def cmd_peer_list(args: argparse.Namespace, ctx: Context) -> PeerRows:
    """The peers this node fans out to (without itself)."""
    paths = ctx.get_paths()
    pool = peers.pool(paths, ctx.environ)
    source = ("gluster pool list" if peers.find_gluster(ctx.environ) else str(paths.peers_file))
    rows = tuple({"node": p.name, "connected": p.connected, "ssh-user": p.user or "",
                  "ssh-port": p.port or "", "ssh-identity": p.identity or ""}
                 for p in pool if not p.local)
    return PeerRows(rows, source)
