"""What every kind of sink implements to deliver an outlet's records, and how a kind's driver is made.

A driver owns one thread that takes records from the outlets bound to it (``Outlet.take``),
sends them its own way (HTTP POSTs, NATS publications) and reports each attempt's outcome
(``Outlet.finish``); the outlet keeps the order, the backoff and the counters. The
supervisor (``pipeline.supervisor``) keeps one driver per kind and hands it the outlets of
that kind only, and ``Outlet.bind`` refuses a driver of another kind.

``DRIVERS`` names each kind's driver module, imported when the first destination of that
kind appears: a daemon with no NATS sink never loads nats-py.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Protocol

from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.models import Settings
from glustereventsd.sinks import kinds
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.spool.reader import SpoolReader

DRIVERS = {kinds.HTTP: "glustereventsd.sinks.http.driver", kinds.NATS: "glustereventsd.sinks.nats.driver",
           kinds.ALERTMANAGER: "glustereventsd.sinks.alertmanager.driver"}


@dataclass
class DriverContext:
    """What a driver is given: where results go, what it counts and logs with, its clocks, the spool."""

    results: Optional[ResultChannel]  # None: one-shot test requests only
    stats: Stats
    log_limiter: RateLimitedLog
    stopping: threading.Event
    reader: Optional[SpoolReader] = None  # None: spool memory
    environment: Mapping[str, str] = field(default_factory=dict)  # the daemon's environment (proxy variables)
    nodeid: str = ""
    clock: Callable[[], float] = time.monotonic  # backoff, deadlines
    wall: Callable[[], float] = time.time  # counters, latencies
    spool_path: Optional[Path] = None  # the spool file, which also holds the conditions with spool memory


class Driver(Protocol):
    """The surface the supervisor uses; every method but ``run`` may be called from any thread."""

    kind: str

    def add(self, outlet: Outlet) -> None:
        """Start delivering for ``outlet`` (binds it to this driver)."""

    def remove(self, outlet: Outlet) -> None:
        """Stop delivering for ``outlet``; what it held goes back to it."""

    def configure(self, settings: Settings) -> None:
        """The daemon's settings in force: retry policy, default concurrency."""

    def use_reader(self, reader: SpoolReader) -> None:
        """Read the spool through ``reader`` from the next refill on: the file was rebuilt."""

    def start(self) -> None:
        """Start the driver's thread."""

    def alive(self) -> bool:
        """False once the driver's thread has ended (it logged why)."""

    def request_stop(self) -> None:
        """Look at ``stopping`` now (it was set)."""

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the thread to end."""

    def close(self) -> None:
        """Release sockets, event loops and spool readers, once the thread has ended."""


DriverFactory = Callable[[DriverContext], Driver]


def factory(kind: str) -> DriverFactory:
    """The function that makes a driver of ``kind`` (its module's ``make_driver``), importing it now."""
    module = importlib.import_module(DRIVERS[kind])
    made: DriverFactory = module.make_driver
    return made
