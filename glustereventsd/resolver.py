"""Host name lookups off the delivery loop: a few threads running getaddrinfo, bounded.

``getaddrinfo`` blocks, for as long as the system's resolver takes (seconds, with a DNS
server down). The delivery loop must never wait for it: it asks here, goes on serving
every other webhook, and is woken when the answer is in. A lookup that takes longer than
the request's timeout is abandoned by the loop (the request fails as a timeout); the thread
finishes it in the background. IP literals never come here: they need no lookup.

Bounded: at most ``MAX_PENDING`` lookups wait; more fail at once as "resolver busy" and are
retried with the webhook's backoff.
"""

from __future__ import annotations

import collections
import logging
import queue
import socket
import threading
from collections.abc import Callable
from typing import NamedTuple

from glustereventsd.threadname import name_os_thread

log = logging.getLogger("glustereventsd.resolver")

THREADS = 4
MAX_PENDING = 256

Address = tuple[socket.AddressFamily, tuple[object, ...]]


class Answer(NamedTuple):
    """The addresses a host name resolved to, or the error text (empty on success)."""

    token: object  # whatever the asker passed, to find its request again
    addresses: list[Address]
    error: str


def numeric_addresses(host: str, port: int) -> list[Address] | None:
    """The address of an IP literal without any lookup; None when ``host`` is a name."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return [(info[0], info[4]) for info in infos]


def lookup_now(host: str, port: int) -> list[Address]:
    """Resolve ``host`` (blocking); raise OSError with the resolver's message."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise OSError(err.errno, f"cannot resolve {host}: {err.strerror}") from None
    except UnicodeError:
        raise OSError(0, f"cannot resolve {host}: not a valid host name") from None
    if not infos:
        raise OSError(0, f"cannot resolve {host}: no address")
    return [(info[0], info[4]) for info in infos]


class Resolver:
    """Runs lookups in ``THREADS`` daemon threads; answers land in ``answers`` and ``wake`` is called."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._requests: queue.Queue[tuple[object, str, int]] = queue.Queue(maxsize=MAX_PENDING)
        self.answers: collections.deque[Answer] = collections.deque()  # appended by workers, popped by the loop
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def lookup(self, token: object, host: str, port: int) -> bool:
        """Ask for ``host``; False when too many lookups wait already (try again later)."""
        self._start_threads()
        try:
            self._requests.put_nowait((token, host, port))
        except queue.Full:
            return False
        return True

    def _start_threads(self) -> None:
        with self._lock:
            if self._threads:
                return
            for index in range(THREADS):
                thread = threading.Thread(target=self._work, name=f"dns-{index}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        name_os_thread("gev-dns")
        while True:
            token, host, port = self._requests.get()
            try:
                answer = Answer(token, lookup_now(host, port), "")
            except OSError as err:
                answer = Answer(token, [], err.strerror or str(err))
            except Exception as err:  # noqa: BLE001 - a resolver bug must not kill the thread
                answer = Answer(token, [], f"lookup failed: {type(err).__name__}")
            self.answers.append(answer)
            try:
                self._wake()
            except OSError:  # the loop is gone (stopping)
                pass
