"""A self-contained demonstration of the whole path, with the real tools, in a local folder.

    python -m glustereventsd.demo [--folder ./demo] [--keep]

Needs no root and no Gluster: every file lives under ``--folder`` (GLUSTER_EVENTS_ROOT). It
runs exactly what an administrator would: ``gluster-eventsapi listen`` (a webhook receiver),
``gluster-eventsapi webhook-add``, ``glustereventsd``, then ``gluster-eventsapi emit
VOLUME_CREATE name=demo-volume`` (one UDP datagram, as Gluster sends it), and prints the JSON
the webhook received. With ``--keep`` everything stays up until Ctrl-C, and the receiver's
live page (``listen --web``) shows every event sent meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(title: str, argv: list[str], env: dict[str, str]) -> int:
    print(f"\n$ {title}", flush=True)
    return subprocess.run([sys.executable, "-m", *argv], env=env, timeout=120).returncode


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    """Run the demonstration; 0 when the event arrived."""
    parser = argparse.ArgumentParser(prog="python -m glustereventsd.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("demo"), help="where every file goes (default ./demo)")
    parser.add_argument("--keep", action="store_true", help="keep everything running until Ctrl-C")
    args = parser.parse_args()
    root = args.folder.resolve()
    root.mkdir(parents=True, exist_ok=True)
    # The folder is the demo's own: forget webhooks an earlier run registered on other ports.
    (root / "var/lib/glusterd/events/webhooks.json").unlink(missing_ok=True)
    # The demo's one-node pool is its peers file, even where a `gluster` command is installed.
    env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(root), "GLUSTER_EVENTS_POOL": "peers-file"}
    http_port, udp_port = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    url = f"http://127.0.0.1:{http_port}/listen"
    print(f"Every file of this demo lives under {root} (GLUSTER_EVENTS_ROOT); its pool is the "
          "peers file there (GLUSTER_EVENTS_POOL=peers-file)")

    print(f"\n$ gluster-eventsapi listen --port {http_port} --json --web &", flush=True)
    listener = subprocess.Popen([sys.executable, "-m", "gluster_eventsapi", "listen", "--port", str(http_port),
                                 "--json", "--web"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    bodies: queue.Queue[str] = queue.Queue(maxsize=1000)

    def read_bodies() -> None:
        assert listener.stdout is not None
        for line in listener.stdout:
            try:
                bodies.put(line.decode("utf-8").strip(), timeout=1)
            except queue.Full:
                pass

    threading.Thread(target=read_bodies, daemon=True).start()
    daemon: subprocess.Popen[bytes] | None = None
    try:
        if _run(f"gluster-eventsapi webhook-add {url}", ["gluster_eventsapi", "webhook-add", url], env) not in (0, 5):
            print("webhook-add failed: see the message above", file=sys.stderr)
            return 1
        daemon_log = root / "var/log/glusterfs/glustereventsd.log"
        print(f"\n$ glustereventsd --port {udp_port} &   # its log: {daemon_log}", flush=True)
        offset = daemon_log.stat().st_size if daemon_log.exists() else 0
        daemon = subprocess.Popen([sys.executable, "-m", "glustereventsd", "--port", str(udp_port),
                                   "--listen", "127.0.0.1"], env=env)
        deadline = time.monotonic() + 20
        while "glustereventsd started" not in (daemon_log.read_text()[offset:] if daemon_log.exists() else ""):
            if daemon.poll() is not None or time.monotonic() > deadline:
                print(f"glustereventsd did not start: see {daemon_log}", file=sys.stderr)
                return 1
            time.sleep(0.05)
        if _run(f"gluster-eventsapi emit VOLUME_CREATE name=demo-volume --port {udp_port}",
                ["gluster_eventsapi", "emit", "VOLUME_CREATE", "name=demo-volume", "--port", str(udp_port)],
                env) != 0:
            return 1
        try:
            body = bodies.get(timeout=15)
        except queue.Empty:
            print(f"No event reached the webhook within 15 s: see {daemon_log}", file=sys.stderr)
            return 1
        print("\nThe webhook received:")
        print(json.dumps(json.loads(body), indent=4, sort_keys=True), flush=True)
        if args.keep:
            print(f"\nStill running. Watch the events arrive: open http://127.0.0.1:{http_port}/ in a browser."
                  f"\nIn another shell:\n  export GLUSTER_EVENTS_ROOT={root}\n"
                  f"  gluster-eventsapi emit VOLUME_START name=demo-volume force=1 --port {udp_port}\n"
                  "  gluster-eventsapi status\nCtrl-C here to stop.", flush=True)
            try:
                while True:
                    print(bodies.get(), flush=True)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        if daemon is not None:
            _stop(daemon)
        _stop(listener)


if __name__ == "__main__":
    sys.exit(main())
