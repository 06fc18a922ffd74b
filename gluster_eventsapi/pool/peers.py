"""Who is in the pool: ``gluster pool list --xml`` on a Gluster node, else the peers file.

The local node is always first and named ``localhost``. The peers file (``peers.json`` in
the events directory) is this node's own list of the other nodes and how to reach them:
``{"node2": {}, "node3": {"ssh-user": "admin", "ssh-port": 2222, "ssh-identity": "/k"}}``.
"""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from glustereventsd.config.options import ConfigError, int_between, to_text
from glustereventsd.base.paths import Paths

from gluster_eventsapi.files import store
from gluster_eventsapi.errors import CliError, ExitStatus
from gluster_eventsapi.pool.fanout import LOCAL_NAME, Peer

GLUSTER_TIMEOUT_SECS = 30
# "peers-file": take the pool from the peers file even where a `gluster` command exists (a
# client or monitoring host with only the gluster CLI, a GLUSTER_EVENTS_ROOT demo tree).
POOL_ENV = "GLUSTER_EVENTS_POOL"
POOL_SOURCES = ("auto", "peers-file")
PEER_KEYS = {"ssh-user": to_text, "ssh-port": int_between(1, 65535), "ssh-identity": to_text}


def local_peer() -> Peer:
    """The node the CLI runs on."""
    return Peer(name=LOCAL_NAME, local=True)


def check_host(host: str) -> str:
    """Validate a peer host name as given to ``peer-add``."""
    host = host.strip()
    if not host or host.startswith("-") or any(c.isspace() for c in host) or not host.isprintable():
        raise CliError(f"invalid peer host {host!r}: give a host name or address", ExitStatus.ERROR)
    if host == LOCAL_NAME:
        raise CliError("the local node is always part of the pool; do not add it",
                       ExitStatus.ERROR)
    return host


def peer_from_entry(host: str, entry: object, path: Path) -> Peer:
    """One peers.json entry as a ``Peer``; raise CliError naming the file when it is bad."""
    try:
        check_host(host)
    except CliError as err:
        raise CliError(f"{path}: {err.message}; fix the file or remove the entry", ExitStatus.ERROR) from None
    if not isinstance(entry, dict):
        raise CliError(f"{path}: entry for {host!r} must be an object", ExitStatus.ERROR)
    fields: dict[str, Any] = {}
    for key, value in entry.items():
        if key not in PEER_KEYS or value in (None, ""):
            continue
        try:
            fields[key] = PEER_KEYS[key](value)
        except ConfigError as err:
            raise CliError(f"{path}: {key} of {host!r} {err}", ExitStatus.ERROR) from None
    return Peer(name=host, host=host, user=fields.get("ssh-user"), port=fields.get("ssh-port"),
                identity=fields.get("ssh-identity"))


def read_peers_file(paths: Paths) -> dict[str, Any]:
    """The raw peers.json object (host -> options), checked."""
    data = store.read_object(paths.peers_file)
    for host, entry in data.items():
        peer_from_entry(host, entry, paths.peers_file)
    return data


def modify_peers_file(paths: Paths, change: Any) -> dict[str, Any]:
    """Change peers.json under its lock and replace it atomically."""
    with store.file_lock(paths.peers_file):
        data = read_peers_file(paths)
        change(data)
        store.write_object(paths.peers_file, data)
    return data


def parse_pool_xml(text: str) -> list[Peer]:
    """Peers from ``gluster --mode=script pool list --xml``; the local row comes first."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as err:
        raise CliError(f"cannot parse 'gluster pool list --xml' output: {err}") from None
    op_ret = (root.findtext("opRet") or "0").strip()
    if op_ret != "0":
        reason = (root.findtext("opErrstr") or "").strip() or f"opRet {op_ret}"
        raise CliError(f"'gluster pool list' failed: {reason}")
    local: list[Peer] = []
    others: list[Peer] = []
    for item in root.iter("peer"):
        hostname = (item.findtext("hostname") or "").strip()
        connected = (item.findtext("connected") or "0").strip() == "1"
        if hostname == LOCAL_NAME:
            local.append(local_peer())
        elif hostname:
            others.append(Peer(name=hostname, host=hostname, connected=connected))
    return (local or [local_peer()]) + others


class PoolUnavailable(CliError):
    """glusterd could not say which nodes are in the pool (down, hung, or no ``gluster``)."""


def gluster_pool(gluster: str) -> list[Peer]:
    """Ask glusterd for the pool."""
    argv = [gluster, "--mode=script", "pool", "list", "--xml"]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=GLUSTER_TIMEOUT_SECS, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise PoolUnavailable(f"'gluster pool list' did not answer within {GLUSTER_TIMEOUT_SECS}s "
                       "(is glusterd running?)") from None
    except OSError as err:
        raise PoolUnavailable(f"cannot run {gluster}: {err.strerror or err}") from None
    out = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 and not out.startswith("<"):
        # glusterd down: gluster 10 prints "Connection failed. Please check if gluster daemon
        # is operational." on stdout, not XML, and exits 1.
        reason = (out or done.stderr.decode("utf-8", "replace").strip()
                  or f"exit status {done.returncode}")
        raise PoolUnavailable(f"'gluster pool list' failed: {reason} (is glusterd running? "
                       f"To use the peers file instead, set {POOL_ENV}=peers-file)")
    return parse_pool_xml(out)


GLUSTER_CLI_ENV = "GLUSTER_CLI"


def find_gluster(environ: Mapping[str, str], rooted: bool = False) -> str | None:
    """The ``gluster`` command to ask for the pool, or None for the peers file.

    ``$GLUSTER_EVENTS_POOL=peers-file`` always takes the peers file; ``$GLUSTER_CLI`` names
    the command explicitly; otherwise it is looked up on PATH, except for a node kept under
    GLUSTER_EVENTS_ROOT (``rooted``), whose pool is its peers file.
    """
    source = environ.get(POOL_ENV, "").strip() or "auto"
    if source not in POOL_SOURCES:
        raise CliError(f"{POOL_ENV}={source!r}: must be one of {', '.join(POOL_SOURCES)} "
                       "(auto: 'gluster pool list' where gluster is installed, else the peers file)")
    if source == "peers-file":
        return None
    explicit = environ.get(GLUSTER_CLI_ENV, "").strip()
    if explicit:
        return explicit
    if rooted:
        return None
    return shutil.which("gluster", path=environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"))


def pool(paths: Paths, environ: Mapping[str, str]) -> list[Peer]:
    """Every node of the pool, the local node first.

    Under GLUSTER_EVENTS_ROOT (a node kept in a folder, as the demo and the tests run it)
    the pool is the peers file even where Gluster is installed: this machine's glusterd
    knows nothing of that folder's pool (unless $GLUSTER_CLI says which gluster to ask).
    """
    gluster = find_gluster(environ, rooted=paths.root != Path("/"))
    if gluster:
        return gluster_pool(gluster)
    data = read_peers_file(paths)
    return [local_peer()] + [peer_from_entry(h, e, paths.peers_file) for h, e in data.items()]
