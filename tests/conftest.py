"""Shared fixtures: webhook receivers and daemons, each cleaned up after its test.

Every daemon fixture also checks, when its test is done, that the daemon never logged a
traceback: whatever a test throws at it, the daemon must handle it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import DaemonProcess, InProcessDaemon, Receiver, free_udp_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    servers: list[Receiver] = []

    def make(host: str = "127.0.0.1") -> Receiver:
        servers.append(Receiver(host))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def daemon_root(tmp_path: Path) -> Path:
    root = tmp_path / "node"
    root.mkdir()
    return root


def _no_traceback(text: str, what: str) -> None:
    assert "Traceback" not in text, f"{what} logged a traceback:\n{text[-4000:]}"


@pytest.fixture
def daemon(daemon_root: Path) -> Iterator[DaemonProcess]:
    """A daemon process (not started): the test writes files, then calls start()."""
    process = DaemonProcess(daemon_root, free_udp_port())
    yield process
    process.stop()
    _no_traceback(process.log_text(), "daemon")


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Make more daemon processes, each under its own root."""
    made: list[DaemonProcess] = []

    def make(name: str = "node", **kwargs: object) -> DaemonProcess:
        root = tmp_path / f"{name}{len(made)}"
        root.mkdir()
        made.append(DaemonProcess(root, free_udp_port(), **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for process in made:
        process.stop()
    for process in made:
        _no_traceback(process.log_text(), "daemon")


@pytest.fixture
def inproc(daemon_root: Path) -> Iterator[InProcessDaemon]:
    """An in-process daemon (not started), whose ``stats`` the test can read."""
    runner = InProcessDaemon(daemon_root)
    yield runner
    runner.stop()
    _no_traceback(runner.log_text(), "in-process daemon")
