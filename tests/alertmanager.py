"""A real Prometheus Alertmanager (Debian's ``prometheus-alertmanager``) for the tests, on 127.0.0.1.

Started with clustering off (``--cluster.listen-address ""``) and a minimal config (one
route to one receiver with no integrations), as /work/shared/ALERTMANAGER.md says. Alerts
are read back through its own API (``GET /api/v2/alerts``), the independent check.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Optional

from tests.helpers import wait_for

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """\
route:
  receiver: nobody
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nobody
"""


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Alertmanager:
    """One Alertmanager process; ``start`` again after ``stop`` keeps its port (and forgets its alerts)."""

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = root
        self.port = port or free_tcp_port()
        self.proc: Optional[subprocess.Popen[bytes]] = None
        root.mkdir(parents=True, exist_ok=True)
        (root / "alertmanager.yml").write_text(CONFIG)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        assert BINARY, "prometheus-alertmanager is not installed (.ci/run installs it)"
        with open(self.root / "alertmanager.log", "ab") as out:
            self.proc = subprocess.Popen(
                [BINARY, "--config.file", str(self.root / "alertmanager.yml"),
                 "--storage.path", str(self.root / "data"), "--web.listen-address", f"127.0.0.1:{self.port}",
                 "--cluster.listen-address", "", "--log.level", "warn"],
                stdout=out, stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout=20, what="alertmanager ready")
        return self

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, (self.root / "alertmanager.log").read_text()
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts`` (active, silenced, inhibited: Alertmanager's defaults), filtered by labels."""
        query = "&".join(f"filter={urllib.request.quote(f'{k}={json.dumps(v)}')}" for k, v in filters.items())
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts?{query}", timeout=5) as answer:
            return list(json.loads(answer.read()))

    def post(self, alerts: list[dict[str, Any]]) -> int:
        request = urllib.request.Request(f"{self.url}/api/v2/alerts", json.dumps(alerts).encode(),
                                         {"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as err:
            return int(err.code)
