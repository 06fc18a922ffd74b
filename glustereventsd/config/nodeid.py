"""This node's UUID: glusterd's own when Gluster is installed, else one generated once and kept.

Both files are read through ``filereader`` (bounded, never a traceback). A glusterd.info
without a usable ``UUID=`` is ignored, as glusterd itself would rewrite it. A node-id file
that does not hold a UUID (torn, overwritten, a folder) is moved aside as
``node-id.corrupt-<time>`` and a new id is generated, loudly: a bad file must not keep the
daemon, or the CLI, from running.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path

from glustereventsd.base import filereader
from glustereventsd.errors import ConfigFileError
from glustereventsd.base.fsutil import move_aside
from glustereventsd.base.paths import Paths

log = logging.getLogger("glustereventsd.nodeid")


def read_glusterd_uuid(glusterd_info: Path) -> str | None:
    """Return the ``UUID=`` value of glusterd.info, or None if there is no usable one."""
    try:
        text = filereader.read_text(glusterd_info)
    except ConfigFileError as err:  # it is there but unusable: say so, or events change node id unseen
        log.error("%s: events carry this node's own id instead of glusterd's UUID until it is fixed", err)
        return None
    for line in (text or "").splitlines():
        key, _, value = line.strip().partition("=")
        if key == "UUID" and value:
            try:
                return str(uuid.UUID(value))
            except ValueError:
                log.error("%s: UUID=%r is not a UUID: events carry this node's own id instead until it "
                          "is fixed", glusterd_info, value[:64])
                return None
    return None


def read_node_id(path: Path) -> str | None:
    """The id kept in ``path``; None when there is none; ConfigFileError when it is unusable."""
    text = filereader.read_text(path)
    if text is None:
        return None
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise ConfigFileError(path, "does not hold a UUID; remove it: a new node id is generated") from None


def node_id(paths: Paths) -> str:
    """This node's id: glusterd's UUID, or a UUID generated on first use and persisted.

    Raises OSError when a new id cannot be stored (the state folder is not writable).
    """
    found = read_glusterd_uuid(paths.glusterd_info)
    if found:
        return found
    path = paths.node_id_file
    try:
        existing = read_node_id(path)
    except ConfigFileError as err:
        existing = None
        try:
            moved = move_aside(path)
        except OSError as move_err:
            candidate = str(uuid.uuid4())
            log.error("%s, and it cannot be moved aside (%s): using node id %s until restart; fix the file",
                      err, move_err.strerror or move_err, candidate)
            return candidate
        log.error("%s; moved it to %s and generated a new node id: events from this node now carry "
                  "a new nodeid", err, moved)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = str(uuid.uuid4())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(candidate + "\n", encoding="utf-8")
    try:
        os.link(tmp, path)  # first writer wins; a racing process reads the winner's id
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    try:
        return read_node_id(path) or candidate
    except ConfigFileError:
        return candidate
