"""Per-webhook settings: ``webhook-add`` / ``webhook-mod`` flags, entry checks and notes, event names.

Turns the flags into changes of a webhooks.json entry (a value to set, or None to remove
the key and fall back to the daemon's default), validating each the way the daemon will use
it, and reads back what the entries mean for the user (the notes after a change, which URLs
skip certificate checks). Nothing here prints, and no message ever contains a secret.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Dict, Optional

import eventtypes
from glustereventsd.sinks import kinds
from glustereventsd.sinks.http.auth import SigningSecretError, signing_key
from glustereventsd.config.options import NATS_AUTH_KEYS, WEBHOOK_KEYS, ConfigError, to_proxy, webhook_from_entry

from gluster_eventsapi.files import tlsfiles
from gluster_eventsapi.errors import CliError, ExitStatus

# Optional keys of a webhooks.json entry set by these flags (None: remove, i.e. default).
Changes = Dict[str, Optional[object]]
SecretReader = Callable[[Optional[str], str], Optional[str]]
FileStore = Callable[[tlsfiles.Kind, bytes], str]  # keeps a TLS file, returns the name to record


def catalog() -> tuple[str, ...]:
    """Every event name of both numberings (3.10+ and 3.9), sorted."""
    return tuple(sorted(set(eventtypes.names_for("3.10")) | set(eventtypes.names_for("3.9"))))


def closest_names(word: str, limit: int = 3) -> list[str]:
    """The catalog names nearest to ``word`` (difflib), for "did you mean" messages."""
    text = word.upper().removeprefix("EVENT_").replace("*", "").replace("?", "")
    names = catalog()
    close = difflib.get_close_matches(text, names, n=limit, cutoff=0.5)
    if not close and text:  # a prefix typed short: VOLUME_CRE -> VOLUME_CREATE
        close = [name for name in names if name.startswith(text)][:limit]
    return close


def suggestion(word: str) -> str:
    """``; closest: A, B`` or a pointer to the catalog when nothing is close."""
    close = closest_names(word)
    if close:
        return f"; closest: {', '.join(close)}"
    return "; 'gluster-eventsapi emit --list' lists every event name"


def event_patterns(raw: str) -> list[str]:
    """Validate ``--events``: each glob pattern must match at least one catalog name."""
    patterns = [p.strip().upper().removeprefix("EVENT_") for p in raw.split(",") if p.strip()]
    names = catalog()
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            raise CliError(f"--events: {pattern!r} matches no event name{suggestion(pattern)}",
                           ExitStatus.INVALID_CONFIG)
    return patterns


def _number(flag: str, key: str, raw: str) -> object | None:
    text = raw.strip()
    try:
        if float(text) == 0:
            return None  # 0: back to the daemon's default
    except ValueError:
        pass
    try:
        return WEBHOOK_KEYS[key][1](text)
    except ConfigError as err:
        raise CliError(f"{flag} {raw!r}: {err}", ExitStatus.INVALID_CONFIG) from None


def check_signing_secret(value: str) -> str | None:
    """Validate a ``whsec_`` secret (exit 7 without showing it); '' means none."""
    if not value:
        return None
    try:
        signing_key(value)
    except SigningSecretError as err:
        raise CliError(f"--signing-secret: {err} (e.g. whsec_ + the output of "
                       "'openssl rand -base64 32')", ExitStatus.INVALID_CONFIG) from None
    return value


def _tls_file(kind: tlsfiles.Kind, raw: str, store_file: FileStore) -> str | None:
    """Check a TLS file and store a copy that ``sync`` sends to every node; its managed name."""
    if not raw.strip():
        return None
    return store_file(kind, tlsfiles.read_file(kind, _path(raw)))


def _path(raw: str) -> Path:
    return Path(raw.strip()).expanduser().absolute()


def _client_certificate(args: argparse.Namespace, store_file: FileStore) -> Changes:
    """``--client-cert``/``--client-key``: both checked to load together, then kept 0600 and synced."""
    cert_raw, key_raw = getattr(args, "client_cert", None), getattr(args, "client_key", None)
    if cert_raw is None and key_raw is None:
        return {}
    if cert_raw is None:
        raise CliError("--client-key needs --client-cert (give both, or --client-cert '' to stop "
                       "presenting a client certificate)", ExitStatus.INVALID_CONFIG)
    if not cert_raw.strip():
        return {"client-cert": None, "client-key": None}
    cert = tlsfiles.read_file(tlsfiles.CLIENT_CERT, _path(cert_raw))
    key = tlsfiles.read_file(tlsfiles.CLIENT_KEY, _path(key_raw)) if key_raw and key_raw.strip() else None
    if key is None and tlsfiles.key_problem(cert):
        raise CliError(f"--client-cert: {cert_raw.strip()} holds no private key: give it with --client-key FILE",
                       ExitStatus.INVALID_CONFIG)
    tlsfiles.check_pair(cert, key)
    return {"client-cert": store_file(tlsfiles.CLIENT_CERT, cert),
            "client-key": store_file(tlsfiles.CLIENT_KEY, key) if key is not None else None}


def _proxy(raw: str) -> str | None:
    try:
        value = to_proxy(raw)
    except ConfigError as err:
        raise CliError(f"--proxy: {err}", ExitStatus.INVALID_CONFIG) from None
    return value or None


def settings_changes(args: argparse.Namespace, read_secret: SecretReader, store_file: FileStore) -> Changes:
    """The entry keys the settings flags change (absent flag: not in the result).

    ``store_file`` keeps a copy of a ``--ca-bundle``, ``--client-cert`` or ``--client-key``
    file and returns the name the entry records (see ``tlsfiles``).
    """
    changes: Changes = {}
    if getattr(args, "timeout_secs", None) is not None:
        changes["timeout-secs"] = _number("--timeout-secs", "timeout-secs", args.timeout_secs)
    if getattr(args, "concurrency", None) is not None:
        changes["concurrency"] = _number("--concurrency", "concurrency", args.concurrency)
    if getattr(args, "signing_secret", None) is not None:
        changes["signing-secret"] = check_signing_secret(
            read_secret(args.signing_secret, "signing secret") or "")
    if getattr(args, "ca_bundle", None) is not None:
        changes["ca-bundle"] = _tls_file(tlsfiles.CA_BUNDLE, args.ca_bundle, store_file)
    changes.update(_client_certificate(args, store_file))
    if getattr(args, "proxy", None) is not None:
        changes["proxy"] = _proxy(read_secret(args.proxy, "proxy URL") or "")
    if getattr(args, "insecure_tls", None) is not None:
        changes["insecure-tls"] = True if args.insecure_tls else None
    if getattr(args, "events", None) is not None:
        changes["events"] = event_patterns(args.events) or None
    if getattr(args, "format", None) is not None:
        changes["format"] = None if args.format == kinds.GLUSTER_FORMAT else args.format
    changes.update(nats_changes(args, read_secret, store_file))
    return changes


# -- NATS sinks -----------------------------------------------------------------------------

NATS_FLAGS = {"nats_token": "--nats-token", "nats_user": "--nats-user", "nats_password": "--nats-password",
              "nats_nkey": "--nats-nkey", "nats_creds": "--nats-creds"}
WEBHOOK_ONLY_FLAGS = {"bearer_token": "--bearer_token", "secret": "--secret", "signing_secret": "--signing-secret",
                      "proxy": "--proxy", "format": "--format"}
MAX_SECRET_FILE_BYTES = 64 * 1024
NATS_AUTH_HINT = "--nats-token, --nats-user/--nats-password, --nats-nkey or --nats-creds"


def check_flags(url: str, args: argparse.Namespace) -> None:
    """Refuse flags that do not apply to this kind of URL (webhook or NATS sink), naming them."""
    if kinds.is_nats(url):
        used = [flag for attribute, flag in WEBHOOK_ONLY_FLAGS.items() if getattr(args, attribute, None) is not None]
        if used:
            raise CliError(f"{', '.join(used)}: not used by a NATS sink ({url} is one); it authenticates with "
                           f"{NATS_AUTH_HINT}", ExitStatus.INVALID_CONFIG)
    else:
        used = [flag for attribute, flag in NATS_FLAGS.items() if getattr(args, attribute, None) is not None]
        if used:
            raise CliError(f"{', '.join(used)}: only for NATS sinks (nats:// or tls:// URLs)",
                           ExitStatus.INVALID_CONFIG)


def _secret(raw: str, what: str, flag: str, read_secret: SecretReader) -> str | None:
    """A NATS token or password: '-' reads it from stdin, anything else names a file holding it; '' clears it."""
    if raw == "-":
        value = (read_secret("-", what) or "").strip()
    elif not raw.strip():
        return None
    else:
        path = _path(raw)
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_SECRET_FILE_BYTES + 1)
        except OSError as err:
            raise CliError(f"{flag}: cannot read {path}: {err.strerror or err} (give '-' to read the {what} "
                           "from stdin, or a file that holds it)", ExitStatus.INVALID_CONFIG) from None
        if len(data) > MAX_SECRET_FILE_BYTES:
            raise CliError(f"{flag}: {path} is larger than {MAX_SECRET_FILE_BYTES} bytes: give a file holding the "
                           f"{what} alone", ExitStatus.INVALID_CONFIG)
        value = data.decode("utf-8", "replace").strip()
    if not value:
        raise CliError(f"{flag}: the {what} is empty", ExitStatus.INVALID_CONFIG)
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise CliError(f"{flag}: the {what} holds control characters or several lines: give it alone, on one line",
                       ExitStatus.INVALID_CONFIG)
    return value


def nats_changes(args: argparse.Namespace, read_secret: SecretReader, store_file: FileStore) -> Changes:
    """The entry keys the NATS credential flags change; setting one way to authenticate clears the others.

    Secrets are never taken from argv: ``--nats-token`` and ``--nats-password`` take '-'
    (stdin) or a file; NKey seeds and ``.creds`` files are copied 0600 and synced.
    """
    token, user, password, nkey, creds = (getattr(args, attribute, None) for attribute in NATS_FLAGS)
    changes: Changes = {}
    chosen: list[str] = []
    if token is not None:
        changes["nats-token"] = _secret(token, "NATS token", "--nats-token", read_secret)
        if changes["nats-token"]:
            chosen.append("nats-token")
    if user is not None and not user.strip():
        if password is not None and password.strip():
            raise CliError("--nats-user '' removes the user and password: give no --nats-password with it",
                           ExitStatus.INVALID_CONFIG)
        changes["nats-user"] = changes["nats-password"] = None
    elif user is not None or password is not None:
        if user is not None:
            if any(ord(char) < 0x21 or ord(char) == 0x7F for char in user.strip()):
                raise CliError("--nats-user: the user name must not hold spaces or control characters",
                               ExitStatus.INVALID_CONFIG)
            changes["nats-user"] = user.strip()
        if password is not None:
            changes["nats-password"] = _secret(password, "NATS password", "--nats-password", read_secret)
            if changes["nats-password"] is None:
                raise CliError("--nats-password '': remove the user and password with --nats-user ''",
                               ExitStatus.INVALID_CONFIG)
        chosen.append("nats-user")
    for key, raw, kind in (("nats-nkey", nkey, tlsfiles.NATS_NKEY), ("nats-creds", creds, tlsfiles.NATS_CREDS)):
        if raw is not None:
            changes[key] = _tls_file(kind, raw, store_file)
            if changes[key]:
                chosen.append(key)
    if len(chosen) > 1:
        raise CliError(f"{', '.join('--' + key for key in chosen)}: a NATS sink authenticates one way only; "
                       "give one of them", ExitStatus.INVALID_CONFIG)
    if chosen:  # the new way replaces whatever was set before
        for key in NATS_AUTH_KEYS:
            if key != chosen[0]:
                changes.setdefault(key, None)
        if chosen[0] != "nats-user":
            changes["nats-password"] = None
    return changes


def check_entry(url: str, entry: Mapping[str, Any]) -> None:
    """Check the entry a command is about to write as the daemon will read it (exit 7 when unusable)."""
    try:
        webhook_from_entry(url, dict(entry))
    except ConfigError as err:
        message = str(err)
        if "nats-user and nats-password go together" in message:
            message += " (give --nats-user NAME with --nats-password - or FILE)"
        raise CliError(message, ExitStatus.INVALID_CONFIG) from None


def formats(webhooks: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    """(URL, format) of the registered webhooks whose format is not the default (status shows it)."""
    found = []
    for url, entry in webhooks.items():
        try:
            hook = webhook_from_entry(url, entry)
        except ConfigError:
            continue  # read_webhooks already checked the file; be lenient here
        if hook.format:
            found.append((url, hook.format))
    return tuple(found)


def insecure_urls(webhooks: Mapping[str, object]) -> tuple[str, ...]:
    """The registered URLs whose HTTPS certificates are not verified (``insecure-tls``)."""
    found = []
    for url, entry in webhooks.items():
        try:
            if webhook_from_entry(url, entry).insecure_tls:
                found.append(url)
        except ConfigError:
            continue  # read_webhooks already checked the file; be lenient here
    return tuple(found)


def apply_changes(entry: dict[str, Any], changes: Mapping[str, object | None]) -> None:
    """Set or remove the changed keys of a webhooks.json entry in place."""
    for key, value in changes.items():
        if value is None:
            entry.pop(key, None)
        else:
            entry[key] = value


def settings_notes(url: str, entry: Mapping[str, Any]) -> tuple[str, ...]:
    """Warnings worth printing after adding or changing a webhook."""
    notes = []
    if kinds.is_nats(url):
        return _nats_notes(url, entry)
    if entry.get("format") == kinds.ALERTMANAGER:
        notes.append(f"Note: {url} gets Gluster's conditions and alarms as alerts (docs/CONDITIONS.md), posted to "
                     "every Alertmanager listed; informational events are not posted. Check with "
                     f"'gluster-eventsapi webhook-test {url}' (it posts one alert, resolved at once).")
    https = url.lower().startswith("https:")
    if entry.get("insecure-tls"):
        notes.append(f"Warning: {url}: HTTPS certificates will NOT be verified (--insecure-tls): "
                     "anyone on the network path can impersonate the receiver. Prefer "
                     "--ca-bundle FILE, then 'gluster-eventsapi webhook-mod URL --verify-tls'.")
    if not https and (entry.get("insecure-tls") or entry.get("ca-bundle")):
        notes.append(f"Note: {url} is plain http: --ca-bundle and --insecure-tls only apply "
                     "to https:// URLs.")
    for key in tlsfiles.ENTRY_KEYS:
        name = entry.get(key)
        if name and not tlsfiles.MANAGED_NAME.fullmatch(str(name)):
            notes.append(f"Note: the {key.replace('-', ' ')} {name} is not copied to the peers: "
                         "it must exist at that path on every node.")
    if not https and entry.get("client-cert"):
        notes.append(f"Note: {url} is plain http: --client-cert only applies to https:// URLs.")
    return tuple(notes)


def _nats_notes(url: str, entry: Mapping[str, Any]) -> tuple[str, ...]:
    notes = []
    if entry.get("insecure-tls"):
        notes.append(f"Warning: {url}: the NATS servers' TLS certificates will NOT be verified (--insecure-tls). "
                     "Prefer --ca-bundle FILE, then 'gluster-eventsapi webhook-mod URL --verify-tls'.")
    for key in tlsfiles.ENTRY_KEYS:
        name = entry.get(key)
        if name and not tlsfiles.MANAGED_NAME.fullmatch(str(name)):
            notes.append(f"Note: the {key.replace('-', ' ')} {name} is not copied to the peers: "
                         "it must exist at that path on every node.")
    notes.append(f"Note: events are stored only once a JetStream stream captures their subjects; check with "
                 f"'gluster-eventsapi webhook-test {url}', create one with 'gluster-eventsapi nats-stream-add {url}'.")
    return tuple(notes)
