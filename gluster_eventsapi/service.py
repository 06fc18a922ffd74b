"""This node's glustereventsd: is it running (its pid-file lock is held) and reload it.

"Running" means exactly what SPEC section 4 says: some process holds the pid file's flock.
Reload is SIGUSR2 to the pid written in that file.
"""

from __future__ import annotations

import os
import signal

from glustereventsd.fsutil import probe_pid_file
from glustereventsd.paths import Paths


class ReloadError(RuntimeError):
    """The daemon runs but could not be signalled."""


def daemon_pid(paths: Paths) -> int | None:
    """The pid of the running daemon (0 if running with an unreadable pid), or None."""
    for path in paths.pid_files():
        pid = probe_pid_file(path)
        if pid is not None:
            return pid
    return None


def is_running(paths: Paths) -> bool:
    """True when a glustereventsd holds one of this node's pid files."""
    return daemon_pid(paths) is not None


def reload(paths: Paths) -> bool:
    """Ask the running daemon to re-read its files; False when no daemon runs.

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
