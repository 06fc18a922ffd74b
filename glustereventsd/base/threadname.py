"""Name OS threads, so ``top -H``, ``ps -L`` and /proc show what each thread of the daemon does.

Python before 3.14 keeps thread names to itself: the kernel sees every thread as "python".
On Linux, prctl(PR_SET_NAME) names the calling thread (15 bytes at most).
"""

from __future__ import annotations

import ctypes
import sys

PR_SET_NAME = 15
MAX_NAME_BYTES = 15


def name_os_thread(name: str) -> None:
    """Give the calling thread ``name`` in the kernel (cut to 15 bytes); a no-op where unsupported."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_NAME, name.encode("ascii", "replace")[:MAX_NAME_BYTES], 0, 0, 0)
    except (OSError, AttributeError):  # no libc prctl here: the names are a convenience
        pass
