"""CA bundles given with ``--ca-bundle``: kept in the events directory and synced to every node.

A webhook's ``ca-bundle`` may name any file, which must then exist at that path on every
node. When it is set with the CLI, the certificates are copied instead to
``<events dir>/ca/<first 16 hex digits of their sha256>.pem`` and the webhooks.json entry
records that name, relative to the events directory. ``sync`` sends those files along with
webhooks.json, so every node verifies the webhook's certificate with the same CAs; the
daemon resolves a relative ``ca-bundle`` against the folder of webhooks.json.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from glustereventsd.fsutil import atomic_write_bytes

from gluster_eventsapi.errors import CliError, ExitStatus

FOLDER = "ca"
MANAGED_NAME = re.compile(r"ca/[0-9a-f]{16}\.pem")
FILE_MODE = 0o644  # certificates are public; the folder is the events directory's


def read_bundle(path: Path) -> bytes:
    """The PEM certificates in ``path``; CliError naming the file when it cannot be used."""
    if not path.is_file():
        raise CliError(f"--ca-bundle: {path} does not exist or is not a file", ExitStatus.INVALID_CONFIG)
    try:
        pem = path.read_bytes()
    except OSError as err:
        raise CliError(f"--ca-bundle: cannot read {path}: {err.strerror or err}", ExitStatus.INVALID_CONFIG) from None
    problem = pem_problem(pem)
    if problem:
        raise CliError(f"--ca-bundle: cannot load CA certificates from {path}: {problem} "
                       "(it must hold PEM certificates)", ExitStatus.INVALID_CONFIG)
    return pem


def pem_problem(pem: bytes) -> str:
    """Why ``pem`` is not a usable CA bundle ("" when it is)."""
    import ssl  # here: node-status and the other per-node commands start faster without it

    try:
        ssl.create_default_context(cadata=pem.decode("ascii"))
    except UnicodeDecodeError:
        return "not PEM text"
    except (ssl.SSLError, ValueError) as err:
        return str(err)
    return ""


def install(events_dir: Path, pem: bytes) -> str:
    """Store ``pem`` among the managed bundles; return its name relative to ``events_dir``."""
    name = f"{FOLDER}/{hashlib.sha256(pem).hexdigest()[:16]}.pem"
    target = events_dir / name
    try:
        if not (target.is_file() and target.read_bytes() == pem):
            atomic_write_bytes(target, pem, FILE_MODE)
    except OSError as err:
        raise CliError(f"{target}: cannot write the CA bundle: {err.strerror or err}") from None
    return name


def install_received(events_dir: Path, name: str, text: str) -> None:
    """Write a bundle a peer sent with ``sync``, after checking its name and content."""
    if not MANAGED_NAME.fullmatch(name):
        raise CliError(f"received CA bundle name {name!r} is not of the form ca/<16 hex>.pem")
    pem = text.encode("ascii", "replace")
    problem = pem_problem(pem)
    if problem:
        raise CliError(f"received CA bundle {name} holds no usable certificates: {problem}")
    install(events_dir, pem)


def referenced(webhooks: Mapping[str, object]) -> set[str]:
    """The managed bundle names that the entries of a webhooks.json object use."""
    names = set()
    for entry in webhooks.values():
        value = entry.get("ca-bundle") if isinstance(entry, Mapping) else None
        if isinstance(value, str) and MANAGED_NAME.fullmatch(value):
            names.add(value)
    return names


def payload(events_dir: Path, webhooks: Mapping[str, object]) -> dict[str, str]:
    """{name: PEM text} of every managed bundle ``webhooks`` uses, to send with ``sync``."""
    found = {}
    for name in sorted(referenced(webhooks)):
        try:
            found[name] = (events_dir / name).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise CliError(f"{events_dir / name}: the CA bundle a webhook uses cannot be read "
                           f"({getattr(err, 'strerror', None) or err}); set it again with "
                           "'gluster-eventsapi webhook-mod URL --ca-bundle FILE'",
                           ExitStatus.WEBHOOKS_SYNC_FAILED) from None
    return found


def prune(events_dir: Path, keep: set[str]) -> None:
    """Remove managed bundles no webhook uses any more (best effort)."""
    folder = events_dir / FOLDER
    if not folder.is_dir():
        return
    for path in folder.glob("*.pem"):
        name = f"{FOLDER}/{path.name}"
        if MANAGED_NAME.fullmatch(name) and name not in keep:
            try:
                path.unlink()
            except OSError:
                pass
