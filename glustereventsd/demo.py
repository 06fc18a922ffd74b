"""A self-contained demonstration: daemon + webhook receiver + one event, in a local folder.

    python -m glustereventsd.demo [--folder ./demo] [--keep]

Needs no root and no Gluster: every file lives under ``--folder`` (GLUSTER_EVENTS_ROOT). It
starts a small webhook receiver on 127.0.0.1, registers it with ``gluster-eventsapi
webhook-add``, starts ``glustereventsd``, sends a VOLUME_CREATE event the way Gluster does
(one UDP datagram) and prints the JSON the webhook received. With ``--keep`` everything
stays up until Ctrl-C, so you can send more events yourself.
"""

from __future__ import annotations

import argparse
import http.server
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

from eventtypes.emit import gf_event


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_receiver(arrivals: queue.Queue[bytes]) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if body:
                arrivals.put(body)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    """Run the demonstration; 0 when the event arrived."""
    parser = argparse.ArgumentParser(prog="python -m glustereventsd.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=Path("demo"), help="where every file goes (default ./demo)")
    parser.add_argument("--keep", action="store_true", help="keep the daemon and receiver running until Ctrl-C")
    args = parser.parse_args()
    root = args.folder.resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(root)}
    arrivals: queue.Queue[bytes] = queue.Queue(maxsize=1000)
    receiver = _start_receiver(arrivals)
    url = f"http://127.0.0.1:{receiver.server_address[1]}/listen"
    port = _free_udp_port()
    print(f"State folder (GLUSTER_EVENTS_ROOT): {root}")
    print(f"Demo webhook receiver: {url}\n")
    cli = [sys.executable, "-m", "gluster_eventsapi"]
    print(f"$ gluster-eventsapi webhook-add {url}")
    subprocess.run([*cli, "webhook-del", url], env=env, capture_output=True, timeout=60)
    added = subprocess.run([*cli, "webhook-add", url], env=env, timeout=60)
    if added.returncode not in (0, 5):
        print("webhook-add failed; see the message above", file=sys.stderr)
        return 1
    daemon_log = root / "var/log/glusterfs/glustereventsd.log"
    print(f"\n$ glustereventsd --port {port}   (log: {daemon_log})")
    daemon = subprocess.Popen([sys.executable, "-m", "glustereventsd", "--port", str(port), "--listen", "127.0.0.1"],
                              env=env)
    try:
        deadline = time.monotonic() + 20
        while "glustereventsd started" not in (daemon_log.read_text() if daemon_log.exists() else ""):
            if daemon.poll() is not None or time.monotonic() > deadline:
                print("glustereventsd did not start; see its log above", file=sys.stderr)
                return 1
            time.sleep(0.05)
        print(f"\nSending VOLUME_CREATE name=demo-volume to 127.0.0.1:{port} (one UDP datagram, as Gluster does)")
        gf_event("VOLUME_CREATE", server="127.0.0.1", port=port, name="demo-volume")
        try:
            body = arrivals.get(timeout=10)
        except queue.Empty:
            print("No event reached the webhook within 10 s; see the daemon log", file=sys.stderr)
            return 1
        print("\nThe webhook received:")
        print(json.dumps(json.loads(body), indent=4, sort_keys=True))
        if args.keep:
            print(f"\nStill running. Send more with:\n  python -c \"from eventtypes.emit import gf_event; "
                  f"gf_event('VOLUME_START', server='127.0.0.1', port={port}, name='demo-volume', force=1)\"\n"
                  "Ctrl-C to stop.")
            try:
                while True:
                    print(json.dumps(json.loads(arrivals.get())), flush=True)
            except KeyboardInterrupt:
                pass
        return 0
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        receiver.shutdown()


if __name__ == "__main__":
    sys.exit(main())
