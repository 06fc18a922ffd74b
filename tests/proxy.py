"""Real forward proxies for tests and benchmarks: Debian's tinyproxy and squid, on loopback ports.

tinyproxy serves plain HTTP in absolute form (it adds a ``Via: 1.1 tinyproxy ...`` header)
and HTTPS through CONNECT tunnels; with ``user`` and ``password`` it demands Basic
credentials (407 otherwise). It closes every plain-HTTP connection after one request, so
squid, which keeps connections alive to both sides, is the one that shows the daemon's own
rate. ``requests()`` reads a proxy's log, so a test can see what really went through it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

VIA_PREFIX = "1.1 tinyproxy"  # the Via header tinyproxy adds starts so ("1.1 tinyproxy (tinyproxy/1.11.1)")


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProxyProcess:
    """A proxy process on 127.0.0.1:``port``; ``start``/``stop`` as often as a test needs (same port)."""

    name = "proxy"
    start_secs = 10.0

    def __init__(self, folder: Path, port: int | None) -> None:
        self.folder = folder
        self.port = port or free_tcp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> ProxyProcess:
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_secs
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.folder}") from None
                time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start listening within {self.start_secs:g}s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def log_lines(self, log: Path) -> list[str]:
        try:
            return log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []


class TinyProxy(ProxyProcess):
    """Debian's tinyproxy, with its own config and log."""

    name = "tinyproxy"

    def __init__(self, folder: Path, port: int | None = None, user: str = "", password: str = "") -> None:
        super().__init__(folder, port)
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / "tinyproxy.log"
        self.config = folder / "tinyproxy.conf"
        auth = f"BasicAuth {user} {password}\n" if user else ""
        # No ConnectPort line: CONNECT to any port (the test servers use ephemeral ones).
        self.config.write_text(f"Port {self.port}\nListen 127.0.0.1\nTimeout 30\nLogLevel Connect\n"
                               f"LogFile \"{self.log}\"\nMaxClients 200\nAllow 127.0.0.1\n"
                               f"ViaProxyName \"tinyproxy\"\n{auth}")

    def argv(self) -> list[str]:
        return [shutil.which("tinyproxy") or "/usr/bin/tinyproxy", "-d", "-c", str(self.config)]

    def requests(self) -> list[str]:
        """The request lines logged ("CONNECT 127.0.0.1:443 HTTP/1.1", "POST http://...")."""
        return [line.split("): ", 1)[1] for line in self.log_lines(self.log) if "Request (file descriptor" in line]


class Squid(ProxyProcess):
    """Debian's squid as a plain forward proxy: no cache, keep-alive to clients and servers.

    Started as root, squid runs as its own user, which must reach its logs: so they live in a
    fresh world-traversable folder under /tmp (``folder`` is not used), removed by ``stop``.
    """

    name = "squid"
    start_secs = 20.0

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="gev-squid-")), port)
        self.folder.chmod(0o777)
        self.log = self.folder / "access.log"
        self.config = self.folder / "squid.conf"
        self.config.write_text(
            f"http_port 127.0.0.1:{self.port}\nacl local src 127.0.0.1/32\nhttp_access allow local\n"
            "http_access deny all\ncache deny all\ncache_mem 8 MB\npinger_enable off\n"
            f"access_log stdio:{self.log}\ncache_log {self.folder / 'cache.log'}\n"
            f"pid_filename {self.folder / 'squid.pid'}\ncoredump_dir {self.folder}\nshutdown_lifetime 1 seconds\n"
            "client_persistent_connections on\nserver_persistent_connections on\n")

    def argv(self) -> list[str]:
        return [shutil.which("squid") or "/usr/sbin/squid", "-N", "-f", str(self.config)]

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def requests(self) -> list[str]:
        """Method and URL of each request logged ("POST http://...", "CONNECT host:port")."""
        return [" ".join(line.split()[5:7]) for line in self.log_lines(self.log) if len(line.split()) > 6]
