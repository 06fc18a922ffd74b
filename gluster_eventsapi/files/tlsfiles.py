"""Files given on the command line (CA bundles, client certificates and keys, NATS credentials): kept and synced.

A webhook's ``ca-bundle``, ``client-cert`` and ``client-key`` may name any file, which must
then exist at that path on every node. When set with the CLI, the file is copied instead
into the events directory under a name made of its kind and the first 16 hex digits of its
sha256 (``ca/<hex>.pem`` for CA bundles, ``tls/<hex>.pem`` for certificates and keys), and
the webhooks.json entry records that name, relative to the events directory. ``sync``
sends those files (base64, byte for byte) with webhooks.json, so every node verifies the
webhook with the same CAs and presents the same client certificate; the daemon resolves a
relative name against the events directory.

NATS sinks' credential files are kept the same way under ``nats/<hex>.nk`` (an NKey seed)
and ``nats/<hex>.creds`` (a user JWT and its seed).

CA bundles are public (0644). Client certificates and keys and NATS credential files are
written 0600 and never printed: their bytes appear nowhere but in their file and in the
sync stream over SSH.
Files are written and pruned under the webhooks.json lock, so a command adding one never
sees it pruned by another's sync.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from glustereventsd.base import filereader
from glustereventsd.errors import ConfigFileError
from glustereventsd.base.fsutil import atomic_write_bytes

from gluster_eventsapi.errors import CliError, ExitStatus

MAX_FILE_BYTES = 1 << 20  # a PEM bundle of a few hundred certificates; anything bigger is a mistake
MAX_ENCODED_CHARS = 4 * ((MAX_FILE_BYTES + 2) // 3)  # its base64, as sync sends it
MANAGED_NAME = re.compile(r"(?:ca|tls)/[0-9a-f]{16}\.pem|nats/[0-9a-f]{16}\.(?:nk|creds)")
PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
PEM_KEY = re.compile(rb"-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL)
ENTRY_KEYS = ("ca-bundle", "client-cert", "client-key", "nats-nkey", "nats-creds")  # webhooks.json keys naming them


@dataclass(frozen=True)
class Kind:
    """One kind of kept file: its flag, its folder in the events directory, its file mode and suffix."""

    flag: str
    folder: str
    mode: int
    suffix: str = ".pem"


CA_BUNDLE = Kind("--ca-bundle", "ca", 0o644)
CLIENT_CERT = Kind("--client-cert", "tls", 0o600)
CLIENT_KEY = Kind("--client-key", "tls", 0o600)
NATS_NKEY = Kind("--nats-nkey", "nats", 0o600, ".nk")
NATS_CREDS = Kind("--nats-creds", "nats", 0o600, ".creds")
FOLDERS = (("ca", "*.pem"), ("tls", "*.pem"), ("nats", "*.nk"), ("nats", "*.creds"))


def managed_name(kind: Kind, pem: bytes) -> str:
    """The name, relative to the events directory, under which ``pem`` is kept."""
    return f"{kind.folder}/{hashlib.sha256(pem).hexdigest()[:16]}{kind.suffix}"


def kind_of(name: str) -> Kind | None:
    """The kind of a managed file name (tls/ holds certificates and keys alike: CLIENT_CERT), or None."""
    if not MANAGED_NAME.fullmatch(name):
        return None
    if name.startswith("ca/"):
        return CA_BUNDLE
    if name.startswith("tls/"):
        return CLIENT_CERT
    return NATS_NKEY if name.endswith(".nk") else NATS_CREDS


def certificate_problem(pem: bytes) -> str:
    """Why ``pem`` holds no usable certificates ("" when it does).

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
    except (ssl.SSLError, ValueError) as err:  # OpenSSL's words, without the Python argument's name
        reason = getattr(err, "reason", None) or str(err).replace("cadata", "the certificate")
        return f"a certificate block is not a valid X.509 certificate ({reason})"
    return ""


def key_problem(pem: bytes) -> str:
    """Why ``pem`` holds no usable private key ("" when it does); never quotes the key."""
    match = PEM_KEY.search(pem)
    if match is None:
        return "no -----BEGIN PRIVATE KEY----- block found"
    if match.group(1) == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in match.group(0):
        return "the key is encrypted: give an unencrypted key (it is stored 0600 on every node)"
    return ""


def _problem(kind: Kind, pem: bytes) -> str:
    if kind is CA_BUNDLE:
        return certificate_problem(pem)
    if kind is CLIENT_KEY:
        return key_problem(pem)
    if kind in (NATS_NKEY, NATS_CREDS):
        from glustereventsd.sinks.nats import creds as natscreds

        return natscreds.text_problem(pem, "seed" if kind is NATS_NKEY else "creds")
    return certificate_problem(pem)


_WHAT = {CA_BUNDLE: ("CA certificates", "PEM certificates"), CLIENT_CERT: ("the client certificate", "PEM certificates"),
         CLIENT_KEY: ("a private key", "a PEM private key"),
         NATS_NKEY: ("an NKey seed", "one NKey user seed, as 'nk -gen user' writes it"),
         NATS_CREDS: ("NATS credentials", "a user JWT and its NKey seed, as 'nsc generate creds' writes them")}


def read_file(kind: Kind, path: Path) -> bytes:
    """The bytes of a TLS file given with ``kind.flag``; CliError naming the file when unusable."""
    flag = kind.flag
    if not path.is_file():
        raise CliError(f"{flag}: {path} does not exist or is not a file", ExitStatus.INVALID_CONFIG)
    try:  # bounded, a regular file only; what the blocks must be is checked below
        pem = filereader.read_pem(path, MAX_FILE_BYTES, "give a PEM file", require_block=False)
    except ConfigFileError as err:
        raise CliError(f"{flag}: {err}", ExitStatus.INVALID_CONFIG) from None
    problem = _problem(kind, pem)
    if problem:
        what, holds = _WHAT[kind]
        raise CliError(f"{flag}: cannot load {what} from {path}: {problem} (it must hold {holds})",
                       ExitStatus.INVALID_CONFIG)
    return pem


def check_pair(cert: bytes, key: bytes | None) -> None:
    """Check that a client certificate and its key (or the key inside the certificate file) match."""
    import ssl
    import tempfile

    with tempfile.TemporaryDirectory(prefix="gluster-eventsapi-") as folder:
        cert_path = Path(folder) / "cert.pem"
        cert_path.write_bytes(cert)
        key_path = None
        if key is not None:
            key_path = Path(folder) / "key.pem"
            key_path.touch(0o600)
            key_path.write_bytes(key)
        try:
            ssl.create_default_context().load_cert_chain(str(cert_path), str(key_path) if key_path else None,
                                                         password=lambda: "")
        except ssl.SSLError as err:
            reason = err.reason or "they do not load together"
            hint = "" if key is not None else " (give the key with --client-key when it is in another file)"
            raise CliError(f"--client-cert/--client-key: the certificate and key do not match or cannot be "
                           f"used: {reason}{hint}", ExitStatus.INVALID_CONFIG) from None


class PendingFiles:
    """The files one command will store; written under the webhooks.json lock by ``install``."""

    def __init__(self, events_dir: Path) -> None:
        self.events_dir = events_dir
        self._files: dict[str, tuple[Kind, bytes]] = {}

    def add(self, kind: Kind, pem: bytes) -> str:
        """Remember ``pem`` to install; return the name the webhook entry records."""
        name = managed_name(kind, pem)
        self._files[name] = (kind, pem)
        return name

    def install(self) -> None:
        """Write the remembered files (call with the webhooks.json lock held)."""
        for name, (kind, pem) in self._files.items():
            write(self.events_dir, name, pem, kind.mode)


def write(events_dir: Path, name: str, pem: bytes, mode: int) -> None:
    """Store one file atomically under ``name`` (unchanged when it is already there)."""
    target = events_dir / name
    try:
        if not (target.is_file() and _stored(target) == pem):
            atomic_write_bytes(target, pem, mode)
    except OSError as err:
        raise CliError(f"{target}: cannot write the TLS file: {err.strerror or err} (fix the cause, "
                       "then run 'gluster-eventsapi sync')") from None


def _stored(target: Path) -> bytes | None:
    """The file kept at ``target`` (None when unreadable or too large: it is then rewritten)."""
    try:
        return filereader.read_pem(target, MAX_FILE_BYTES, "it is rewritten", require_block=False)
    except ConfigFileError:
        return None


def install_received(events_dir: Path, name: str, encoded: str) -> None:
    """Write a file a peer sent with ``sync``, after checking its name, digest and content."""
    kind = kind_of(name)
    if kind is None:
        raise CliError(f"received TLS file name {name!r} is not of the form ca/<16 hex>.pem, tls/<16 hex>.pem, "
                       "nats/<16 hex>.nk or nats/<16 hex>.creds")
    if len(encoded) > MAX_ENCODED_CHARS:  # checked before decoding: a peer's stream is not trusted
        raise CliError(f"received TLS file {name} is larger than the {MAX_FILE_BYTES:,} bytes a TLS file may hold")
    try:
        pem = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise CliError(f"received TLS file {name} is not valid base64") from None
    if managed_name(kind, pem) != name:
        raise CliError(f"received TLS file {name} does not match its name (the sender's copy was "
                       "changed by hand?): set it again there with 'gluster-eventsapi webhook-mod URL "
                       f"{kind.flag} FILE'")
    if kind is CLIENT_CERT:  # tls/ holds certificates and keys alike
        problem = "" if PEM_KEY.search(pem) else certificate_problem(pem)
    else:
        problem = _problem(kind, pem)
    if problem:
        raise CliError(f"received TLS file {name} is not usable: {problem}")
    write(events_dir, name, pem, kind.mode)


def referenced(webhooks: Mapping[str, object]) -> set[str]:
    """The managed file names that the entries of a webhooks.json object use."""
    names = set()
    for entry in webhooks.values():
        if not isinstance(entry, Mapping):
            continue
        for key in ENTRY_KEYS:
            value = entry.get(key)
            if isinstance(value, str) and MANAGED_NAME.fullmatch(value):
                names.add(value)
    return names


def payload(events_dir: Path, webhooks: Mapping[str, object]) -> dict[str, str]:
    """{name: base64 of the file} for every managed file ``webhooks`` uses, to send with ``sync``."""
    found = {}
    advice = ("the TLS file a webhook uses: set it again with 'gluster-eventsapi webhook-mod URL "
              "--ca-bundle FILE' (or --client-cert/--client-key, --nats-nkey, --nats-creds)")
    for name in sorted(referenced(webhooks)):
        try:
            pem = filereader.read_pem(events_dir / name, MAX_FILE_BYTES, advice, require_block=False)
        except ConfigFileError as err:
            reason = str(err) if "file not found" not in err.reason else f"{err}; {advice}"
            raise CliError(reason, ExitStatus.WEBHOOKS_SYNC_FAILED) from None
        found[name] = base64.b64encode(pem).decode("ascii")
    return found


def prune(events_dir: Path, keep: set[str]) -> None:
    """Remove managed files no webhook uses any more (best effort; call under the webhooks.json lock)."""
    for folder, pattern in FOLDERS:
        path_folder = events_dir / folder
        if not path_folder.is_dir():
            continue
        for path in path_folder.glob(pattern):
            name = f"{folder}/{path.name}"
            if MANAGED_NAME.fullmatch(name) and name not in keep:
                try:
                    path.unlink()
                except OSError:
                    pass
