"""A real forward proxy for tests: Debian's tinyproxy, on a loopback port, with its own config and log.

tinyproxy serves plain HTTP in absolute form (it adds a ``Via: 1.1 tinyproxy ...`` header) and HTTPS
through CONNECT tunnels; with ``user`` and ``password`` set it demands Basic credentials
(407 otherwise). ``requests()`` reads its log, so a test can see what really went through.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
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


class Squid:
    """Debian's squid as a plain forward proxy: no cache, keep-alive to clients and servers.

    Started as root, squid runs as its own user, which must reach its log folder: so the
    folder is a fresh world-traversable one under /tmp (``folder`` is unused but kept for
    the same signature as ``TinyProxy``), removed by ``stop``.
    """

    def __init__(self, folder: Path | None = None, port: int | None = None) -> None:
        self.binary = shutil.which("squid") or "/usr/sbin/squid"
        self.folder = Path(tempfile.mkdtemp(prefix="gev-squid-"))
        self.folder.chmod(0o777)
        self.port = port or free_tcp_port()
        self.log = self.folder / "access.log"
        self.config = self.folder / "squid.conf"
        self.config.write_text(
            f"http_port 127.0.0.1:{self.port}\nacl local src 127.0.0.1/32\nhttp_access allow local\n"
            "http_access deny all\ncache deny all\ncache_mem 8 MB\npinger_enable off\n"
            f"access_log stdio:{self.log}\ncache_log {self.folder / 'cache.log'}\npid_filename {self.folder / 'squid.pid'}\n"
            f"coredump_dir {self.folder}\nshutdown_lifetime 1 seconds\nclient_persistent_connections on\n"
            "server_persistent_connections on\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Squid:
        self.proc = subprocess.Popen([self.binary, "-N", "-f", str(self.config)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"squid exited with {self.proc.returncode}; see {self.folder}") from None
                time.sleep(0.1)
        raise RuntimeError("squid did not start listening within 20s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def requests(self) -> list[str]:
        """Method and URL of each request squid logged ("POST http://...", "CONNECT host:port")."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [" ".join(line.split()[5:7]) for line in lines if len(line.split()) > 6]
