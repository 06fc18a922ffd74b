"""tests/hostnode.py, the check that the suite runs on a Gluster node, can itself fail.

Each test runs a small command on the populated node and looks at what hostnode says: a
command that reads nothing passes; one that copies the node's webhooks into its pytest
folder, edits its eventsconfig.json or runs the ``gluster`` CLI there (which writes the
default workdir and its log) fails, naming what; the machine's own files are the same
afterwards, and nothing of the run (its glusterd) is left. tests/glusterpkg.py, seen from
the populated node, still gives the package's files, not the node's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import hostnode
from tests.gluster.node import REPO, skip_reason

SKIP = skip_reason()
pytestmark = [pytest.mark.skipif(SKIP is not None, reason=str(SKIP)), pytest.mark.timeout(300)]


@pytest.fixture
def folder() -> Iterator[Path]:
    """The run's folder, outside pytest's own: it holds the node's sentinels on purpose (an
    enclosing hostnode run scans pytest's folder)."""
    made = Path(tempfile.mkdtemp(prefix="hostnode-test-"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def _hostnode(folder: Path, *command: str, glusterd: bool = False) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "tests.hostnode", "--folder", str(folder), *(["--glusterd"] if glusterd else []),
            "--", *command]
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=240, check=False)


def _mount_ns_users(inode: int) -> list[int]:
    users = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/mnt").st_ino == inode:
                    users.append(int(entry))
            except OSError:
                continue
    return users


def test_a_command_that_reads_nothing_passes_and_the_node_and_its_glusterd_were_real(folder: Path) -> None:
    machine = hostnode.snapshot()
    # Reading is no leak (only what lands in pytest's folder is); asking glusterd would be
    # (it logs each request), so its socket and process are only looked at.
    script = ('stat -L -c %i /proc/self/ns/mnt > "$0/ns" && test -S /run/glusterd.socket '
              '&& pgrep -x glusterd > "$0/pids" '
              '&& cat /var/lib/glusterd/events/webhooks.json /etc/glusterfs/eventsconfig.json > "$0/seen"')
    done = _hostnode(folder, "sh", "-c", script, str(folder), glusterd=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problem(s) with the host node" in done.stdout
    # hostnode ran the command only once 'gluster pool list' gave the node's id: glusterd runs
    # on the populated workdir; here it is the one glusterd of the run's PID namespace.
    assert len((folder / "pids").read_text().split()) == 1
    seen = (folder / "seen").read_text()
    assert hostnode.HOST_WEBHOOK in seen and f'"port": {hostnode.HOST_PORT}' in seen
    assert hostnode.differences(machine, hostnode.snapshot()) == []
    assert _mount_ns_users(int((folder / "ns").read_text())) == []  # glusterd ended with the namespaces


def test_a_command_that_copies_the_nodes_webhooks_into_its_pytest_folder_fails(folder: Path) -> None:
    basetemp = folder / "basetemp"
    done = _hostnode(folder, "sh", "-c", 'mkdir -p "$0/n" && cp /var/lib/glusterd/events/webhooks.json "$0/n/"',
                     str(basetemp))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"leaked into a test: {basetemp}/n/webhooks.json holds {hostnode.SENTINEL}" in done.stdout


def test_a_command_that_edits_the_nodes_files_or_runs_gluster_there_fails(folder: Path) -> None:
    machine = hostnode.snapshot()
    done = _hostnode(folder, "sh", "-c", "echo >> /etc/glusterfs/eventsconfig.json; "
                     "gluster --mode=script system:: getwd; exit 0")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the host node's files: /etc/glusterfs/eventsconfig.json changed" in done.stdout
    assert "the host node's files: /var/lib/glusterd/geo-replication was added" in done.stdout
    assert "the host node's files: /var/log/glusterfs/cli.log" in done.stdout  # added, or changed
    assert hostnode.differences(machine, hostnode.snapshot()) == []  # all of it in the namespaces


def test_the_commands_own_failure_is_its_exit_status(folder: Path) -> None:
    done = _hostnode(folder, "sh", "-c", "exit 3")
    assert done.returncode == 3 and "command exited 3; 0 problem(s)" in done.stdout


def test_glusterpkg_gives_the_package_files_not_the_edited_nodes(folder: Path) -> None:
    probe = ("import json, sys\n"
             "from pathlib import Path\n"
             "from tests import glusterpkg\n"
             "out = Path(sys.argv[1])\n"
             "print('host-copy', glusterpkg._from_host(out / 'host'))\n"
             "glusterpkg.install_package_files(out / 'etc', out / 'workdir')\n"
             "print('port', json.loads((out / 'etc/eventsconfig.json').read_text())['port'])\n"
             "print('state', sorted(p.name for p in (out / 'workdir').iterdir()))\n"
             "print('hook', (out / 'workdir/hooks/1/create/post/S99i17-host-node-sentinel.sh').exists())\n")
    done = _hostnode(folder, sys.executable, "-c", probe, str(folder / "probe"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "host-copy False" in done.stdout  # the edited eventsconfig.json is refused
    assert "port 55555" in done.stdout and "state ['groups', 'hooks']" in done.stdout
    assert "hook False" in done.stdout
