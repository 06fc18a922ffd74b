"""The one reader of every file the daemon and the CLI read: bounded, strict, never a traceback.

webhooks.json, config.json, eventsconfig.json, peers.json and their last-good copies go
through ``read_json_object``; glusterd.info and node-id through ``read_text``; CA bundles
and client certificates through ``read_pem``. Whatever bytes a file holds, the caller gets
either the parsed content or a ``ConfigFileError`` whose message names the file, says what
is wrong and what to do. A file is refused:

- when it is larger than its kind's limit (``LIMITS``), after one ``fstat`` and without
  reading it (and never more than the limit is read, however the file grows);
- when it is not a regular file (a folder, a FIFO: opened non-blocking, never waited on);
- when it is not UTF-8, or JSON with duplicate keys, NaN or Infinity, numbers out of range,
  unpaired surrogate escapes, or nesting deeper than ``MAX_DEPTH`` levels (json's own
  RecursionError included), or when its top level is not an object.

An empty (or all-blank) JSON file means ``{}``, a missing one ``{}`` or an error as the caller
asks; a UTF-8 byte order mark (as some editors write) is skipped.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glustereventsd.errors import ConfigFileError

KiB = 1 << 10
MiB = 1 << 20
MAX_DEPTH = 32  # our files nest 3 levels; 32 leaves room for anything a newer version writes
BOM = "\ufeff"
SYNC_ADVICE = "fix or remove the file, then run 'gluster-eventsapi sync' from a healthy node"


@dataclass(frozen=True)
class FileKind:
    """What one kind of file may be: its size limit, and what to do when it is bad."""

    max_bytes: int
    advice: str


LIMITS: dict[str, FileKind] = {
    "webhooks.json": FileKind(8 * MiB, SYNC_ADVICE),
    "config.json": FileKind(1 * MiB, SYNC_ADVICE),
    "eventsconfig.json": FileKind(1 * MiB, "fix it, or restore the copy the package installed"),
    "peers.json": FileKind(8 * MiB, "fix it, or remove it and add the peers again with "
                                    "'gluster-eventsapi peer-add'"),
    "glusterd.info": FileKind(64 * KiB, "it is glusterd's own file: restore it from a backup"),
    "node-id": FileKind(4 * KiB, "remove it: a new node id is generated"),
}
JSON_DEFAULT = FileKind(1 * MiB, "fix or remove the file")
PEM_DEFAULT = FileKind(8 * MiB, "give a file of PEM blocks (-----BEGIN ...-----)")
RECEIVED = "fix the sending node's file and run 'gluster-eventsapi sync' again"


def kind_of(path: Path, default: FileKind = JSON_DEFAULT) -> FileKind:
    """The limit and advice for ``path``, by its file name (a last-good copy keeps the name)."""
    return LIMITS.get(path.name, default)


def _size(count: int) -> str:
    return f"{count / MiB:g} MiB" if count >= MiB else f"{count / KiB:g} KiB" if count >= KiB else f"{count} bytes"


def read_bytes(path: Path, max_bytes: int, advice: str, missing_ok: bool = False) -> bytes | None:
    """The bytes of a regular file of at most ``max_bytes``; None when missing and ``missing_ok``.

    Raises ConfigFileError (ending with ``advice``) for anything else: too large, a folder,
    a FIFO or device, unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigFileError(path, "file not found") from None
    except OSError as err:
        raise ConfigFileError(path, f"cannot open: {_reason(err)}; {advice}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigFileError(path, f"a folder, not a file; {advice}")
        if not stat.S_ISREG(info.st_mode):
            raise ConfigFileError(path, f"not a regular file; {advice}")
        if info.st_size > max_bytes:
            raise ConfigFileError(path, f"{info.st_size:,} bytes, over the {_size(max_bytes)} this file may "
                                        f"hold (a runaway write?); {advice}")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:  # the file may grow after fstat: never read past the limit
            chunk = os.read(fd, min(1 * MiB, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise ConfigFileError(path, f"over the {_size(max_bytes)} this file may hold (still being "
                                        f"written?); {advice}")
        return b"".join(chunks)
    except OSError as err:
        raise ConfigFileError(path, f"cannot read: {_reason(err)}; {advice}") from None
    finally:
        os.close(fd)


def _reason(err: OSError) -> str:
    if err.errno == errno.EISDIR:
        return "it is a folder"
    return err.strerror or str(err)


def decode_utf8(data: bytes, path: Path, advice: str) -> str:
    """``data`` as text, without a leading byte order mark; ConfigFileError if not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigFileError(path, f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
                                    f"{advice}") from None
    return text[1:] if text.startswith(BOM) else text


class _Refused(ValueError):
    """Raised from inside json.loads by the hooks below: the content is JSON we do not accept."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _Refused(f"holds the key {_shown(key)} twice (which one counts is undefined)")
        found[key] = value
    return found


def _no_constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {text[:40]}, too large for a float")
    return value


def _shown(key: str) -> str:
    """A key as it may appear in a message: a URL without credentials, query or fragment."""
    if "://" in key:
        try:
            parts = urllib.parse.urlsplit(key)
            host = parts.hostname or ""
            key = f"{parts.scheme}://{host}{parts.path}"
        except ValueError:
            key = key.split("://", 1)[0] + "://..."
    return repr(key[:120] + ("..." if len(key) > 120 else ""))


def loads(text: str) -> Any:
    """Parse JSON strictly (see the module docstring); raise ValueError with the reason.

    The reason is a phrase that follows a file name ("not valid JSON (...)").
    """
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant,
                           parse_float=_finite_float)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON (line {err.lineno} column {err.colno}: {err.msg})") from None
    except _Refused as err:
        raise ValueError(str(err)) from None
    except RecursionError:
        raise ValueError(f"nests more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # an integer of more digits than Python converts
        raise ValueError(f"holds an integer of more than {sys.get_int_max_str_digits()} digits") from None
    _check_tree(value)
    return value


def _check_tree(value: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH and strings that cannot be written back as UTF-8."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_string(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise ValueError(f"nests more than {MAX_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_string(key)
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


def _check_string(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("holds a \\u escape of an unpaired surrogate, which is not text") from None


def parse_json_object(data: bytes | str, path: Path, advice: str) -> dict[str, Any]:
    """The JSON object in ``data`` (read from, or meant for, ``path``); {} when blank."""
    text = decode_utf8(data, path, advice) if isinstance(data, bytes) else data.removeprefix(BOM)
    if not text.strip():
        return {}
    try:
        value = loads(text)
    except ValueError as err:
        raise ConfigFileError(path, f"{err}; {advice}") from None
    if not isinstance(value, dict):
        raise ConfigFileError(path, f"must hold a JSON object ({{...}}), not {_json_type(value)}; {advice}")
    return value


def _json_type(value: object) -> str:
    names = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "true or false"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def read_json_object(path: Path, missing_ok: bool = True, kind: FileKind | None = None) -> dict[str, Any]:
    """Read the JSON object in ``path`` (limit and advice from ``kind``, else by file name).

    A missing file is ``{}`` when ``missing_ok``; every other problem is a ConfigFileError.
    """
    kind = kind or kind_of(path)
    data = read_bytes(path, kind.max_bytes, kind.advice, missing_ok=missing_ok)
    return {} if data is None else parse_json_object(data, path, kind.advice)


def read_text(path: Path, kind: FileKind | None = None) -> str | None:
    """The UTF-8 text of a small file (glusterd.info, node-id); None when it does not exist."""
    kind = kind or kind_of(path)
    data = read_bytes(path, kind.max_bytes, kind.advice, missing_ok=True)
    return None if data is None else decode_utf8(data, path, kind.advice)


PEM_BEGIN = b"-----BEGIN "


def read_pem(path: Path, max_bytes: int = PEM_DEFAULT.max_bytes, advice: str = PEM_DEFAULT.advice,
             require_block: bool = True) -> bytes:
    """The bytes of a PEM file (CA bundle, client certificate or key) of at most ``max_bytes``.

    Checks that it is a readable regular file within the limit and, with ``require_block``,
    that it holds at least one ``-----BEGIN`` block; what the blocks must be is the caller's
    (ssl's) business. The content is never quoted in a message: a key file is a secret.
    """
    data = read_bytes(path, max_bytes, advice)
    assert data is not None  # missing_ok is False
    if require_block and PEM_BEGIN not in data:
        raise ConfigFileError(path, f"holds no PEM block (-----BEGIN ...-----); {advice}")
    return data
