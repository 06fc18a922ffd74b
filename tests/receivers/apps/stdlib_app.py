"""The seed's example webhook written with Python's own http.server (``python stdlib_app.py HOST PORT``).

The handler is the seed's, line for line: read the body the Content-Length announces,
decode it as JSON, answer "OK" to a test call (no event), print an event. Only the
``record`` line is the test suite's.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import record  # noqa: E402


class Handler(http.server.BaseHTTPRequestHandler):
    """POST /listen as the seed's example answers it."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        record(self.path, self.headers.get("Host"), self.headers.get("Content-Type"),
               self.headers.get("Authorization"), body)
        gluster_event = json.loads(body)
        if gluster_event is not None:
            print(gluster_event, flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET


if __name__ == "__main__":
    Server((sys.argv[1], int(sys.argv[2])), Handler).serve_forever()
