"""The main thread's doorbell: one socket it sleeps on, rung by signals and by the control queue.

A signal handler may only set a flag (taking a lock in it could deadlock the thread it
interrupts), so the main loop once looked at its flags ten times a second. Instead it now
sleeps on the read end of a socket pair: ``signal.set_wakeup_fd`` has the interpreter
write a byte there when a signal comes (from C, before any Python runs), and each request
put on the control queue (``ControlQueue``: the file watch, ``--reload``, tests) writes one
too. So the loop wakes at once for each, and otherwise only when its own timers are due.
"""

from __future__ import annotations

import queue
import selectors
import signal
import socket
import threading


class Doorbell:
    """A socket pair: ``ring`` from any thread (or a signal), ``wait`` in the one that sleeps."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._reader, selectors.EVENT_READ)
        self._previous_fd: int | None = None

    def ring(self) -> None:
        """Wake the sleeper (any thread; never blocks: a full socket is rung already)."""
        try:
            self._writer.send(b"r")
        except OSError:
            pass

    def wait(self, timeout: float) -> bool:
        """Sleep until rung or ``timeout`` seconds passed; True when rung (the rings are consumed)."""
        rung = bool(self._selector.select(max(0.0, timeout)))
        if rung:
            try:
                while self._reader.recv(4096):
                    pass
            except OSError:  # BlockingIOError once empty
                pass
        return rung

    def catch_signals(self) -> None:
        """Let signals ring it (main thread only): the handlers' flags are then looked at at once."""
        if threading.current_thread() is threading.main_thread():
            self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)

    def release_signals(self) -> None:
        """Signals no longer ring it (what ``catch_signals`` replaced is back)."""
        if self._previous_fd is not None:
            signal.set_wakeup_fd(self._previous_fd)
            self._previous_fd = None

    def close(self) -> None:
        self.release_signals()
        self._selector.close()
        self._reader.close()
        self._writer.close()


class ControlQueue(queue.Queue):  # type: ignore[type-arg]
    """The main thread's request queue: every request put also rings its doorbell."""

    def __init__(self, doorbell: Doorbell, maxsize: int) -> None:
        super().__init__(maxsize)
        self.doorbell = doorbell

    def _put(self, item: object) -> None:  # under the queue's lock; ringing takes none
        super()._put(item)
        self.doorbell.ring()
