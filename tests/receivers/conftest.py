"""Fixtures of the receiver matrix: real frameworks from their own packages, as real processes.

``receiver_envs`` builds (or reuses) the receivers' environments (tests/receivers/envs.py);
``start_receiver`` runs one receiver app (tests/receivers/apps) on a free loopback port and
stops it, by its pid, when the test module is done.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from tests.receivers import envs

APPS = envs.APPS


@dataclass
class Envs:
    current: Optional[envs.PythonEnv]
    oldest_flask: Optional[envs.PythonEnv]
    node_modules: Optional[Path]
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    """One request as the receiver's application got it (see apps/record.py)."""

    path: str
    host: Optional[str]
    content_type: Optional[str]
    authorization: Optional[str]
    body: bytes


@dataclass
class RunningReceiver:
    name: str
    host: str
    port: int
    proc: subprocess.Popen[bytes]
    record: Path
    output: Path

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/listen"

    def seen(self) -> list[Seen]:
        if not self.record.exists():
            return []
        found = []
        for line in self.record.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            found.append(Seen(item["path"], item["host"], item["content_type"], item["authorization"],
                              base64.b64decode(item["body"])))
        return found

    def printed(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def receiver_envs() -> Envs:
    """The receivers' environments; a build that fails is kept as a problem its tests report."""
    problems: dict[str, str] = {}
    found: dict[str, Any] = {}
    for key, make in (("current", lambda: _built(envs.current_env())),
                      ("oldest_flask", lambda: _built(envs.oldest_flask_env())),
                      ("node_modules", envs.node_modules)):
        try:
            found[key] = make()
        except envs.EnvUnavailable as err:
            problems[key], found[key] = str(err), None
    return Envs(found["current"], found["oldest_flask"], found["node_modules"], problems)


def _built(env: envs.PythonEnv) -> envs.PythonEnv:
    env.build()
    return env


def free_tcp_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def start_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningReceiver]]:
    """Start a receiver: ``make(name, argv_for(host, port), host, env)``; all stop at the module's end."""
    started: list[RunningReceiver] = []
    folder = tmp_path_factory.mktemp("receivers")

    def make(name: str, argv_for: Callable[[str, int], list[str]], host: str = "127.0.0.1",
             env: Optional[dict[str, str]] = None) -> RunningReceiver:
        port = free_tcp_port(host)
        record, output = folder / f"{name}.jsonl", folder / f"{name}.out"
        environment = {**os.environ, "RECEIVER_RECORD": str(record), "SEED_EXAMPLE": str(APPS / "seed_example.py"),
                       "PYTHONUNBUFFERED": "1", **(env or {})}
        environment.pop("PYTHONPATH", None)  # each receiver runs in its own environment, not ours
        with open(output, "wb") as out:
            proc = subprocess.Popen(argv_for(host, port), env=environment, cwd=folder, stdin=subprocess.DEVNULL,
                                    stdout=out, stderr=subprocess.STDOUT)
        running = RunningReceiver(name, host, port, proc, record, output)
        started.append(running)
        deadline = time.monotonic() + 30
        while not _accepts(host, port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"receiver {name} did not start: {running.printed()[-3000:]}")
            time.sleep(0.05)
        return running

    yield make
    for running in started:
        running.proc.terminate()
    for running in started:
        try:
            running.proc.wait(10)
        except subprocess.TimeoutExpired:
            running.proc.kill()
            running.proc.wait(10)
