"""The cluster-wide files: lock, read, validate, change, then atomically replace.

Every change to webhooks.json, config.json or peers.json happens under the file's exclusive
lock; the new content goes to a temporary file that replaces the old one (mode 0600, since
webhooks.json holds tokens). A file that does not parse is reported with its path and never
overwritten.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from glustereventsd.config.options import (
    ConfigError,
    ConfigFileError,
    canonical_name,
    convert_value,
    load_config_values,
    parse_webhooks,
    read_json_object,
)
from glustereventsd.base import filereader
from glustereventsd.base.fsutil import atomic_write_bytes, dump_json, locked
from glustereventsd.base.paths import Paths

from gluster_eventsapi.errors import WEBHOOK_NOT_EXISTS_TEXT, CliError, ExitStatus

FILE_MODE = 0o600

Data = dict[str, Any]


def _hint(err: OSError) -> str:
    """What to do about a failed write, when the cause is a common one."""
    if isinstance(err, PermissionError):
        return " (run gluster-eventsapi as root, or check the folder's owner and mode)"
    if err.errno == errno.ENOSPC:
        return " (the file system is full: free some space and run the command again)"
    return ""


def read_object(path: Path) -> Data:
    """Read a JSON object file ({} when missing); CliError naming the file when bad."""
    try:
        return read_json_object(path)
    except ConfigFileError as err:
        raise CliError(str(err), ExitStatus.ERROR) from None


def write_object(path: Path, data: Data) -> None:
    """Atomically replace ``path`` with ``data`` (mode 0600)."""
    try:
        atomic_write_bytes(path, dump_json(data), FILE_MODE)
    except OSError as err:
        raise CliError(f"{path}: cannot write: {err.strerror or err}{_hint(err)}",
                       ExitStatus.ERROR) from None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold the exclusive lock that serialises writers of ``path``."""
    lock = locked(path)
    try:
        lock.__enter__()
    except OSError as err:
        raise CliError(f"{path}: cannot lock: {err.strerror or err}{_hint(err)}; nothing was "
                       "changed", ExitStatus.ERROR) from None
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def check_webhooks(data: Data, path: Path) -> None:
    """Raise CliError naming ``path`` when ``data`` is not a valid webhooks.json content."""
    try:
        parse_webhooks(data, path)
    except ConfigFileError as err:
        raise CliError(str(err), ExitStatus.ERROR) from None


def check_config(data: Data, path: Path) -> None:
    """Raise CliError naming ``path`` when ``data`` is not a valid config.json content."""
    for name, value in data.items():
        try:
            canonical_name(name)
        except ConfigError:
            continue  # written by a newer version: the daemon ignores it with a warning
        try:
            convert_value(name, value)
        except ConfigError as err:
            raise CliError(f"{path}: {err}", ExitStatus.ERROR) from None


def read_webhooks(paths: Paths) -> Data:
    """The raw, validated webhooks.json object (URL -> entry); {} when there is none."""
    data = read_object(paths.webhooks_file)
    check_webhooks(data, paths.webhooks_file)
    return data


def not_registered(url: str) -> CliError:
    """The error of a command given a webhook URL that webhooks.json does not hold (exit 6)."""
    return CliError(f"{WEBHOOK_NOT_EXISTS_TEXT}: {url} is not registered (see "
                    "'gluster-eventsapi status'; URLs must match exactly)",
                    ExitStatus.WEBHOOK_NOT_EXISTS)


def modify_webhooks(paths: Paths, change: Callable[[Data], None]) -> Data:
    """Apply ``change`` to webhooks.json in place, under its lock; return the new content.

    ``change`` may raise CliError (webhook exists / does not exist): nothing is written then.
    """
    path = paths.webhooks_file
    with file_lock(path):
        data = read_webhooks(paths)
        change(data)
        check_webhooks(data, path)
        write_object(path, data)
    return data


def read_overrides(paths: Paths) -> Data:
    """The raw, validated config.json object (only the keys set with config-set)."""
    data = read_object(paths.config_file)
    check_config(data, paths.config_file)
    return data


def modify_overrides(paths: Paths, change: Callable[[Data], None]) -> Data:
    """Apply ``change`` to config.json under its lock; return the new content."""
    path = paths.config_file
    with file_lock(path):
        data = read_overrides(paths)
        change(data)
        check_config(data, path)
        write_object(path, data)
    return data


def merged_config(paths: Paths) -> tuple[dict[str, object], list[str]]:
    """Effective config values by canonical name, and warnings about ignored keys."""
    try:
        return load_config_values(paths.defaults_file, paths.config_file)
    except ConfigFileError as err:
        raise CliError(str(err), ExitStatus.ERROR) from None


def keys_set_in(path: Path) -> set[str]:
    """Canonical names of the valid config keys written in ``path`` (missing file: none)."""
    found = set()
    for name in read_object(path):
        with contextlib.suppress(ConfigError):
            found.add(canonical_name(name))
    return found


def pushed_file(path: Path, status: ExitStatus) -> tuple[str | None, Data]:
    """The exact text of a cluster file to push to peers, and its content, after checking it.

    (None, {}) when the file does not exist (it is then not pushed: the peers keep theirs).
    Raises CliError with ``status`` when it cannot be read or is not a JSON object.
    """
    kind = filereader.kind_of(path)
    advice = f"nothing was synced; {kind.advice}"
    try:
        data = filereader.read_bytes(path, kind.max_bytes, advice, missing_ok=True)
        if data is None:
            return None, {}
        content = filereader.parse_json_object(data, path, advice)
    except ConfigFileError as err:
        raise CliError(str(err), status) from None
    return filereader.decode_utf8(data, path, advice), content


def file_text(path: Path, status: ExitStatus) -> str | None:
    """The text of ``pushed_file`` alone."""
    return pushed_file(path, status)[0]


@contextlib.contextmanager
def push_lock(paths: Paths) -> Iterator[None]:
    """Serialise pushes from this node, so the last push always carries the newest files."""
    with file_lock(paths.events_dir / "push"):
        yield
