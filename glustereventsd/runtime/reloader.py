"""Ask the running glustereventsd to reload, and wait until it has put the files in force.

Used by ``glustereventsd --reload`` (the unit's ExecReload, so that ``systemctl reload``
returns only once the reload is applied) and by the CLI's per-node part of every change.

The request is SIGUSR2. The answer is the daemon's status file (``runstate``): the reload
counts as applied once the daemon has handled a reload request after the signal and the
configuration it has in force has the digest of the files as they are on disk then. A
request that read exactly those files and was refused is a failure with the daemon's reason.
Anything else until the timeout is "not confirmed".
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from glustereventsd.runtime import runstate
from glustereventsd.base.fsutil import probe_pid_file
from glustereventsd.base.paths import Paths

CONFIRM_SECS = 15.0  # how long a reload may take to be confirmed (the daemon waits 10 s for its pipeline)
FIRST_POLL_SECS = 0.005
MAX_POLL_SECS = 0.02

NOT_RUNNING = "not-running"  # no daemon holds a pid file: nothing to reload
APPLIED = "applied"
REFUSED = "refused"  # the daemon read the files and refused them; the old configuration stays
NOT_CONFIRMED = "not-confirmed"  # no confirmation within the timeout
ERROR = "error"  # the daemon could not be signalled


@dataclass(frozen=True)
class Outcome:
    """How a reload request ended; ``detail`` says why in words an administrator can act on."""

    state: str
    detail: str = ""
    pid: int | None = None
    generation: int = 0  # the daemon's reload generation when confirmed

    @property
    def applied(self) -> bool:
        """True when the files on disk are in force in the daemon."""
        return self.state == APPLIED


def daemon_pid(paths: Paths) -> int | None:
    """The pid of the running daemon (0 if it runs with an unreadable pid file), or None."""
    for path in paths.pid_files():
        pid = probe_pid_file(path)
        if pid is not None:
            return pid
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _verdict(status: runstate.RunState | None, pid: int, before: int, disk: str) -> Outcome | None:
    """The outcome the status file shows for our request, or None while there is none yet."""
    if status is None or status.pid != pid or status.reload.generation <= before:
        return None
    if status.config.digest and status.config.digest == disk:
        return Outcome(APPLIED, pid=pid, generation=status.reload.generation)
    if status.reload.outcome == runstate.FAILED and status.reload.digest == disk:
        return Outcome(REFUSED, f"glustereventsd refused the files: {status.reload.error}", pid,
                       status.reload.generation)
    return None


def _unconfirmed(paths: Paths, status: runstate.RunState | None, pid: int, before: int,
                 timeout: float) -> Outcome:
    """Why there is no confirmation; ``before`` -1: the daemon was never signalled."""
    where = paths.runtime_status_file
    unsent = "; it was not signalled" if before < 0 else ""
    if status is None:
        why = (f"glustereventsd (pid {pid}) wrote no status to {where} within {timeout:g}s: it may be "
               f"older than this tool, still starting, or unable to write there (see its log){unsent}")
    elif status.pid != pid:
        why = f"{where} was written by pid {status.pid}, not by the running glustereventsd (pid {pid}){unsent}"
    elif status.reload.generation <= before:
        why = f"glustereventsd (pid {pid}) did not handle the reload request within {timeout:g}s"
    else:
        why = (f"glustereventsd (pid {pid}) has not put the files now on disk in force within "
               f"{timeout:g}s (they changed meanwhile, or its pipeline is stalled: see its log)")
    return Outcome(NOT_CONFIRMED, why, pid)


def request_reload(paths: Paths, timeout: float = CONFIRM_SECS, pid: int | None = None,
                   clock: Callable[[], float] = time.monotonic,
                   sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """Send SIGUSR2 to the daemon (``pid``, else the one holding a pid file) and wait for it."""
    if pid is None:
        pid = daemon_pid(paths)
        if pid is None:
            return Outcome(NOT_RUNNING, "glustereventsd is not running on this node")
    if pid <= 0:
        return Outcome(ERROR, "glustereventsd holds its pid file but the pid in it is unreadable")
    status_file = paths.runtime_status_file
    deadline = clock() + timeout
    pause = FIRST_POLL_SECS
    status = runstate.read_status(status_file)
    # Its status is written once its signal handlers are in place: a daemon still starting
    # would die of SIGUSR2's default action. So wait for it to be up before signalling.
    while status is None or status.pid != pid:
        if not _alive(pid):
            return Outcome(NOT_RUNNING, f"glustereventsd (pid {pid}) is not running", pid)
        if clock() >= deadline:
            return _unconfirmed(paths, status, pid, -1, timeout)
        sleep(pause)
        pause = min(MAX_POLL_SECS, pause * 2)
        status = runstate.read_status(status_file)
    before = status.reload.generation
    try:
        os.kill(pid, signal.SIGUSR2)
    except ProcessLookupError:
        return Outcome(NOT_RUNNING, f"glustereventsd (pid {pid}) is not running", pid)
    except PermissionError:
        return Outcome(ERROR, f"not allowed to signal glustereventsd (pid {pid}): run as root", pid)
    pause = FIRST_POLL_SECS
    while True:
        status = runstate.read_status(status_file)
        verdict = _verdict(status, pid, before, runstate.config_digest(paths))
        if verdict is not None:
            return verdict
        if not _alive(pid):
            return Outcome(NOT_CONFIRMED, f"glustereventsd (pid {pid}) exited before it confirmed the reload",
                           pid)
        if clock() >= deadline:
            return _unconfirmed(paths, status, pid, before, timeout)
        sleep(pause)
        pause = min(MAX_POLL_SECS, pause * 2)
