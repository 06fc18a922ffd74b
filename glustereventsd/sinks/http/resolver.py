"""Host name lookups off the delivery loop: a small pool of threads running getaddrinfo, bounded.

``getaddrinfo`` blocks, for as long as the system's resolver takes (seconds, with a DNS
server down). The delivery loop must never wait for it: it asks here, goes on serving every
other webhook, and is woken when the answer is in. So that one webhook whose name never
resolves cannot starve the others:

- lookups of the same host and port are made once, however many connections wait for it;
- answers are kept ``CACHE_SECS`` (failures ``FAILURE_CACHE_SECS``), so a retry storm of a
  broken name does not queue lookup after lookup;
- a thread is started for each lookup that finds every thread busy, up to ``MAX_THREADS``,
  so a hung lookup holds one thread, not the queue.

A lookup that takes longer than the request's timeout is abandoned by the loop (the request
fails as a timeout); its thread finishes it in the background. IP literals never come here.
"""

from __future__ import annotations

import collections
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from glustereventsd.base.threadname import name_os_thread

log = logging.getLogger("glustereventsd.resolver")

MAX_THREADS = 16
MAX_PENDING = 256  # distinct host names being looked up at once; more fail at once as "busy"
CACHE_SECS = 30.0
FAILURE_CACHE_SECS = 5.0
IDLE_THREAD_SECS = 60.0  # a thread with nothing to do for this long ends

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
    """See the module docstring. ``answers`` is filled by the threads and emptied by the loop."""

    def __init__(self, wake: Callable[[], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._wake = wake
        self._clock = clock
        self.answers: collections.deque[Answer] = collections.deque()
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._queue: collections.deque[tuple[str, int]] = collections.deque()  # under _lock
        self._waiting: dict[tuple[str, int], list[object]] = {}  # under _lock: host -> tokens waiting
        self._cache: dict[tuple[str, int], tuple[float, list[Address], str]] = {}  # under _lock
        self._threads = 0  # under _lock
        self._idle = 0  # under _lock
        self._closed = False  # under _lock

    def cached(self, host: str, port: int) -> tuple[list[Address], str] | None:
        """A fresh answer for ``host`` (addresses, error) without asking again, or None."""
        with self._lock:
            entry = self._cache.get((host, port))
            if entry is None or entry[0] < self._clock():
                return None
            return entry[1], entry[2]

    def lookup(self, token: object, host: str, port: int) -> bool:
        """Ask for ``host``; ``token`` comes back in its Answer. False when too many names wait already."""
        key = (host, port)
        with self._lock:
            if self._closed:
                return False
            tokens = self._waiting.get(key)
            if tokens is not None:
                tokens.append(token)  # the same name is being looked up: wait for that answer
                return True
            if len(self._waiting) >= MAX_PENDING:
                return False
            self._waiting[key] = [token]
            self._queue.append(key)
            if self._idle == 0 and self._threads < MAX_THREADS:
                self._threads += 1
                threading.Thread(target=self._run, name=f"dns-{self._threads}", daemon=True).start()
            else:
                self._work.notify()
        return True

    def close(self) -> None:
        """Let the threads end (the loop that asked is gone); waiting lookups are dropped."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            self._waiting.clear()
            self._work.notify_all()

    def _run(self) -> None:
        name_os_thread("gev-dns")
        while True:
            with self._lock:
                self._idle += 1
                while not self._queue and not self._closed:
                    if not self._work.wait(IDLE_THREAD_SECS) and not self._queue:
                        break
                self._idle -= 1
                if self._closed or not self._queue:
                    self._threads -= 1
                    return
                host, port = self._queue.popleft()
            try:
                addresses, error = lookup_now(host, port), ""
            except OSError as err:
                addresses, error = [], err.strerror or str(err)
            except Exception as err:  # noqa: BLE001 - a resolver bug must not kill the thread
                addresses, error = [], f"lookup of {host} failed: {type(err).__name__}"
            with self._lock:
                ttl = CACHE_SECS if addresses else FAILURE_CACHE_SECS
                self._cache[(host, port)] = (self._clock() + ttl, addresses, error)
                if len(self._cache) > 4 * MAX_PENDING:
                    now = self._clock()
                    self._cache = {key: entry for key, entry in self._cache.items() if entry[0] >= now}
                tokens = self._waiting.pop((host, port), [])
            for token in tokens:
                self.answers.append(Answer(token, addresses, error))
            try:
                self._wake()
            except OSError:  # the loop is gone (stopping)
                pass
