"""Benchmark of gluster-eventsapi over real SSH: status and webhook-add on pools of sshd nodes.

For each pool size the same run measures the floor that SSH sets on this machine
(``ssh <node> true`` to every node at once) and the CLI (run as its own process, as an
administrator would) against the same nodes. One extra case adds a node that accepts TCP but
never answers, to show that it costs one connect timeout, not one per node.

    python bench/cli_bench.py [--sizes 1,8,32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.cli.conftest import Tarpit  # noqa: E402
from tests.cli.sshpool import SshKeys, SshNode, write_ssh_config  # noqa: E402

CONNECT_TIMEOUT_SECS = 2
SHIPPED_DEFAULTS = json.loads((REPO / "etc/eventsconfig.json").read_text())


def timed(action: Callable[[], None], repeat: int) -> float:
    """Median wall time of ``repeat`` runs of ``action``."""
    times = []
    for _ in range(repeat):
        started = time.monotonic()
        action()
        times.append(time.monotonic() - started)
    return statistics.median(times)


def floor(nodes: list[SshNode], ssh_config: Path) -> None:
    """``ssh <node> true`` to every node at once."""
    procs = [subprocess.Popen(["ssh", "-F", str(ssh_config), "-o", "BatchMode=yes", node.name,
                               "true"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for node in nodes]
    for proc in procs:
        if proc.wait(timeout=120) != 0:
            raise RuntimeError("ssh true failed: the pool is not healthy")


class CliNode:
    """The node the administrator types on: its own root, a peers file, the SSH settings."""

    def __init__(self, folder: Path, ssh_config: Path, peers: dict[str, dict[str, object]]) -> None:
        self.root = folder / "cli-root"
        (self.root / "etc/glusterfs").mkdir(parents=True)
        (self.root / "etc/glusterfs/eventsconfig.json").write_text(json.dumps({
            **SHIPPED_DEFAULTS,
            "ssh-config": str(ssh_config),
            "ssh-host-key-checking": "yes",
            "ssh-connect-timeout-secs": CONNECT_TIMEOUT_SECS,
            "ssh-remote-command": str(Path(sysconfig.get_path("scripts")) / "gluster-eventsapi"),
        }))
        events = self.root / "var/lib/glusterd/events"
        events.mkdir(parents=True)
        (events / "peers.json").write_text(json.dumps(peers))
        self.count = 0

    def run(self, *argv: str, expect: int = 0) -> None:
        env = {"GLUSTER_EVENTS_ROOT": str(self.root), "PATH": "/usr/bin:/bin"}
        done = subprocess.run([sys.executable, "-m", "gluster_eventsapi", *argv], env=env,
                              capture_output=True, timeout=300)
        if done.returncode != expect:
            raise RuntimeError(f"{argv}: exit {done.returncode}, expected {expect}:\n"
                               f"{done.stdout.decode()}{done.stderr.decode()}")

    def add_webhook(self) -> None:
        self.count += 1
        self.run("webhook-add", f"http://127.0.0.1:9/bench{self.count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,8,32", help="pool sizes (remote nodes)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp:
        base = Path(tmp)
        keys = SshKeys.create(base / "keys")
        nodes = [SshNode(f"b{i}", f"127.0.1.{i}", base / f"b{i}", keys) for i in range(1, max(sizes) + 1)]
        try:
            for node in nodes:
                node.start()
            for size in sizes:
                pool = nodes[:size]
                folder = base / f"pool{size}"
                folder.mkdir()
                ssh_config = write_ssh_config(folder / "ssh_config", pool, keys)
                cli = CliNode(folder, ssh_config, {node.name: {} for node in pool})
                floor(pool, ssh_config)  # warm up caches once
                figures = {
                    "floor": timed(lambda: floor(pool, ssh_config), args.repeat),
                    "status": timed(lambda: cli.run("status"), args.repeat),
                    "webhook-add": timed(cli.add_webhook, args.repeat),
                }
                rows.append((f"{size}", figures))
                print(f"pool of {size}: {figures}", file=sys.stderr, flush=True)
            # one unreachable node (accepts TCP, never answers) next to the largest pool
            size = max(sizes)
            tarpit = Tarpit("127.0.1.250")
            try:
                folder = base / "unreachable"
                folder.mkdir()
                ssh_config = write_ssh_config(folder / "ssh_config", nodes[:size], keys)
                peers: dict[str, dict[str, object]] = {n.name: {} for n in nodes[:size]}
                peers[tarpit.address] = {"ssh-port": tarpit.port}
                cli = CliNode(folder, ssh_config, peers)
                figures = {
                    "floor": timed(lambda: floor(nodes[:size], ssh_config), args.repeat),
                    "status": timed(lambda: cli.run("status", expect=4), args.repeat),
                    "webhook-add": timed(lambda: (setattr(cli, "count", cli.count + 1),
                                                  cli.run("webhook-add",
                                                          f"http://127.0.0.1:9/u{cli.count}",
                                                          expect=4)), args.repeat),
                }
                rows.append((f"{size}+1 dead", figures))
            finally:
                tarpit.close()
        finally:
            for node in nodes:
                node.stop()
    print(f"\ngluster-eventsapi over SSH, median of {args.repeat} runs "
          f"(connect timeout {CONNECT_TIMEOUT_SECS}s; floor = ssh <node> true to all nodes at once)\n")
    print(f"{'nodes':>10} | {'floor s':>8} | {'status s':>8} | {'x floor':>7} | "
          f"{'webhook-add s':>13} | {'x floor':>7}")
    print("-" * 70)
    for label, f in rows:
        print(f"{label:>10} | {f['floor']:8.2f} | {f['status']:8.2f} | "
              f"{f['status'] / f['floor']:7.2f} | {f['webhook-add']:13.2f} | "
              f"{f['webhook-add'] / f['floor']:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
