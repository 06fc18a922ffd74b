"""etc/init.d/glustereventsd, run for real: installed as /etc/init.d/glustereventsd in a
throw-away machine (machine.py) and driven by ``service`` against the real daemon."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import REPO, wait_for
from tests.initscripts.machine import DAEMON, InitMachine, Traffic, is_live, wait_delivered
from tests.namespaces import unavailable_reason

SCRIPT = REPO / "etc/init.d/glustereventsd"
INSTALLED = "/etc/init.d/glustereventsd"

pytestmark = pytest.mark.timeout(180)



def reloads_logged(text: str) -> int:
    """Reloads the daemon handled: applied, or found the files unchanged (a reload with nothing edited)."""
    return text.count("Configuration reloaded") + text.count("Configuration unchanged")


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InitMachine]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"init script tests: {reason}")
    made = InitMachine(tmp_path_factory.mktemp("i11pool-sysv"))
    try:
        made.write(INSTALLED, SCRIPT.read_text(), 0o755)
        if DAEMON != "/usr/local/bin/glustereventsd":  # not where a root `pip install .` puts it
            made.write("/etc/default/glustereventsd", f"DAEMON={DAEMON}\n")
        made.register_webhook()
        yield made
    finally:
        made.close()


def service(machine: InitMachine, action: str) -> tuple[int, str]:
    """``service glustereventsd ACTION``, as an administrator types it."""
    return machine.run("service", "glustereventsd", action)


def running_pid(machine: InitMachine) -> int:
    status, out = service(machine, "status")
    assert status == 0, out
    match = re.search(r"is running \(pid (\d+)\)", out)
    assert match, out
    return int(match.group(1))


def ensure_stopped(machine: InitMachine) -> None:
    status, out = service(machine, "stop")
    assert status == 0, out
    assert machine.daemon_pids() == []


def test_lsb_header_is_accepted_by_update_rc_d_and_has_chkconfig_lines(machine: InitMachine) -> None:
    status, out = machine.run("update-rc.d", "glustereventsd", "defaults")
    assert status == 0, out
    status, links = machine.run("sh", "-c", "ls /etc/rc?.d/ | tr '\\n' ' '; ls -d /etc/rc?.d/[SK]*glustereventsd")
    assert status == 0, links
    found = set(re.findall(r"/etc/rc(\w)\.d/([SK])\d\dglustereventsd", links))
    assert found == {("2", "S"), ("3", "S"), ("4", "S"), ("5", "S"), ("0", "K"), ("1", "K"), ("6", "K")}, links
    status, out = machine.run("update-rc.d", "glustereventsd", "remove")
    assert status == 0, out
    assert machine.run("sh", "-c", "ls /etc/rc?.d/*glustereventsd")[0] != 0

    # chkconfig (Red Hat, CentOS 6) reads these two comment lines; it is not packaged for Debian,
    # so this checks the lines against its documented format instead of running it.
    text = SCRIPT.read_text()
    match = re.search(r"^# chkconfig: (\d+) (\d\d) (\d\d)$", text, re.MULTILINE)
    assert match and match.group(1) == "2345", "chkconfig line: runlevels start stop"
    assert int(match.group(2)) + int(match.group(3)) == 100
    assert re.search(r"^# description: \S", text, re.MULTILINE)


def test_insserv_reads_the_header_when_installed(machine: InitMachine) -> None:
    insserv = shutil.which("insserv", path="/sbin:/usr/sbin:/usr/lib/insserv")
    if insserv is None:
        pytest.skip("insserv is not installed (update-rc.d used its plain fallback above)")
    status, out = machine.run(insserv, "-n", "-v", "-f", "glustereventsd")
    assert status == 0 and "glustereventsd" in out, out


def test_start_status_reload_under_traffic_stop(machine: InitMachine) -> None:
    assert machine.receiver is not None
    ensure_stopped(machine)
    status, out = service(machine, "status")
    assert (status, out.strip()) == (3, "glustereventsd is not running")

    status, out = service(machine, "start")
    assert status == 0 and "OK (pid" in out, out
    pid = running_pid(machine)
    assert machine.pid_file().read_text().strip() == str(pid)
    assert machine.daemon_pids() == [pid]
    assert os.getsid(pid) == pid  # detached: its own session, not the caller's
    status, out = service(machine, "start")
    assert (status, out.strip()) == (0, f"glustereventsd is already running (pid {pid})")
    port = int(re.findall(r"glustereventsd started port=(\d+)", machine.daemon_log())[-1])

    reloads = reloads_logged(machine.daemon_log())
    traffic = Traffic(machine.sender(), port, count=2000, rate=500, prefix="sysv-")
    for _ in range(5):  # reload while the events arrive
        wait_for(lambda: traffic.sent >= 300 * (_ + 1), timeout=30, what="traffic")
        status, out = service(machine, "reload" if _ % 2 == 0 else "force-reload")
        assert status == 0, out
    traffic.join()
    wait_for(lambda: reloads_logged(machine.daemon_log()) >= reloads + 5, timeout=15,
             what="five reloads logged")
    wait_delivered(machine.receiver, traffic.names(), "sysv-")
    assert running_pid(machine) == pid  # reloaded, never restarted

    status, out = service(machine, "stop")
    assert status == 0 and "OK" in out, out
    assert not machine.pid_file().exists() and machine.daemon_pids() == []
    assert service(machine, "status")[0] == 3
    assert service(machine, "stop") == (0, "glustereventsd is not running\n")
    status, out = service(machine, "reload")
    assert status == 7 and "not running" in out, out


def test_stale_pid_file_after_a_crash(machine: InitMachine) -> None:
    assert machine.receiver is not None
    ensure_stopped(machine)
    assert service(machine, "start")[0] == 0
    crashed = running_pid(machine)
    os.kill(crashed, 9)  # a crash: the pid file stays behind, its lock is gone
    wait_for(lambda: not is_live(crashed), timeout=10, what="the daemon to die")
    assert machine.pid_file().exists()
    status, out = service(machine, "status")
    assert status == 1 and "dead but pid file" in out, out
    assert service(machine, "reload")[0] == 7

    # A pid file naming some live process that is not the daemon (a reused pid) is stale too.
    assert machine.holder is not None
    machine.pid_file().write_text(f"{machine.holder.pid}\n")
    assert service(machine, "status")[0] == 1

    status, out = service(machine, "start")
    assert status == 0 and "removing stale pid file" in out, out
    pid = running_pid(machine)
    assert pid != crashed and machine.daemon_pids() == [pid]
    ensure_stopped(machine)

    # A stop with only a stale file left cleans it up.
    machine.pid_file().write_text(f"{crashed}\n")
    status, out = service(machine, "stop")
    assert status == 0 and "stale" in out and not machine.pid_file().exists(), out


def test_restart_and_try_restart(machine: InitMachine) -> None:
    assert machine.receiver is not None
    ensure_stopped(machine)
    status, out = service(machine, "try-restart")
    assert status == 0 and machine.daemon_pids() == [], out
    assert service(machine, "start")[0] == 0
    first = running_pid(machine)
    status, out = service(machine, "restart")
    assert status == 0, out
    second = running_pid(machine)
    assert second != first and machine.daemon_pids() == [second]
    assert service(machine, "condrestart")[0] == 0
    assert running_pid(machine) not in (first, second)
    ensure_stopped(machine)


def test_lsb_exit_codes_for_what_cannot_start(machine: InitMachine) -> None:
    ensure_stopped(machine)
    status, out = service(machine, "frobnicate")
    assert status == 2 and "Usage:" in out, out

    status, out = machine.run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              INSTALLED, "start")
    assert status == 4 and "needs root" in out, out
    # status works for anyone
    status, out = machine.run("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              INSTALLED, "status")
    assert status == 3, out

    defaults = machine.read("/etc/default/glustereventsd") or ""
    try:
        machine.write("/etc/default/glustereventsd", defaults + "DAEMON=/nonexistent/glustereventsd\n")
        status, out = service(machine, "start")
        assert status == 5 and "/nonexistent/glustereventsd is not installed" in out, out
    finally:
        machine.write("/etc/default/glustereventsd", defaults)

    machine.write("/var/lib/glusterd/events/config.json", '{"port": "not a port"')
    try:
        status, out = service(machine, "start")
        assert status == 6 and "config.json" in out, out
        assert machine.daemon_pids() == []
    finally:
        machine.run("rm", "-f", "/var/lib/glusterd/events/config.json")
    assert service(machine, "start")[0] == 0
    ensure_stopped(machine)


def test_script_is_posix_sh() -> None:
    for shell in ("sh", "dash", "bash"):
        path = shutil.which(shell)
        if path:
            done = os.system(f"{path} -n {SCRIPT}")  # noqa: S605 - a fixed, local command
            assert done == 0, f"{shell} -n {SCRIPT}"
    assert Path(SCRIPT).stat().st_mode & 0o111, "the script must be executable"
