"""This node's glustereventsd: is it running (its pid-file lock is held) and reload it.

"Running" means exactly what SPEC section 4 says: some process holds the pid file's flock.
Reload is SIGUSR2 to the pid written in that file; ``reload_applied`` also waits until the
daemon confirms that the files are in force (``glustereventsd.runtime.reloader``).
"""

from __future__ import annotations

import os
import signal

from glustereventsd.runtime import reloader
from glustereventsd.base.paths import Paths

RELOAD_MARGIN_SECS = 5.0  # left of the SSH command timeout for the rest of the node's answer


class ReloadError(RuntimeError):
    """The daemon runs but could not be signalled."""


def daemon_pid(paths: Paths) -> int | None:
    """The pid of the running daemon (0 if running with an unreadable pid), or None."""
    return reloader.daemon_pid(paths)


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def daemon_environment(paths: Paths) -> dict[str, str] | None:
    """The proxy variables of the running daemon's environment, or None when it cannot be read.

    ``webhook-test`` runs over SSH, with the login's environment, but it must reach the
    webhook the way the daemon does: through the proxy set in the daemon's unit
    (``Environment=HTTPS_PROXY=...``). Only proxy variables are taken from /proc/PID/environ.
    """
    pid = daemon_pid(paths)
    if not pid:
        return None
    try:
        raw = open(f"/proc/{pid}/environ", "rb").read(1 << 20)
    except OSError:
        return None
    wanted = {name for variable in PROXY_VARIABLES for name in (variable, variable.upper())} | {"REQUEST_METHOD"}
    found = {}
    for item in raw.split(b"\0"):
        name, _, value = item.decode("utf-8", "replace").partition("=")
        if name in wanted:
            found[name] = value
    return found


def is_running(paths: Paths) -> bool:
    """True when a glustereventsd holds one of this node's pid files."""
    return daemon_pid(paths) is not None


def confirm_timeout(command_timeout_secs: float) -> float:
    """How long a node waits for its daemon's confirmation, within the SSH command timeout."""
    return max(1.0, min(reloader.CONFIRM_SECS, command_timeout_secs - RELOAD_MARGIN_SECS))


def reload_applied(paths: Paths, timeout: float = reloader.CONFIRM_SECS) -> reloader.Outcome:
    """Signal the running daemon and wait until it has applied the files, refused them, or the timeout."""
    return reloader.request_reload(paths, timeout)


def reload(paths: Paths) -> bool:
    """Ask the running daemon to re-read its files, without waiting; False when no daemon runs.

    Raises ReloadError when the daemon holds the lock but cannot be signalled.
    """
    pid = daemon_pid(paths)
    if pid is None:
        return False
    if pid <= 0:
        raise ReloadError("glustereventsd holds its pid file but the pid in it is unreadable")
    try:
        os.kill(pid, signal.SIGUSR2)
    except ProcessLookupError:
        return False  # it exited between the probe and the signal
    except PermissionError:
        raise ReloadError(f"not allowed to signal glustereventsd (pid {pid}): run as root") from None
    return True
