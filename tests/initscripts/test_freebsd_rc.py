"""etc/rc.d/glustereventsd (FreeBSD), on Linux: ``sh -n``, then run against the real daemon
with a minimal rc.subr stand-in (tests/initscripts/rc.subr) and a daemon(8) stand-in.

What this proves: the script's rc.conf variable is ``glustereventsd_enable``, it honours it,
and start, status, reload (SIGUSR2, under traffic, 0 lost) and stop drive the real daemon
through the rc.subr variables it sets (pidfile, procname, command_interpreter, sig_reload).
What it cannot prove: FreeBSD's own rc.subr, daemon(8) and service(8) (see README).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers import REPO, wait_for
from tests.initscripts.machine import DAEMON, InitMachine, Traffic, wait_delivered
from tests.namespaces import unavailable_reason

SCRIPT = REPO / "etc/rc.d/glustereventsd"
STAND_IN = REPO / "tests/initscripts/rc.subr"
INSTALLED = "/etc/rc.d/glustereventsd"
# daemon(8) -f: detach the command with its standard streams on /dev/null.
DAEMON_STAND_IN = '#!/bin/sh\n[ "$1" = -f ] && shift\nsetsid "$@" </dev/null >/dev/null 2>&1 &\n'

pytestmark = pytest.mark.timeout(180)



def reloads_logged(text: str) -> int:
    """Reloads the daemon handled: applied, or found the files unchanged (a reload with nothing edited)."""
    return text.count("Configuration reloaded") + text.count("Configuration unchanged")


def test_rc_script_parses_with_sh_n() -> None:
    for shell in ("sh", "dash", "bash"):
        path = shutil.which(shell)
        if path:
            done = subprocess.run([path, "-n", str(SCRIPT)], capture_output=True, text=True, timeout=10)
            assert done.returncode == 0, f"{shell} -n: {done.stderr}"
    text = SCRIPT.read_text()
    assert re.search(r'^rcvar="glustereventsd_enable"$', text, re.MULTILINE)
    assert re.search(r"^# PROVIDE: glustereventsd$", text, re.MULTILINE)
    assert re.search(r"^# KEYWORD: shutdown$", text, re.MULTILINE)  # stopped at shutdown too


@pytest.fixture(scope="module")
def bsd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InitMachine]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"rc.d script tests: {reason}")
    made = InitMachine(tmp_path_factory.mktemp("i11pool-rcd"))
    try:
        made.write("/etc/rc.subr", STAND_IN.read_text())
        made.write("/etc/i11pool-daemon", DAEMON_STAND_IN, 0o755)
        made.write(INSTALLED, SCRIPT.read_text(), 0o755)
        made.register_webhook()
        yield made
    finally:
        made.close()


def rc_conf(machine: InitMachine, enable: str) -> None:
    machine.write("/etc/rc.conf", "\n".join([
        f'glustereventsd_enable="{enable}"',
        f'glustereventsd_program="{DAEMON}"',
        'glustereventsd_daemon="/etc/i11pool-daemon"',
        "",
    ]))


def rc(machine: InitMachine, action: str) -> tuple[int, str]:
    """What ``service glustereventsd ACTION`` runs on FreeBSD: the script, with a clean environment."""
    return machine.run("env", "-i", "PATH=/sbin:/bin:/usr/sbin:/usr/bin", INSTALLED, action)


def test_rcvar_and_disabled_by_default(bsd: InitMachine) -> None:
    rc_conf(bsd, "NO")
    status, out = rc(bsd, "rcvar")
    assert status == 0 and 'glustereventsd_enable="NO"' in out, out
    status, out = rc(bsd, "start")
    assert "Set glustereventsd_enable to YES in /etc/rc.conf" in out, out
    assert bsd.daemon_pids() == []
    assert rc(bsd, "status") == (1, "glustereventsd is not running.\n")


def test_start_status_reload_under_traffic_stop(bsd: InitMachine) -> None:
    assert bsd.receiver is not None
    rc_conf(bsd, "YES")
    status, out = rc(bsd, "start")
    assert status == 0 and "Starting glustereventsd." in out, out
    status, out = rc(bsd, "status")
    match = re.fullmatch(r"glustereventsd is running as pid (\d+)\.\n", out)
    assert status == 0 and match, out
    pid = int(match.group(1))
    assert bsd.daemon_pids() == [pid] and bsd.pid_file().read_text().strip() == str(pid)
    status, out = rc(bsd, "start")
    assert status == 1 and f"already running? (pid={pid})" in out, out

    wait_for(lambda: "glustereventsd started" in bsd.daemon_log(), timeout=15, what="daemon ready")
    port = int(re.findall(r"glustereventsd started port=(\d+)", bsd.daemon_log())[-1])
    reloads = reloads_logged(bsd.daemon_log())
    traffic = Traffic(bsd.sender(), port, count=1000, rate=500, prefix="bsd-")
    for round_ in range(2):
        wait_for(lambda: traffic.sent >= 300 * (round_ + 1), timeout=30, what="traffic")
        status, out = rc(bsd, "reload")
        assert status == 0 and "Reloading glustereventsd config files." in out, out
    traffic.join()
    wait_for(lambda: reloads_logged(bsd.daemon_log()) >= reloads + 2, timeout=15,
             what="two reloads logged")
    wait_delivered(bsd.receiver, traffic.names(), "bsd-")

    status, out = rc(bsd, "stop")
    assert status == 0 and "Stopping glustereventsd." in out, out
    assert bsd.daemon_pids() == [] and not bsd.pid_file().exists()
    assert rc(bsd, "status")[0] == 1
    status, out = rc(bsd, "reload")
    assert status == 1 and "not running?" in out, out


def test_onestart_when_disabled_and_restart(bsd: InitMachine) -> None:
    rc_conf(bsd, "NO")
    status, out = rc(bsd, "onestart")
    assert status == 0, out
    first = bsd.daemon_pids()
    assert len(first) == 1
    status, out = rc(bsd, "onerestart")
    assert status == 0, out
    second = bsd.daemon_pids()
    assert len(second) == 1 and second != first
    assert rc(bsd, "onestop")[0] == 0
    assert bsd.daemon_pids() == []
