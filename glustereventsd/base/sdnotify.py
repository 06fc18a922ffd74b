"""systemd's notify protocol (READY=1, RELOADING=1, STOPPING=1), in a few lines of stdlib."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` to ``$NOTIFY_SOCKET``; False when not run by systemd or it failed."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(1.0)
            sock.sendto(state.encode("utf-8"), address)
        return True
    except OSError:
        return False


def reloading_message() -> str:
    """RELOADING=1 with the monotonic timestamp that Type=notify-reload expects."""
    return f"RELOADING=1\nMONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}"
