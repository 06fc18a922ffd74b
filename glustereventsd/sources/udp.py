"""UDP sources: the sockets Gluster processes send event datagrams to.

Knows bytes and addresses, not events. Each socket has its own thread that only receives,
checks the sender against the allowed networks and its rate limit, and puts the bytes on
the bounded intake queue. When that queue is full it drops the newest datagram and counts
it: the socket thread never blocks, so the kernel buffer keeps draining.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import queue
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from glustereventsd.base.intake import Intake
from glustereventsd.models import Datagram
from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.base.threadname import name_os_thread

log = logging.getLogger("glustereventsd.source")

RECEIVE_BUFFER_BYTES = 16 * 1024 * 1024
# Linux's SO_RCVBUFFORCE (asm-generic/socket.h): like SO_RCVBUF but past net.core.rmem_max,
# for a process with CAP_NET_ADMIN. Python's socket module does not export it.
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33 if sys.platform.startswith("linux") else None)
MAX_UDP_BYTES = 65535
SENDER_CACHE_SIZE = 4096


class BindError(OSError):
    """The port could not be bound (in use, or not allowed)."""


def _bind(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, RECEIVE_BUFFER_BYTES)
                break
            except PermissionError:
                continue  # SO_RCVBUFFORCE needs CAP_NET_ADMIN; SO_RCVBUF is capped by rmem_max
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def open_sockets(port: int, hosts: Sequence[str] = ("0.0.0.0", "::")) -> list[socket.socket]:
    """Bind one UDP socket per host; IPv6 is skipped with a warning where the machine lacks it."""
    sockets: list[socket.socket] = []
    for host in hosts:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            sockets.append(_bind(family, host, port))
        except OSError as err:
            if family == socket.AF_INET6 and err.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                log.warning("IPv6 is not available, listening on IPv4 only host=%s error=%s", host, err.strerror)
                continue
            for sock in sockets:
                sock.close()
            if err.errno == errno.EADDRINUSE:
                advice = ("already in use; stop the other process or choose another port with "
                          "'gluster-eventsapi config-set port N'")
            elif isinstance(err, socket.gaierror) or err.errno in (errno.EADDRNOTAVAIL, errno.EINVAL):
                advice = f"{err.strerror or err}; give an address of this machine with --listen"
            elif err.errno == errno.EACCES:
                advice = f"{err.strerror or err}; a port below 1024 needs root"
            else:
                advice = f"{err.strerror or err}"
            raise BindError(err.errno, f"cannot listen on UDP {host} port {port}: {advice}") from None
    if not sockets:
        raise BindError(errno.EADDRNOTAVAIL, f"no address to listen on for port {port}")
    granted = min(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) for sock in sockets)
    if granted < RECEIVE_BUFFER_BYTES // 2:
        log.warning("UDP receive buffer is only %d bytes, a burst of events may overflow it; "
                    "run glustereventsd as root or raise sysctl net.core.rmem_max to %d",
                    granted, RECEIVE_BUFFER_BYTES)
    return sockets


def debug_enabled() -> bool:
    """True when the daemon log is at DEBUG: then every datagram and its sender are logged.

    Asked once at start and at each reload (it goes into the ``SenderPolicy``), never per
    datagram, so at INFO the receive loop pays one attribute test per datagram and no more.
    """
    return log.isEnabledFor(logging.DEBUG)


class SenderPolicy:
    """Who may send (allowed networks; loopback always) and how fast (token bucket per address).

    ``log_datagrams`` (DEBUG): log every datagram as received, with its sender, before any check.
    """

    def __init__(self, allowed: Sequence[str], rate_per_sec: int, log_datagrams: bool = False) -> None:
        self.networks = [ipaddress.ip_network(cidr) for cidr in allowed]
        self.rate = float(rate_per_sec)
        self.log_datagrams = log_datagrams
        self._allowed_cache: OrderedDict[str, bool] = OrderedDict()
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()

    def allowed(self, sender: str) -> bool:
        """True when ``sender`` is loopback or inside an allowed network (or none is set)."""
        if not self.networks:
            return True
        cached = self._allowed_cache.get(sender)
        if cached is None:
            address = ipaddress.ip_address(sender.split("%")[0])
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                address = address.ipv4_mapped
            cached = address.is_loopback or any(address in network for network in self.networks)
            self._allowed_cache[sender] = cached
            if len(self._allowed_cache) > SENDER_CACHE_SIZE:
                self._allowed_cache.popitem(last=False)
        return cached

    def within_rate(self, sender: str, now: float) -> bool:
        """Take one token from the sender's bucket (burst = one second's worth)."""
        if self.rate <= 0:
            return True
        bucket = self._buckets.get(sender)
        if bucket is None:
            bucket = [self.rate, now]
            self._buckets[sender] = bucket
            if len(self._buckets) > SENDER_CACHE_SIZE:
                self._buckets.popitem(last=False)
        tokens = min(self.rate, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens < 1.0:
            bucket[0] = tokens
            return False
        bucket[0] = tokens - 1.0
        return True


class UdpSource(threading.Thread):
    """Receives datagrams from one socket onto the intake queue until stopped."""

    def __init__(
        self,
        sock: socket.socket,
        intake: Intake[Datagram],
        policy_holder: list[SenderPolicy],
        stats: Stats,
        log_limiter: RateLimitedLog,
        stopping: threading.Event,
    ) -> None:
        super().__init__(name=f"udp-{sock.family.name}", daemon=True)
        self.sock = sock
        self.intake = intake
        self.policy_holder = policy_holder  # one element, swapped whole on reload
        self.stats = stats
        self.log_limiter = log_limiter
        self.stopping = stopping

    def run(self) -> None:
        """Receive until the daemon stops; never raises."""
        name_os_thread(f"gev-udp-{'v6' if self.sock.family == socket.AF_INET6 else 'v4'}")
        self.sock.settimeout(None)  # blocks until a datagram comes, or ``wake`` (no polling: a quiet daemon sleeps)
        recv = self.sock.recvfrom
        put = self.intake.put_nowait
        while not self.stopping.is_set():
            try:
                data, address = recv(MAX_UDP_BYTES + 1)
                if self.stopping.is_set():
                    return
            except OSError as err:
                if self.stopping.is_set():
                    return
                self._warn("recv", f"UDP receive failed error={err.strerror or err}")
                time.sleep(0.01)
                continue
            now = time.time()
            sender = address[0]
            policy = self.policy_holder[0]
            if policy.log_datagrams:
                log.debug("Datagram received sender=%s bytes=%d data=%r", sender, len(data),
                          data.decode("utf-8", "backslashreplace"))
            if not policy.allowed(sender):
                self.stats.add("dropped", "sender_not_allowed")
                self._warn("sender", f"Dropped datagram from a sender outside allowed-senders sender={sender}")
                continue
            if not policy.within_rate(sender, now):
                self.stats.add("dropped", "rate_limited")
                self._warn("rate", f"Dropped datagram over sender-rate-limit sender={sender}")
                continue
            try:
                put(Datagram(data, sender, now))
            except queue.Full:
                self.stats.add("dropped", "intake_full")
                self._warn("full", "Dropped datagram: intake queue full (delivery cannot keep up)")

    def _warn(self, key: str, message: str) -> None:
        self.log_limiter.log(log, logging.WARNING, f"source:{key}", "%s", message)

    def wake(self) -> None:
        """Make a blocked receive return now (``stopping`` is set): shutting the socket down wakes it.

        On an unconnected UDP socket Linux answers ENOTCONN and wakes the receiver all the
        same (it returns no data); elsewhere the thread, a daemon thread, simply ends with
        the process.
        """
        try:
            self.sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def close(self) -> None:
        """Close the socket (after the thread has stopped)."""
        self.sock.close()
