"""Test harness: a real HTTP webhook receiver, the daemon as a real process, and waiting with deadlines."""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glustereventsd.base.fsutil import atomic_write_bytes, dump_json

REPO = Path(__file__).resolve().parent.parent


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def free_udp_port() -> int:
    """A port free for UDP on both 0.0.0.0 and ::."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as v4:
            v4.bind(("0.0.0.0", 0))
            port = v4.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as v6:
                    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    v6.bind(("::", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free UDP port")


def send_raw(port: int, data: bytes, host: str = "127.0.0.1") -> None:
    """Send one datagram."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.sendto(data, (host, port))


@dataclass
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


HANG = -1  # in Behaviour.statuses: hold this request without answering (until released or stopped)


@dataclass
class Behaviour:
    """What the receiver answers: a queue of statuses (then ``default``), a delay, or hanging.

    ``statuses`` may hold ``HANG`` to hang one request; ``hang`` hangs every request.
    """

    statuses: list[int] = field(default_factory=list)
    default: int = 200
    delay_secs: float = 0.0
    hang: bool = False
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Attempt:
    """Any request the receiver got, whatever it answered (HANG for a request it held)."""

    headers: dict[str, str]
    body: bytes
    status: int
    at: float


class Receiver:
    """A real HTTP/1.1 keep-alive webhook receiver on 127.0.0.1, recording every request."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.behaviour = Behaviour()
        self.requests: list[Received] = []
        self.attempts: list[Attempt] = []
        self.lock = threading.Lock()
        self.release = threading.Event()  # set to free hanging handlers
        self._connections: set[socket.socket] = set()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/listen"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 65536  # status, headers and body in one send (two sends cost a 40 ms delayed ACK)

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with receiver.lock:
                    receiver._connections.add(self.connection)

            def finish(self) -> None:
                with receiver.lock:
                    receiver._connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                behaviour = receiver.behaviour
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    status = behaviour.statuses.pop(0) if behaviour.statuses else behaviour.default
                    if behaviour.hang:
                        status = HANG
                    receiver.attempts.append(Attempt(headers, body, status, time.time()))
                if status == HANG:
                    receiver.release.wait(60)
                    self.close_connection = True
                    return
                if behaviour.delay_secs:
                    time.sleep(behaviour.delay_secs)
                with receiver.lock:
                    if 200 <= status < 300:
                        receiver.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                          body, time.time()))
                    else:
                        receiver.rejected += 1
                self.send_response(status)
                for name, value in behaviour.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")
                self.wfile.flush()

        return Handler

    rejected = 0

    def start(self) -> None:
        """Listen (again, on the same port after ``stop``)."""
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET

        class Server(http.server.ThreadingHTTPServer):
            address_family = family
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # connections we cut in stop(): not worth a traceback on stderr

        self.release.clear()
        self._server = Server((self.host, self.port), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: new connections are refused, open ones are closed."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.release.set()
        with self.lock:
            connections = list(self._connections)
        for conn in connections:  # keep-alive connections would otherwise keep being served
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def events(self) -> list[dict[str, Any]]:
        """Bodies of the accepted event POSTs (not the empty test posts)."""
        with self.lock:
            return [r.json() for r in self.requests if r.body]

    def count(self) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.body)

    def events_by_sequence(self) -> list[dict[str, Any]]:
        """Accepted event bodies in the order a receiver restores: by the X-Gluster-Event-Seq header.

        With more than one request in flight per webhook (the default), arrival order is not
        guaranteed; the per-node sequence number is what receivers are told to use.
        """
        with self.lock:
            sent = [(int(r.headers["x-gluster-event-seq"]), r.json()) for r in self.requests if r.body]
        return [body for _, body in sorted(sent, key=lambda pair: pair[0])]

    def names(self) -> list[str]:
        """``message.name`` of each accepted event, in the order received (duplicates kept)."""
        return [event["message"].get("name", "") for event in self.events()]

    def distinct_names(self) -> list[str]:
        """Like ``names`` but each webhook-id counted once (a retry of a delivered event is a duplicate)."""
        seen: set[str] = set()
        names = []
        with self.lock:
            requests = list(self.requests)
        for request in requests:
            if not request.body:
                continue
            event_id = request.headers.get("webhook-id", "")
            if event_id and event_id in seen:
                continue
            seen.add(event_id)
            names.append(json.loads(request.body)["message"].get("name", ""))
        return names

    def attempts_for(self, name: str) -> list[Attempt]:
        """Every request (any answer) that carried the event named ``name``."""
        with self.lock:
            return [a for a in self.attempts if a.body and json.loads(a.body)["message"].get("name") == name]


class NodeFiles:
    """The files of one node under its GLUSTER_EVENTS_ROOT (``root``), shared by both daemon runners."""

    root: Path

    @property
    def events_dir(self) -> Path:
        return self.root / "var/lib/glusterd/events"

    @property
    def event_log(self) -> Path:
        return self.root / "var/log/glusterfs/events.log"

    @property
    def log_file(self) -> Path:
        return self.root / "var/log/glusterfs/glustereventsd.log"

    def write_webhooks(self, data: dict[str, Any]) -> None:
        atomic_write_bytes(self.events_dir / "webhooks.json", dump_json(data), 0o600)

    def write_config(self, data: dict[str, Any]) -> None:
        atomic_write_bytes(self.events_dir / "config.json", dump_json(data), 0o644)

    def log_text(self) -> str:
        if self.log_file.exists() and not self.log_file.is_file():
            return ""  # a FIFO put there by a test: reading it would wait for ever
        try:
            return self.log_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""


class DaemonProcess(NodeFiles):
    """glustereventsd as a real process with its own GLUSTER_EVENTS_ROOT."""

    def __init__(self, root: Path, port: int, extra_env: dict[str, str] | None = None,
                 listen: tuple[str, ...] = ("127.0.0.1", "::1"), argv_prefix: list[str] | None = None,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.root = root
        self.port = port
        self.listen = listen
        self.argv_prefix = argv_prefix or []  # e.g. unshare, to run the daemon in a namespace
        self.extra_args = extra_args
        self.env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(root), **(extra_env or {})}
        self.env.pop("NOTIFY_SOCKET", None)
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr_offset = 0

    def command(self) -> list[str]:
        """The daemon's command line, without the options ``start`` adds."""
        return [*self.argv_prefix, sys.executable, "-m", "glustereventsd"]

    def start(self, wait: bool = True) -> DaemonProcess:
        offset = len(self.log_text())
        args = [*self.command(), "--port", str(self.port)]
        for host in self.listen:
            args += ["--listen", host]
        args += self.extra_args
        # Output goes to files under the root, so the suite's secret scan reads it too.
        self._stderr_offset = self.stderr_file.stat().st_size if self.stderr_file.exists() else 0
        with open(self.root / "daemon.stdout", "ab") as out, open(self.stderr_file, "ab") as err:
            self.proc = subprocess.Popen(args, env=self.env, cwd=REPO, stdout=out, stderr=err)
        if wait:
            wait_for(lambda: "glustereventsd started" in self.log_text()[offset:] or self.proc.poll() is not None,
                     timeout=15, what="daemon start")
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited: {self.stderr_text()}")
        return self

    @property
    def stderr_file(self) -> Path:
        return self.root / "daemon.stderr"

    def stderr_text(self) -> str:
        """What the daemon started last wrote to stderr."""
        try:
            with open(self.stderr_file, "rb") as handle:
                handle.seek(self._stderr_offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def reload(self) -> None:
        """SIGUSR2, then wait for the daemon's confirmation that the files are in force."""
        from glustereventsd.runtime import reloader
        from glustereventsd.base.paths import resolve_paths

        assert self.proc is not None
        outcome = reloader.request_reload(resolve_paths({"GLUSTER_EVENTS_ROOT": str(self.root)}), 10,
                                          pid=self.proc.pid)
        assert outcome.applied, f"reload not applied: {outcome.detail}"

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None


def emit_many(port: int, count: int, event_id: int = 2, host: str = "127.0.0.1",
              rate_per_sec: float = 0.0) -> Iterator[int]:
    """Send ``count`` VOLUME_CREATE-like datagrams named ``v<i>``; yields each index after sending."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    start = time.monotonic()
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for i in range(count):
            if rate_per_sec:
                due = start + i / rate_per_sec
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            sock.sendto(f"{int(time.time())} {event_id} name=v{i}".encode(), (host, port))
            yield i


class InProcessDaemon(NodeFiles):
    """``Daemon(paths, options).run()`` in a thread, so a test can read its ``Stats``."""

    def __init__(self, root: Path, port: int | None = None, listen: tuple[str, ...] = ("127.0.0.1", "::1")) -> None:
        from glustereventsd.runtime.daemon import Daemon, Options
        from glustereventsd.base.paths import resolve_paths

        self.root = root
        self.port = port if port is not None else free_udp_port()
        self.paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(root)})
        self.daemon = Daemon(self.paths, Options(port=self.port, listen=listen))
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None
        self.exit_code: int | None = None

    @property
    def stats(self) -> Any:
        return self.daemon.stats

    def _run(self) -> None:
        try:
            self.exit_code = self.daemon.run()
        except BaseException as err:  # noqa: BLE001 - reported by the test through .error
            self.error = err
            self.daemon.ready.set()

    def start(self) -> InProcessDaemon:
        self._thread = threading.Thread(target=self._run, name="daemon-under-test", daemon=True)
        self._thread.start()
        assert self.daemon.ready.wait(15), "in-process daemon did not start"
        if self.error is not None:
            raise AssertionError(f"daemon failed to start: {self.error!r}")
        return self

    def reload(self) -> None:
        """Ask for a reload, then wait until its status shows the files on disk in force."""
        from glustereventsd.runtime import runstate

        path = self.paths.runtime_status_file
        status = wait_for(lambda: runstate.read_status(path), what="status file")
        before = status.reload.generation
        self.daemon.request("reload")

        def confirmed() -> bool:
            now = runstate.read_status(path)
            return (now is not None and now.reload.generation > before
                    and now.config.digest == runstate.config_digest(self.paths))

        wait_for(confirmed, timeout=10, what="reload confirmed in the status file")

    def stop(self, timeout: float = 30) -> int | None:
        if self._thread is None:
            return self.exit_code
        if self._thread.is_alive():
            self.daemon.request("shutdown")
            self._thread.join(timeout)
            assert not self._thread.is_alive(), "in-process daemon did not stop"
        self._thread = None
        return self.exit_code


def send_lines(port: int, lines: list[bytes], host: str = "127.0.0.1") -> None:
    """Send each element of ``lines`` as one datagram from one socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for data in lines:
            sock.sendto(data, (host, port))


def event_log_lines(path: Path) -> list[dict[str, Any]]:
    """The bodies logged in events.log (each line is ``[time] [INFO] <json body>``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line[line.index("{"):]) for line in text.splitlines() if "{" in line]


def nodeid_of(root: Path) -> str:
    """The node id the daemon generated under ``root``."""
    return (root / "var/lib/glustereventsd/node-id").read_text().strip()


class Stream:
    """Send ``count`` events named ``<prefix><i>`` at ``rate_per_sec`` from a background thread."""

    def __init__(self, port: int, count: int, rate_per_sec: float, prefix: str = "v", event_id: int = 2,
                 host: str = "127.0.0.1") -> None:
        self.port = port
        self.count = count
        self.rate = rate_per_sec
        self.prefix = prefix
        self.event_id = event_id
        self.host = host
        self.sent = 0
        self.paused = threading.Event()  # set: the sender waits (bounded by the stream's own end)
        self._thread = threading.Thread(target=self._run, name="stream", daemon=True)

    def names(self, upto: int | None = None) -> list[str]:
        return [f"{self.prefix}{i}" for i in range(self.sent if upto is None else upto)]

    def start(self) -> Stream:
        self._thread.start()
        return self

    def _run(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            start = time.monotonic()
            for i in range(self.count):
                waited = 0
                while self.paused.is_set() and waited < 6000:  # at most 60 s paused
                    time.sleep(0.01)
                    waited += 1
                    start = time.monotonic() - i / self.rate
                pause = start + i / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                sock.sendto(f"{int(time.time())} {self.event_id} name={self.prefix}{i}".encode(),
                            (self.host, self.port))
                self.sent = i + 1

    def wait_sent(self, n: int, timeout: float = 30) -> None:
        wait_for(lambda: self.sent >= n, timeout=timeout, what=f"{n} events sent")

    def join(self, timeout: float = 120) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "stream did not finish"
