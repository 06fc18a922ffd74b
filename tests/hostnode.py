"""Run a command (the test tiers) on a machine made to look like a Gluster node of its own, then
check that nothing of that node's files reached the tests and nothing of it was changed.

    python -m tests.hostnode [--glusterd] [--folder DIR] -- COMMAND...
    (or python tests/hostnode.py ...: it imports nothing of the project, so COMMAND may test any tree)

Issue 17: the suite must run on the machines it is for, Gluster nodes, where
/var/lib/glusterd has webhooks, a config, a node id, and /etc/glusterfs an edited
eventsconfig.json. Rather than write those into this machine (other test runs share it),
the command runs in private mount and PID namespaces (``unshare``) where overlays on
/var/lib, /etc/glusterfs, /var/log/glusterfs and /run (their upper layers on a tmpfs of its
own) hold the populated node, whose /run has no glusterd.socket of the machine's:

- /var/lib/glusterd/events/webhooks.json with a webhook, events/config.json, glusterd.info
  with a node id, a hook script that leaves a marker when any glusterd runs it;
- /etc/glusterfs/eventsconfig.json with another port and log level;
- /var/lib/glustereventsd/node-id, /var/log/glusterfs/{events,glustereventsd}.log;
- with ``--glusterd``, a running glusterd on that workdir, answering on /run/glusterd.socket
  and listening in a network namespace of its own: the command
  reaches it as any program of the node would, other runs on this machine never see it.

After the command: every file under those folders must be byte-for-byte as before (content,
type, mode, link target, and no file added or removed), no marker may exist, and no file
under the command's pytest ``--basetemp`` (``PYTEST_ADDOPTS``) may hold a sentinel string
of the populated node. The machine's real folders are compared before and after as well.
Nothing needs restoring: the namespaces' mounts and processes (glusterd too) end with them.
Exit status: the command's when it failed, else 1 when a check failed, else 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTINEL = "i17-host-node-sentinel"
HOST_UUID = "17171717-1717-4717-8717-171717171717"
HOST_NODE_ID = "17171717-0000-4000-8000-000000000017"
HOST_WEBHOOK = f"http://{SENTINEL}.invalid:9/listen"
HOST_PORT = 24011  # the distribution's is 55555, ours 24009
SENTINELS = (SENTINEL, HOST_UUID, HOST_NODE_ID)
WATCHED = ("/var/lib/glusterd", "/var/lib/glustereventsd", "/etc/glusterfs", "/var/log/glusterfs")
OVERLAID = ("/var/lib", "/etc/glusterfs", "/var/log/glusterfs", "/run")
SCAN_LIMIT = 64 * 2**20  # bytes of one file scanned for sentinels
Snapshot = dict[str, tuple[str, ...]]


def snapshot(roots: tuple[str, ...] = WATCHED) -> Snapshot:
    """Every entry under ``roots``: path -> (type, mode, sha256 or link target)."""
    found: Snapshot = {}
    for root in roots:
        if not os.path.lexists(root):
            found[root] = ("absent",)
            continue
        for folder, dirs, files in os.walk(root):
            for name in [*dirs, *files, ""]:
                path = os.path.join(folder, name) if name else folder
                info = os.lstat(path)
                mode = oct(info.st_mode & 0o7777)
                if os.path.islink(path):
                    found[path] = ("link", os.readlink(path))
                elif os.path.isdir(path):
                    found[path] = ("dir", mode, str(info.st_uid), str(info.st_gid))
                elif os.path.isfile(path):
                    with open(path, "rb") as handle:
                        found[path] = ("file", mode, hashlib.sha256(handle.read()).hexdigest())
                else:
                    found[path] = ("other", mode)
    return found


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed between two snapshots, one sentence per path."""
    changes = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            changes.append(f"{path} was removed")
        elif path not in before:
            changes.append(f"{path} was added ({after[path][0]})")
        elif before[path] != after[path]:
            changes.append(f"{path} changed: {before[path]} -> {after[path]}")
    return changes


def scan(folder: Path) -> list[str]:
    """Files under ``folder`` that hold one of SENTINELS."""
    hits = []
    wanted = [s.encode() for s in SENTINELS]
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > SCAN_LIMIT:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        found = [s.decode() for s in wanted if s in data]
        if found:
            hits.append(f"{path} holds {', '.join(found)}")
    return hits


def _run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, timeout=60, stdin=subprocess.DEVNULL)


def _write(path: str, text: str, mode: int = 0o644) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def populate(folder: Path) -> None:
    """Overlays on OVERLAID (upper layers on a private tmpfs), then the node's files in them."""
    layers = folder / "layers"
    layers.mkdir()
    _run("mount", "-t", "tmpfs", "-o", "mode=0700", "tmpfs", str(layers))
    for index, target in enumerate(OVERLAID):
        upper, work = layers / f"{index}.upper", layers / f"{index}.work"
        upper.mkdir()
        work.mkdir()
        _run("mount", "-t", "overlay", "i17host", "-o", f"lowerdir={target},upperdir={upper},workdir={work}", target)
    # The CLI writes geo-replication/gsyncd_template.conf into the default workdir on every
    # run: start without it, so that a `gluster` run against this node's files shows.
    shutil.rmtree("/var/lib/glusterd/geo-replication", ignore_errors=True)
    # No glusterd of the machine (or of an enclosing run) answers here: only this node's.
    if os.path.lexists("/run/glusterd.socket"):
        os.unlink("/run/glusterd.socket")
    _write("/var/lib/glusterd/events/webhooks.json",
           json.dumps({HOST_WEBHOOK: {"token": f"{SENTINEL}-token", "secret": ""}}, indent=4), 0o600)
    _write("/var/lib/glusterd/events/config.json", json.dumps({"log-level": "WARNING"}, indent=4))
    _write("/var/lib/glusterd/glusterd.info", f"UUID={HOST_UUID}\noperating-version=100000\n", 0o600)
    hook = "/var/lib/glusterd/hooks/1/create/post/S99i17-host-node-sentinel.sh"
    _write(hook, f"#!/bin/sh\n# {SENTINEL}: the host node's own hook\ntouch {folder / 'markers'}/hook-ran-$$\n", 0o755)
    _write("/var/lib/glustereventsd/node-id", HOST_NODE_ID + "\n")
    _write("/etc/glusterfs/eventsconfig.json",
           json.dumps({"log-level": "WARNING", "port": HOST_PORT, "disable-events-log": False}, indent=4) + "\n")
    for name in ("events.log", "glustereventsd.log"):
        _write(f"/var/log/glusterfs/{name}", f"[2026-01-01 00:00:00] INFO {SENTINEL} the host node's {name}\n")


def start_glusterd(folder: Path) -> subprocess.Popen[bytes]:
    """glusterd on the populated workdir, with a network namespace of its own (its ports) and
    its socket in the overlay on /run."""
    out = open(folder / "glusterd.out", "wb")
    glusterd = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link set lo up && exec glusterd -N"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 60
    while True:
        done = subprocess.run(["gluster", "--mode=script", "pool", "list"], capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL, check=False)
        if done.returncode == 0 and HOST_UUID.encode() in done.stdout:
            return glusterd
        if glusterd.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the host node's glusterd did not answer: {done.stdout!r} {done.stderr!r}")
        time.sleep(0.2)


def _wait_reaping(child: subprocess.Popen[bytes], others: list[subprocess.Popen[bytes]]) -> int:
    """Wait for ``child`` while reaping orphans (this process is PID 1 of its namespace); a
    process of ``others`` reaped meanwhile gets its exit status."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return child.wait()
        for process in (child, *others):
            if pid == process.pid:
                process.returncode = os.waitstatus_to_exitcode(status)
        if pid == child.pid:
            return int(child.returncode)


def inside(folder: Path, with_glusterd: bool, command: list[str]) -> int:
    """Run in the namespaces: populate, start glusterd, run ``command``, check."""
    populate(folder)
    (folder / "markers").mkdir()
    glusterd = start_glusterd(folder) if with_glusterd else None
    before = snapshot()
    basetemp = folder / "basetemp"
    env = {**os.environ, "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} --basetemp={basetemp}".strip()}
    print(f"hostnode: populated Gluster node{' with glusterd' if glusterd else ''}; running {command}", flush=True)
    status = _wait_reaping(subprocess.Popen(command, env=env), [glusterd] if glusterd else [])
    problems = [f"the host node's files: {change}" for change in differences(before, snapshot())]
    if glusterd is not None:
        if glusterd.poll() is not None:
            problems.append(f"the host node's glusterd exited during the run ({glusterd.returncode})")
        glusterd.send_signal(signal.SIGTERM)
        try:
            glusterd.wait(20)
        except subprocess.TimeoutExpired:
            glusterd.kill()
            glusterd.wait(10)
    problems += [f"the host node's hook ran: {marker.name}" for marker in (folder / "markers").iterdir()]
    problems += [f"leaked into a test: {hit}" for hit in scan(basetemp)]
    for problem in problems:
        print(f"hostnode: {problem}", flush=True)
    print(f"hostnode: command exited {status}; {len(problems)} problem(s) with the host node", flush=True)
    return status if status != 0 else (1 if problems else 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.hostnode", description=__doc__.split("\n\n")[0])
    parser.add_argument("--glusterd", action="store_true", help="also run glusterd on the populated node")
    parser.add_argument("--folder", type=Path, help="where the run keeps its files (default: a new temporary folder)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="+", help="the command to run, after --")
    args = parser.parse_args(argv)
    if args.inside:
        return inside(args.folder, args.glusterd, args.command)
    if os.geteuid() != 0:
        print("python -m tests.hostnode: needs root (mount and PID namespaces, overlays)", file=sys.stderr)
        return 2
    if args.glusterd and shutil.which("glusterd") is None:
        print("python -m tests.hostnode: --glusterd needs glusterd: install glusterfs-server", file=sys.stderr)
        return 2
    made = args.folder is None
    folder = Path(tempfile.mkdtemp(prefix="hostnode-")) if made else args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    machine_before = snapshot()
    unshare = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc"]
    me = [sys.executable, os.path.abspath(__file__), "--inside", "--folder", str(folder),  # imports nothing of the project
          *(["--glusterd"] if args.glusterd else []), "--", *args.command]
    status = subprocess.run([*unshare, *me], check=False).returncode
    changed = differences(machine_before, snapshot())
    for change in changed:
        print(f"hostnode: this machine's own files changed during the run: {change}", flush=True)
    if made and status == 0 and not changed:
        shutil.rmtree(folder, ignore_errors=True)
    elif made:
        print(f"hostnode: the run's files are kept in {folder}", flush=True)
    return status if status != 0 else (1 if changed else 0)


if __name__ == "__main__":
    sys.exit(main())
