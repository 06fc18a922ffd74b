"""Per-webhook settings given as ``webhook-add`` / ``webhook-mod`` flags, and event names.

Turns the flags into changes of a webhooks.json entry (a value to set, or None to remove
the key and fall back to the daemon's default), validating each the way the daemon will use
it. Nothing here prints, and no message ever contains a secret.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import eventtypes
from glustereventsd.auth import SigningSecretError, signing_key
from glustereventsd.config import WEBHOOK_KEYS, ConfigError

from gluster_eventsapi import cabundles
from gluster_eventsapi.errors import CliError, ExitStatus

# Optional keys of a webhooks.json entry set by these flags (None: remove, i.e. default).
Changes = dict[str, object | None]
SecretReader = Callable[[str | None, str], str | None]
BundleStore = Callable[[bytes], str]  # keeps CA certificates, returns the name to record


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


def _ca_bundle(raw: str, store_bundle: BundleStore) -> str | None:
    """Check the CA file and store a copy that ``sync`` sends to every node; its managed name."""
    if not raw.strip():
        return None
    return store_bundle(cabundles.read_bundle(Path(raw.strip()).expanduser().absolute()))


def settings_changes(args: argparse.Namespace, read_secret: SecretReader, store_bundle: BundleStore) -> Changes:
    """The entry keys the settings flags change (absent flag: not in the result).

    ``store_bundle`` keeps a copy of a ``--ca-bundle`` file's certificates and returns the
    name the entry records (see ``cabundles``).
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
        changes["ca-bundle"] = _ca_bundle(args.ca_bundle, store_bundle)
    if getattr(args, "insecure_tls", None) is not None:
        changes["insecure-tls"] = True if args.insecure_tls else None
    if getattr(args, "events", None) is not None:
        changes["events"] = event_patterns(args.events) or None
    return changes


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
    https = url.lower().startswith("https:")
    if entry.get("insecure-tls"):
        notes.append(f"Warning: {url}: HTTPS certificates will NOT be verified (--insecure-tls): "
                     "anyone on the network path can impersonate the receiver. Prefer "
                     "--ca-bundle FILE, then 'gluster-eventsapi webhook-mod URL --verify-tls'.")
    if not https and (entry.get("insecure-tls") or entry.get("ca-bundle")):
        notes.append(f"Note: {url} is plain http: --ca-bundle and --insecure-tls only apply "
                     "to https:// URLs.")
    bundle = entry.get("ca-bundle")
    if bundle and not cabundles.MANAGED_NAME.fullmatch(str(bundle)):
        notes.append(f"Note: the CA bundle {bundle} is not copied to the peers: "
                     "it must exist at that path on every node.")
    return tuple(notes)
