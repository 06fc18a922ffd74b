"""Shared fixtures: webhook receivers and daemons, each cleaned up after its test.

Every daemon fixture also checks, when its test is done, that the daemon never logged a
traceback: whatever a test throws at it, the daemon must handle it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import secrets
from tests.browser import browser, browser_session  # noqa: F401 - fixtures for the page tests
from tests.firefox import firefox  # noqa: F401 - the same in Firefox
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


# -- secrets never leak into outputs (issue 5) -------------------------------------------------

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fail a test whose captured stdout, stderr or log shows one of the test secrets."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "teardown" or report.failed:
        return  # the teardown report carries the output of every phase
    for name, content in report.sections:
        found = secrets.leaks_in(content)
        if found:
            report.outcome = "failed"
            report.longrepr = f"test secret(s) {', '.join(found)} appeared in {name}"
            return


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run when a file the tests made (logs, outputs) shows one of the test secrets."""
    factory = getattr(session.config, "_tmp_path_factory", None)
    if factory is None or getattr(factory, "_basetemp", None) is None:
        return
    leaks = []
    for path in sorted(Path(factory.getbasetemp()).rglob("*")):
        if not path.is_file() or path.is_symlink() or secrets.holds_credentials(path.name):
            continue
        if path.suffix in (".sqlite3", ".sqlite3-wal", ".sqlite3-shm") or path.stat().st_size > 64 * 2**20:
            continue  # the spool holds event bodies, never credentials
        text = path.read_bytes().decode("utf-8", "replace")
        found = secrets.leaks_in(text)
        if found:
            leaks.append(f"{path}: {', '.join(found)}")
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "test secrets leaked into files:\n  " + "\n  ".join(leaks)
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
