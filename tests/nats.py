"""Real NATS servers for tests: Debian's nats-server with JetStream, alone or as a 3-node cluster on 127.0.0.1.

Each server gets its own folder (config, JetStream store, log) and ports picked by the
kernel; it can be stopped, killed (SIGKILL) and started again on the same ports with the
same store, as a crash and restart would. Every process is ended by its pid in ``close``.
A JetStream consumer (``read_stream``) reads back what the streams hold, as a real consumer
of the sink would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy, StreamConfig

T = TypeVar("T")
BINARY = shutil.which("nats-server") or "/usr/sbin/nats-server"


def available() -> bool:
    """True when nats-server is installed (``.ci/run`` installs it)."""
    return Path(BINARY).exists()


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 the kernel just handed out (and took back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One nats-server -js process (see the module docstring)."""

    def __init__(self, folder: Path, name: str = "n1", config: str = "", cluster: str = "",
                 port: int | None = None, cluster_port: int | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = port or free_tcp_port()
        self.http_port = free_tcp_port()
        self.cluster_port = cluster_port
        self.extra = config  # auth, tls, max_payload... (nats-server config syntax)
        self.cluster = cluster  # the cluster block, made by NatsCluster
        self.log = folder / "nats-server.log"
        self.config_file = folder / "nats-server.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"nats://{self.address}"

    def write_config(self) -> None:
        store = self.folder / "jetstream"
        self.config_file.write_text(
            f"server_name: {self.name}\nlisten: {self.address}\nhttp: 127.0.0.1:{self.http_port}\n"
            f"jetstream {{ store_dir: \"{store}\" }}\n{self.cluster}\n{self.extra}\n")
        self.config_file.chmod(0o600)

    def start(self, wait: bool = True) -> NatsServer:
        self.write_config()
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([BINARY, "-c", str(self.config_file)], stdout=log, stderr=log)
        if wait:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nats-server {self.name} exited: {self.log_text()[-2000:]}")
                if "Server is ready" in self.log_text(offset):
                    return self
                time.sleep(0.05)
            raise RuntimeError(f"nats-server {self.name} did not start within 20 s: {self.log_text()[-2000:]}")
        return self

    def log_text(self, offset: int = 0) -> str:
        try:
            with open(self.log, "rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (kill after 10 s)."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash."""
        self._end(signal.SIGKILL)

    def _end(self, signum: int) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def connections(self) -> list[dict[str, Any]]:
        """The client connections, from the server's monitoring endpoint (/connz)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/connz", timeout=5) as answer:
            data = json.loads(answer.read())
        return list(data.get("connections") or [])


class NatsCluster:
    """Three (or ``size``) servers of one cluster, routes between all of them, on 127.0.0.1."""

    def __init__(self, folder: Path, size: int = 3, config: str = "") -> None:
        ports = [free_tcp_port() for _ in range(size)]
        routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in ports)
        self.servers = []
        for index, port in enumerate(ports):
            block = f"cluster {{ name: gev-test\n  listen: 127.0.0.1:{port}\n  routes: [{routes}] }}"
            self.servers.append(NatsServer(folder / f"n{index + 1}", f"n{index + 1}", config, block,
                                           cluster_port=port))

    def start(self) -> NatsCluster:
        for server in self.servers:
            server.start(wait=False)
        for server in self.servers:
            deadline = time.monotonic() + 30
            while "Server is ready" not in server.log_text():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server {server.name} did not start: {server.log_text()[-2000:]}")
                time.sleep(0.05)
        return self

    @property
    def url(self) -> str:
        """A sink URL's server list: every server, comma-separated."""
        return "nats://" + ",".join(server.address for server in self.servers)

    def by_name(self, name: str) -> NatsServer:
        return next(server for server in self.servers if server.name == name)

    def close(self) -> None:
        for server in self.servers:
            server.kill()


# -- the test side's own client -----------------------------------------------------------------

def run(work: Callable[[Client], Awaitable[T]], servers: str | list[str], timeout: float = 60,
        **options: Any) -> T:
    """Connect (nats-py), run ``work(client)``, close: all within ``timeout`` seconds."""
    async def main() -> T:
        client = await nats.connect(servers, connect_timeout=5, max_reconnect_attempts=3, **options)
        try:
            return await work(client)
        finally:
            await client.close()

    return asyncio.run(asyncio.wait_for(main(), timeout))


def add_stream(servers: str | list[str], name: str, subjects: list[str], replicas: int = 1,
               duplicate_window: float = 600, **options: Any) -> None:
    """Create a stream (retrying while a new cluster elects its JetStream leader)."""
    async def work(client: Client) -> None:
        js = client.jetstream(timeout=5)
        deadline = time.monotonic() + 30
        while True:
            try:
                await js.add_stream(StreamConfig(name=name, subjects=subjects, num_replicas=replicas,
                                                 duplicate_window=duplicate_window))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    run(work, servers, **options)


@dataclass(frozen=True)
class Stored:
    """One message as a JetStream consumer received it."""

    seq: int  # stream sequence
    subject: str
    headers: dict[str, str]
    data: bytes
    stored_at: float = 0.0  # when the stream stored it (the server's clock: this machine's)

    def json(self) -> Any:
        return json.loads(self.data)


def read_stream(servers: str | list[str], stream: str, subject: str = ">", expect: int | None = None,
                timeout: float = 60, **options: Any) -> list[Stored]:
    """Every message of ``stream`` (on ``subject``), in stream order, read by an ephemeral pull consumer.

    With ``expect``, waits (within ``timeout``) until at least that many are there.
    """
    async def work(client: Client) -> list[Stored]:
        js = client.jetstream(timeout=10)
        deadline = time.monotonic() + timeout

        async def patiently(call: Callable[[], Awaitable[T]]) -> T:
            # A cluster that just lost a server answers nothing while it elects new leaders.
            while True:
                try:
                    return await call()
                except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError,
                        nats.errors.NoRespondersError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.5)

        async def messages() -> int:
            return int((await js.stream_info(stream)).state.messages)

        if expect is not None:
            while await patiently(messages) < expect and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        total = await patiently(messages)
        filter_subject = None if subject == ">" else subject
        sub = await patiently(lambda: js.pull_subscribe(
            filter_subject or "", stream=stream,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, filter_subject=filter_subject,
                                  inactive_threshold=60)))
        found: list[Stored] = []
        while time.monotonic() < deadline:
            try:
                batch = await sub.fetch(500, timeout=2)
            except nats.errors.TimeoutError:
                if filter_subject is not None or len(found) >= total:
                    break
                continue
            for msg in batch:
                stamp = msg.metadata.timestamp
                found.append(Stored(msg.metadata.sequence.stream, msg.subject, dict(msg.headers or {}), msg.data,
                                    stamp.timestamp() if stamp is not None else 0.0))
                await msg.ack()
            if filter_subject is None and len(found) >= total:
                break
        await sub.unsubscribe()
        return found

    return run(work, servers, timeout=timeout + 30, **options)


def stream_info(servers: str | list[str], stream: str, patience: float = 30, **options: Any) -> Any:
    """The stream's info (asked again while a cluster elects leaders, up to ``patience`` seconds)."""
    async def work(client: Client) -> Any:
        deadline = time.monotonic() + patience
        while True:
            try:
                return await client.jetstream(timeout=5).stream_info(stream)
            except (nats.errors.TimeoutError, nats.js.errors.ServiceUnavailableError, nats.errors.NoRespondersError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    return run(work, servers, **options)


# -- NKeys and JWTs for operator mode (.creds) ----------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_keypair(prefix: int) -> Any:
    import nkeys

    return nkeys.from_seed(bytearray(nkeys.encode_seed(os.urandom(32), prefix)))


def user_keypair(seed: str) -> Any:
    import nkeys

    return nkeys.from_seed(bytearray(seed.encode()))


def mint_jwt(issuer: Any, subject: str, name: str, claims: dict[str, Any]) -> str:
    """A NATS JWT (v2) signed with ``issuer``'s NKey, as nsc would make it."""
    body: dict[str, Any] = {"jti": "", "iat": int(time.time()), "iss": issuer.public_key.decode(), "name": name,
                            "sub": subject, "nats": {**claims, "version": 2}}
    body["jti"] = base64.b32encode(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()).decode()
    signing = f"{_b64(json.dumps({'typ': 'JWT', 'alg': 'ed25519-nkey'}).encode())}.{_b64(json.dumps(body).encode())}"
    return f"{signing}.{_b64(issuer.sign(signing.encode()))}"


UNLIMITED = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": True, "conn": -1,
             "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1}


def operator_mode(user_seed: str) -> tuple[str, str]:
    """(server config lines, .creds text): an operator, a JetStream account and a user holding ``user_seed``."""
    import nkeys

    operator = new_keypair(nkeys.PREFIX_BYTE_OPERATOR)
    account = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    system = new_keypair(nkeys.PREFIX_BYTE_ACCOUNT)
    user = user_keypair(user_seed)
    operator_jwt = mint_jwt(operator, operator.public_key.decode(), "test-operator", {"type": "operator"})
    account_jwt = mint_jwt(operator, account.public_key.decode(), "gluster", {"type": "account", "limits": UNLIMITED})
    no_js = {**UNLIMITED, "mem_storage": 0, "disk_storage": 0, "streams": 0, "consumer": 0}
    system_jwt = mint_jwt(operator, system.public_key.decode(), "SYS", {"type": "account", "limits": no_js})
    user_jwt = mint_jwt(account, user.public_key.decode(), "glustereventsd",
                        {"type": "user", "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1})
    config = (f"operator: {operator_jwt}\nsystem_account: {system.public_key.decode()}\nresolver: MEMORY\n"
              f"resolver_preload: {{\n  {account.public_key.decode()}: {account_jwt}\n"
              f"  {system.public_key.decode()}: {system_jwt}\n}}\n")
    creds = (f"-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n"
             "************************* IMPORTANT *************************\n"
             "NKEY Seed printed below can be used to sign and prove identity.\n\n"
             f"-----BEGIN USER NKEY SEED-----\n{user_seed}\n------END USER NKEY SEED------\n\n"
             "*************************************************************\n")
    return config, creds


# -- a TCP relay that can hold the server's answers: a PubAck lost after the stream stored the event ----

class AckHoldingRelay:
    """Relays TCP from 127.0.0.1:<port> to a NATS server; ``hold`` stops relaying what the server sends.

    While held, the client's messages still reach the server (which stores them) but no
    PubAck comes back, as when a network drops the answers; ``cut`` then closes every
    relayed connection (the client reconnects through the relay), and ``release`` resumes.
    """

    def __init__(self, upstream_port: int) -> None:
        import threading

        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.released = threading.Event()
        self.released.set()
        self.closed = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="relay", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        import threading

        self.listener.settimeout(0.1)
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_server: bool) -> None:
        held = bytearray()  # the server's bytes read while holding (a recv already under way): never relayed
        try:
            source.settimeout(0.1)
        except OSError:  # cut meanwhile
            return
        while not self.closed.is_set():
            if from_server and not self.released.is_set():
                time.sleep(0.01)  # held: leave the server's bytes unread
                continue
            try:
                data = source.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            if from_server and not self.released.is_set():
                held += data  # hold() came while this recv waited: these bytes are held too
                continue
            try:
                target.sendall(data)
            except OSError:
                break
        for sock in (source, target):
            try:
                sock.close()
            except OSError:
                pass

    def hold(self) -> None:
        self.released.clear()

    def cut(self) -> None:
        """Close every relayed connection (new ones are accepted)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.closed.set()
        self.cut()
        self._thread.join(5)
        self.listener.close()
