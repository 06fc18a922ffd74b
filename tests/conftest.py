"""Shared fixtures: webhook receivers and daemons, each cleaned up after its test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import DaemonProcess, Receiver, free_udp_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def make_receiver() -> Iterator:
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


@pytest.fixture
def daemon(daemon_root: Path) -> Iterator[DaemonProcess]:
    """A daemon process (not started): the test writes files, then calls start()."""
    process = DaemonProcess(daemon_root, free_udp_port())
    yield process
    process.stop()
