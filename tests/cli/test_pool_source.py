"""Where the pool comes from when a `gluster` command exists but cannot answer, or must not be asked.

Found on a machine with Debian's glusterfs-server installed and glusterd stopped: `gluster
pool list --xml` then prints "Connection failed. Please check if gluster daemon is
operational." on stdout (not XML) and exits 1, and the CLI said "cannot parse ... syntax
error"; the GLUSTER_EVENTS_ROOT demo broke the same way. The stand-in below prints exactly
what gluster 10.3 prints there (measured with the real one).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from gluster_eventsapi.__main__ import main
from gluster_eventsapi.context import Context

GLUSTERD_DOWN = "Connection failed. Please check if gluster daemon is operational.\n"


def _root_with_gluster(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    (root / "var/lib/glusterd/events").mkdir(parents=True)
    (root / "var/lib/glusterd/events/peers.json").write_text("{}")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "gluster"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{GLUSTERD_DOWN}'\nexit 1\n")
    script.chmod(0o755)
    return root, bin_dir


def _run(root: Path, bin_dir: Path, *argv: str, **env: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    # Under GLUSTER_EVENTS_ROOT gluster on PATH is not asked: name the stand-in explicitly.
    environ = {"GLUSTER_EVENTS_ROOT": str(root), "PATH": f"{bin_dir}:/usr/bin:/bin",
               "GLUSTER_CLI": str(bin_dir / "gluster"), **env}
    status = main(list(argv), Context(environ=environ, stdin=io.StringIO(""), stdout=out, stderr=err))
    return status, out.getvalue(), err.getvalue()


def test_glusterd_down_is_said_plainly(tmp_path: Path) -> None:
    root, bin_dir = _root_with_gluster(tmp_path)
    status, out, err = _run(root, bin_dir, "status")
    assert status == 1 and out == ""
    assert "'gluster pool list' failed: Connection failed. Please check if gluster daemon is operational." in err
    assert "is glusterd running?" in err and "GLUSTER_EVENTS_POOL=peers-file" in err
    assert "cannot parse" not in err and "Traceback" not in err


def test_peers_file_chosen_even_where_gluster_is_installed(tmp_path: Path) -> None:
    root, bin_dir = _root_with_gluster(tmp_path)
    status, out, err = _run(root, bin_dir, "status", "--json", GLUSTER_EVENTS_POOL="peers-file")
    assert status == 0, err
    assert [row["node"] for row in json.loads(out)["output"]["data"]] == ["localhost"]
    status, out, err = _run(root, bin_dir, "peer-list", GLUSTER_EVENTS_POOL="peers-file")
    assert status == 0 and "peers.json" in out + err, out + err


def test_bad_pool_source_is_refused(tmp_path: Path) -> None:
    root, bin_dir = _root_with_gluster(tmp_path)
    status, out, err = _run(root, bin_dir, "status", GLUSTER_EVENTS_POOL="glusterd")
    assert status == 1 and "GLUSTER_EVENTS_POOL='glusterd': must be one of auto, peers-file" in err
