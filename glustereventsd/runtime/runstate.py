"""The running daemon's status file: what it has in force, for the tools that wait on it.

The daemon replaces ``/run/glustereventsd/status.json`` (``Paths.runtime_status_file``,
re-rooted by GLUSTER_EVENTS_ROOT) atomically at start, after every reload request it has
handled and whenever its file watch changes state. ``glustereventsd --reload`` and the CLI
read it to learn that a reload was applied, not merely asked for. Schema version 1::

    {
      "schema": 1,
      "pid": 1234,                    # the daemon that wrote the file
      "started_at": 1733090000.1,     # Unix time of its start
      "updated_at": 1733090042.7,
      "config": {                     # the configuration in force
        "digest": "sha256:...",       # config_digest() of the files it was loaded from;
                                      # "" when not known to equal them (last-good copies)
        "generation": 3,              # the reload that put it in force (0: start-up)
        "applied_at": 1733090042.7
      },
      "reload": {                     # the last reload request handled (generation 0: none)
        "generation": 5,              # reload requests handled since start
        "outcome": "applied",         # "applied", "unchanged", "failed" or "pending"
        "digest": "sha256:...",       # of the files that request read
        "error": "",                  # why it failed
        "at": 1733090042.7
      },
      "watch": {                      # the watch on the events folder
        "backend": "inotify",         # "inotify" or "poll"
        "folder": "/var/lib/glusterd/events",
        "watching": true,
        "problem": ""                 # why not, when not
      }
    }

Readers ignore keys they do not know. New sections (per-webhook figures, say) are added as
new top-level keys through ``RunState.sections`` without a schema change; ``schema`` goes up
only when an existing key changes meaning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from glustereventsd.base import filereader
from glustereventsd.errors import ConfigFileError
from glustereventsd.base.fsutil import atomic_write_bytes
from glustereventsd.base.paths import Paths

SCHEMA = 1
APPLIED = "applied"  # the files the request read are in force
UNCHANGED = "unchanged"  # the files were byte for byte those in force: nothing to apply
FAILED = "failed"  # the files were refused; the previous configuration stays in force
PENDING = "pending"  # handed to the pipeline, which has not put it in force yet
STATUS_MAX_BYTES = 4 << 20  # the file holds a few figures per webhook; anything bigger is not ours


def _file_digest(path: Path) -> bytes | None:
    """The sha256 of a file's bytes, read in chunks; None when it does not exist.

    In chunks, so that a runaway 100 MB webhooks.json (which the loader refuses by its size)
    is never held in memory; opened non-blocking and hashed only when a regular file, so a
    FIFO in its place is never waited on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as err:  # unreadable: its own marker, so that a later fix changes the digest
        return f"<unreadable: {err.strerror or err}>".encode()
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # before fdopen, which refuses a folder
            os.close(fd)
            return b"<not a regular file>"
    except OSError as err:
        os.close(fd)
        return f"<unreadable: {err.strerror or err}>".encode()
    with os.fdopen(fd, "rb") as handle:
        try:
            digest = hashlib.sha256()
            for chunk in iter(lambda: handle.read(1 << 16), b""):
                digest.update(chunk)
            return digest.digest()
        except OSError as err:
            return f"<unreadable: {err.strerror or err}>".encode()


def _tls_files(paths: Paths) -> list[Path]:
    from glustereventsd.config.options import ConfigError, load_webhooks

    try:
        hooks = load_webhooks(paths.webhooks_file, paths.events_dir)
    except ConfigError:
        return []
    return sorted({Path(name) for hook in hooks for name in (hook.ca_bundle, hook.client_cert, hook.client_key)
                   if name})


def config_digest(paths: Paths) -> str:
    """A digest of every file the daemon's configuration is loaded from, as they are now.

    The shipped defaults, config.json, webhooks.json and the TLS files (CA bundles, client
    certificates and keys) that webhooks.json names: equal digests mean a reload would change nothing. The daemon and the tools that
    wait on it compute it with this one function.
    """
    digest = hashlib.sha256()
    named = [("defaults", paths.defaults_file), ("config", paths.config_file),
             ("webhooks", paths.webhooks_file)]
    named += [(f"tls file {name}", name) for name in _tls_files(paths)]
    for label, path in named:
        found = _file_digest(path)
        digest.update(label.encode() + b"\0")
        digest.update(b"-\0" if found is None else b"%d\0" % len(found) + found)
    return "sha256:" + digest.hexdigest()


@dataclass
class ConfigState:
    """The configuration in force."""

    digest: str = ""
    generation: int = 0
    applied_at: float = 0.0


@dataclass
class ReloadState:
    """The last reload request the daemon handled."""

    generation: int = 0
    outcome: str = ""
    digest: str = ""
    error: str = ""
    at: float = 0.0


@dataclass
class WatchState:
    """The watch on the events folder."""

    backend: str = ""
    folder: str = ""
    watching: bool = False
    problem: str = ""


@dataclass
class RunState:
    """The whole status file; the daemon's main thread owns the one it writes."""

    pid: int
    started_at: float
    updated_at: float = 0.0
    config: ConfigState = field(default_factory=ConfigState)
    reload: ReloadState = field(default_factory=ReloadState)
    watch: WatchState = field(default_factory=WatchState)
    sections: dict[str, Any] = field(default_factory=dict)  # further top-level keys, as they are

    def to_json(self) -> bytes:
        """The file's content."""
        data: dict[str, Any] = {**self.sections, "schema": SCHEMA, "pid": self.pid,
                                "started_at": self.started_at, "updated_at": self.updated_at,
                                "config": asdict(self.config), "reload": asdict(self.reload),
                                "watch": asdict(self.watch)}
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")

    def record_reload(self, outcome: str, digest: str, error: str = "") -> None:
        """One more reload request handled; when applied, its files are now in force."""
        now = time.time()
        self.reload = ReloadState(self.reload.generation + 1, outcome, digest, error, now)
        if outcome == APPLIED:
            self.config = ConfigState(digest, self.reload.generation, now)

    def record_failed_late(self, generation: int, error: str) -> None:
        """A pending reload (``generation``) could not be put in force: the files before stay in force."""
        if self.reload.generation == generation:
            self.reload = ReloadState(generation, FAILED, self.reload.digest, error, self.reload.at)

    def record_applied_late(self, generation: int, digest: str) -> None:
        """A pending reload (``generation``) has now been put in force by the pipeline."""
        now = time.time()
        self.config = ConfigState(digest, generation, now)
        if self.reload.generation == generation:
            self.reload = ReloadState(generation, APPLIED, digest, "", self.reload.at)


def _section(data: Any, kind: type[Any]) -> Any:
    """A dataclass from a JSON object, keeping only the known keys of the right JSON type."""
    if not isinstance(data, dict):
        return kind()
    defaults = kind()
    values = {}
    for name, default in asdict(defaults).items():
        value = data.get(name, default)
        if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[name] = value if type(value) is type(default) else default
    return kind(**values)


def parse_status(text: str | bytes) -> RunState | None:
    """The status in a file's content, or None when it is not a status file of this schema."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: not a file we wrote
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    pid, started = data.get("pid"), data.get("started_at")
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(started, (int, float)):
        return None
    known = {"schema", "pid", "started_at", "updated_at", "config", "reload", "watch"}
    updated = data.get("updated_at")
    return RunState(pid, float(started), float(updated) if isinstance(updated, (int, float)) else 0.0,
                    _section(data.get("config"), ConfigState), _section(data.get("reload"), ReloadState),
                    _section(data.get("watch"), WatchState),
                    {key: value for key, value in data.items() if key not in known})


def read_status(path: Path) -> RunState | None:
    """The status file's content, or None when it is missing, unreadable or not ours."""
    try:  # a regular file of bounded size only: a FIFO or /dev/zero here must not hang or fill a reader
        data = filereader.read_bytes(path, STATUS_MAX_BYTES, "", missing_ok=True)
    except ConfigFileError:
        return None
    return parse_status(data) if data is not None else None


def write_status(path: Path, state: RunState) -> None:
    """Replace the status file atomically (rename); raises OSError.

    No fsync: the file lives in /run and describes this boot's process only.
    """
    state.updated_at = time.time()
    # 0644: no secrets in it (digests, counters and a folder name)
    atomic_write_bytes(path, state.to_json(), 0o644, durable=False)


def webhook_key(url: str) -> str:
    """How the status file names a webhook: a digest, since a URL's query may hold a secret (the file is 0644)."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def delivery_section(memory_only: dict[str, int], spool_error: str,
                     concurrency: dict[str, tuple[int, str]] | None = None) -> dict[str, Any]:
    """The ``delivery`` section: events held only in memory per webhook, why the spool is failing,
    and each webhook's adaptive in-flight limit and why (``sinks.concurrency``).

    ``{"spool_error": "database or disk is full", "memory_only": {"<webhook_key>": 9900},
    "concurrency": {"<webhook_key>": [12, "growing"]}}``: what ``webhook-status`` adds to the
    spool's own figures (which a full disk freezes) and to what only the running daemon knows.
    """
    return {"spool_error": spool_error,
            "memory_only": {webhook_key(url): count for url, count in sorted(memory_only.items()) if count},
            "concurrency": {webhook_key(url): [limit, reason]
                            for url, (limit, reason) in sorted((concurrency or {}).items())}}


def remove_status(path: Path, pid: int) -> None:
    """Remove the status file if ``pid`` wrote it (on a clean stop)."""
    state = read_status(path)
    if state is not None and state.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
