"""A real forward proxy for tests: Debian's tinyproxy, on a loopback port, with its own config and log.

tinyproxy serves plain HTTP in absolute form (it adds a ``Via: 1.1 tinyproxy ...`` header) and HTTPS
through CONNECT tunnels; with ``user`` and ``password`` set it demands Basic credentials
(407 otherwise). ``requests()`` reads its log, so a test can see what really went through.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

VIA_PREFIX = "1.1 tinyproxy"  # the Via header it adds starts so ("1.1 tinyproxy (tinyproxy/1.11.1)")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TinyProxy:
    """One tinyproxy process; ``start``/``stop`` as often as a test needs (same port)."""

    def __init__(self, folder: Path, port: int | None = None, user: str = "", password: str = "") -> None:
        self.binary = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_tcp_port()
        self.log = folder / "tinyproxy.log"
        self.config = folder / "tinyproxy.conf"
        auth = f"BasicAuth {user} {password}\n" if user else ""
        # No ConnectPort line: CONNECT to any port (the test servers use ephemeral ones).
        self.config.write_text(f"Port {self.port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\n"
                               f"LogFile \"{self.log}\"\nMaxClients 200\nAllow 127.0.0.1\n"
                               f"ViaProxyName \"tinyproxy\"\n{auth}")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TinyProxy:
        self.proc = subprocess.Popen([self.binary, "-d", "-c", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tinyproxy exited with {self.proc.returncode}; see {self.log}") from None
                time.sleep(0.05)
        raise RuntimeError("tinyproxy did not start listening within 10s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def requests(self) -> list[str]:
        """The request lines tinyproxy logged ("CONNECT 127.0.0.1:443 HTTP/1.1", "POST http://...")."""
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return []
        return [line.split("): ", 1)[1] for line in text.splitlines() if "Request (file descriptor" in line]
