"""PID 1 of a single Gluster node's namespaces: sets up its private files, then waits.

Run by ``tests/gluster/node.py`` as ``unshare --mount --net --uts --pid --fork --mount-proc
--propagation private python -m tests.gluster.holder STATE``. Everything below happens in
namespaces of its own, so the host keeps its files, ports and hostname:

- network: only ``lo``, with 127.0.0.1, ::1, the node's address 10.211.0.1 (a brick may not
  be on a loopback address) and fd11:211::1 (a global IPv6 address, as a node with IPv6 has:
  only then does ``localhost`` resolve to ``::1`` first, where Gluster sends its events);
- files: an overlay on /var/lib (glusterd's workdir and our state are written to a tmpfs),
  with empty tmpfs on /var/lib/glusterd, /var/lib/glustereventsd and the workdir, which gets
  the package's hooks and groups; /etc/glusterfs as the package ships it (``STATE/pkg-etc``
  and ``STATE/pkg-workdir`` are made by node.py from tests/glusterpkg.py: on a machine that is
  itself a Gluster node, nothing of its own webhooks, config, node id, volumes, edited
  eventsconfig.json or hooks reaches the node); a Debian /etc/hosts, STATE/log on
  /var/log/glusterfs, tmpfs on /run (no host glusterd's socket) and /mnt (the bricks).

It prints ``ready`` and then reaps orphans until its stdin closes (the test ended, or the
test process died): when PID 1 of a PID namespace exits, the kernel kills every process
left in it, so nothing glusterd started (bricks, quotad, bitd) outlives the test.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
from pathlib import Path

NODE_ADDRESS = "10.211.0.1"
NODE_ADDRESS6 = "fd11:211::1"
HOSTNAME = "i11g-node"
WORKDIR = "/var/lib/glusterd-i11g"  # not the default: proves both CLIs find it with 'gluster system:: getwd'
HOSTS = (  # Debian's default /etc/hosts, and this node
    "127.0.0.1\tlocalhost\n"
    "::1\t\tlocalhost ip6-localhost ip6-loopback\n"
    "ff02::1\t\tip6-allnodes\n"
    "ff02::2\t\tip6-allrouters\n"
    f"{NODE_ADDRESS}\t{HOSTNAME}\n"
)


def run(*argv: str) -> None:
    subprocess.run(list(argv), check=True, timeout=30, stdin=subprocess.DEVNULL)


def setup(state: Path) -> None:
    """Network, hostname and private copies of every file Gluster and the daemons write."""
    run("ip", "link", "set", "lo", "up")
    run("ip", "addr", "add", f"{NODE_ADDRESS}/32", "dev", "lo")
    run("ip", "-6", "addr", "add", f"{NODE_ADDRESS6}/128", "dev", "lo", "nodad")
    run("hostname", HOSTNAME)

    varlib = state / "varlib"  # a tmpfs: an overlay's upper layer cannot be on an overlay (containers)
    varlib.mkdir()
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", str(varlib))
    upper, work = varlib / "upper", varlib / "work"
    upper.mkdir()
    work.mkdir()
    run("mount", "-t", "overlay", "overlay", "-o", f"lowerdir=/var/lib,upperdir={upper},workdir={work}",
        "/var/lib")
    for private in ("/var/lib/glusterd", "/var/lib/glustereventsd", WORKDIR):  # never the host's
        os.makedirs(private, exist_ok=True)  # in the overlay's upper layer when the host has none
        run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", private)
    shutil.copytree(state / "pkg-workdir", WORKDIR, symlinks=True, dirs_exist_ok=True)  # hooks, groups

    etc = state / "pkg-etc"
    volfile = etc / "glusterd.vol"
    shipped = volfile.read_text()
    if "option working-directory /var/lib/glusterd\n" not in shipped:
        raise OSError(f"{volfile} has no 'option working-directory /var/lib/glusterd' line to change")
    volfile.write_text(shipped.replace("option working-directory /var/lib/glusterd\n",
                                       f"option working-directory {WORKDIR}\n"))
    run("mount", "--bind", str(etc), "/etc/glusterfs")
    hosts = state / "hosts"
    hosts.write_text(HOSTS)
    run("mount", "--bind", str(hosts), "/etc/hosts")
    log = state / "log"
    log.mkdir()
    run("mount", "--bind", str(log), "/var/log/glusterfs")
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run")
    for folder in ("/run/gluster", "/run/sshd"):
        os.makedirs(folder, mode=0o755)
    run("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/mnt")
    os.makedirs("/mnt/bricks")


def wait_for_stdin_to_close() -> None:
    """Reap orphaned children (PID 1's duty) until stdin reaches EOF."""
    while True:
        readable, _, _ = select.select([sys.stdin], [], [], 0.5)
        if readable and not os.read(sys.stdin.fileno(), 4096):
            return
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass


def main() -> int:
    try:
        setup(Path(sys.argv[1]))
    except (OSError, subprocess.SubprocessError) as err:
        print(f"setup failed: {err}", flush=True)
        return 1
    print("ready", flush=True)
    wait_for_stdin_to_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
