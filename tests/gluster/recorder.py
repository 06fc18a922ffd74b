"""A webhook receiver that appends every request it gets to a file, one JSON line each.

Run inside a node's namespaces (``python -m tests.gluster.recorder OUT``), where the test's
own receivers cannot be reached: it prints the port it listens on (127.0.0.1), answers 200
with keep-alive, and writes ``{"at", "path", "headers", "body"}`` per request.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import time


def main() -> int:
    out = open(sys.argv[1], "a", encoding="utf-8", buffering=1)
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            line = json.dumps({"at": time.time(), "path": self.path,
                               "headers": {k.lower(): v for k, v in self.headers.items()},
                               "body": body.decode("utf-8", "replace")})
            with lock:
                out.write(line + "\n")
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
