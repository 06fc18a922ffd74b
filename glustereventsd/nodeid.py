"""This node's UUID: glusterd's own when Gluster is installed, else one generated once and kept."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from glustereventsd.paths import Paths


def read_glusterd_uuid(glusterd_info: Path) -> str | None:
    """Return the ``UUID=`` value of glusterd.info, or None if there is no usable one."""
    try:
        with open(glusterd_info, encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                if key == "UUID" and value:
                    return str(uuid.UUID(value))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return None


def node_id(paths: Paths) -> str:
    """This node's id: glusterd's UUID, or a UUID generated on first use and persisted."""
    found = read_glusterd_uuid(paths.glusterd_info)
    if found:
        return found
    path = paths.node_id_file
    try:
        return str(uuid.UUID(path.read_text(encoding="utf-8").strip()))
    except (OSError, ValueError):
        pass
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
    return str(uuid.UUID(path.read_text(encoding="utf-8").strip()))
