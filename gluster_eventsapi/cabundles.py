"""CA bundles given with ``--ca-bundle``: kept in the events directory and synced to every node.

A webhook's ``ca-bundle`` may name any file, which must then exist at that path on every
node. When it is set with the CLI, the file is copied instead to
``<events dir>/ca/<first 16 hex digits of its sha256>.pem`` and the webhooks.json entry
records that name, relative to the events directory. ``sync`` sends those files (base64,
byte for byte) along with webhooks.json, so every node verifies the webhook's certificate
with the same CAs; the daemon resolves a relative ``ca-bundle`` against the events
directory. Copies are written and pruned under the webhooks.json lock, so a command that
is adding a bundle never sees it pruned by another's sync.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from glustereventsd import filereader
from glustereventsd.errors import ConfigFileError
from glustereventsd.fsutil import atomic_write_bytes

from gluster_eventsapi.errors import CliError, ExitStatus

FOLDER = "ca"
MANAGED_NAME = re.compile(r"ca/[0-9a-f]{16}\.pem")
FILE_MODE = 0o644  # certificates are public; the folder is the events directory's
BUNDLE_MAX_BYTES = filereader.PEM_DEFAULT.max_bytes  # a system bundle is about 200 KiB
PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)


def managed_name(pem: bytes) -> str:
    """The name, relative to the events directory, under which ``pem`` is kept."""
    return f"{FOLDER}/{hashlib.sha256(pem).hexdigest()[:16]}.pem"


def read_bundle(path: Path) -> bytes:
    """The bytes of a CA file; CliError naming the file when it cannot be used."""
    if not path.is_file():
        raise CliError(f"--ca-bundle: {path} does not exist or is not a file", ExitStatus.INVALID_CONFIG)
    try:
        pem = filereader.read_pem(path, BUNDLE_MAX_BYTES, "give a file of PEM CA certificates",
                                  require_block=False)  # pem_problem says what is missing
    except ConfigFileError as err:
        raise CliError(f"--ca-bundle: {err}", ExitStatus.INVALID_CONFIG) from None
    problem = pem_problem(pem)
    if problem:
        raise CliError(f"--ca-bundle: cannot load CA certificates from {path}: {problem} "
                       "(it must hold PEM certificates)", ExitStatus.INVALID_CONFIG)
    return pem


def pem_problem(pem: bytes) -> str:
    """Why ``pem`` is not a usable CA bundle ("" when it is).

    Only the certificate blocks are checked: comments around them (system bundles carry
    some, not always ASCII) are kept in the copy and ignored by OpenSSL.
    """
    import ssl  # here: node-status and the other per-node commands start faster without it

    blocks = PEM_CERTIFICATE.findall(pem)
    if not blocks:
        return "no -----BEGIN CERTIFICATE----- block found"
    try:
        ssl.create_default_context(cadata=b"\n".join(blocks).decode("ascii"))
    except UnicodeDecodeError:
        return "a certificate block holds non-ASCII bytes"
    except (ssl.SSLError, ValueError) as err:
        return str(err)
    return ""


class PendingBundles:
    """The bundles one command will store; written under the webhooks.json lock by ``install``."""

    def __init__(self, events_dir: Path) -> None:
        self.events_dir = events_dir
        self._pems: dict[str, bytes] = {}

    def add(self, pem: bytes) -> str:
        """Remember ``pem`` to install; return the name the webhook entry records."""
        name = managed_name(pem)
        self._pems[name] = pem
        return name

    def install(self) -> None:
        """Write the remembered bundles (call with the webhooks.json lock held)."""
        for name, pem in self._pems.items():
            write(self.events_dir, name, pem)


def write(events_dir: Path, name: str, pem: bytes) -> None:
    """Store one bundle atomically under ``name`` (unchanged when it is already there)."""
    target = events_dir / name
    try:
        if not (target.is_file() and _stored(target) == pem):
            atomic_write_bytes(target, pem, FILE_MODE)
    except OSError as err:
        raise CliError(f"{target}: cannot write the CA bundle: {err.strerror or err} (fix the cause, "
                       "then run 'gluster-eventsapi sync')") from None


def _stored(target: Path) -> bytes | None:
    """The bundle kept at ``target`` (None when unreadable or too large: it is then rewritten)."""
    try:
        return filereader.read_pem(target, BUNDLE_MAX_BYTES, "rewritten", require_block=False)
    except ConfigFileError:
        return None


def install_received(events_dir: Path, name: str, encoded: str) -> None:
    """Write a bundle a peer sent with ``sync``, after checking its name, digest and certificates."""
    if not MANAGED_NAME.fullmatch(name):
        raise CliError(f"received CA bundle name {name!r} is not of the form ca/<16 hex>.pem")
    if len(encoded) > BUNDLE_MAX_BYTES * 4 // 3 + 4:
        raise CliError(f"received CA bundle {name} is over the {BUNDLE_MAX_BYTES:,} bytes a bundle may hold")
    try:
        pem = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CliError(f"received CA bundle {name} is not valid base64") from None
    if managed_name(pem) != name:
        raise CliError(f"received CA bundle {name} does not match its name (the sender's copy was "
                       "changed by hand?): set it again there with 'gluster-eventsapi webhook-mod URL "
                       "--ca-bundle FILE'")
    problem = pem_problem(pem)
    if problem:
        raise CliError(f"received CA bundle {name} holds no usable certificates: {problem}")
    write(events_dir, name, pem)


def referenced(webhooks: Mapping[str, object]) -> set[str]:
    """The managed bundle names that the entries of a webhooks.json object use."""
    names = set()
    for entry in webhooks.values():
        value = entry.get("ca-bundle") if isinstance(entry, Mapping) else None
        if isinstance(value, str) and MANAGED_NAME.fullmatch(value):
            names.add(value)
    return names


def payload(events_dir: Path, webhooks: Mapping[str, object]) -> dict[str, str]:
    """{name: base64 of the file} for every managed bundle ``webhooks`` uses, to send with ``sync``."""
    found = {}
    for name in sorted(referenced(webhooks)):
        advice = "the CA bundle a webhook uses: set it again with 'gluster-eventsapi webhook-mod URL --ca-bundle FILE'"
        try:
            pem = filereader.read_pem(events_dir / name, BUNDLE_MAX_BYTES, advice, require_block=False)
        except ConfigFileError as err:
            reason = str(err) if "file not found" not in err.reason else f"{err}; {advice}"
            raise CliError(reason, ExitStatus.WEBHOOKS_SYNC_FAILED) from None
        found[name] = base64.b64encode(pem).decode("ascii")
    return found


def prune(events_dir: Path, keep: set[str]) -> None:
    """Remove managed bundles no webhook uses any more (best effort; call under the webhooks.json lock)."""
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
