"""The webhook driver: one thread that posts every webhook's events over non-blocking connections.

Why one thread with ``selectors`` and no blocking call at all: measured on this project's
2-core machine, four threads each posting on a blocking connection cost 74 to 100 us of CPU
per request, mostly GIL hand-overs and wake-ups, while one thread driving four non-blocking
connections cost 34 us. Nothing in the loop blocks: host names are looked up by
``resolver``, connecting, the proxy tunnel and the TLS handshake are non-blocking steps of
``connection.Connection``, and the spool is read a window at a time. So one webhook's slow
DNS, unreachable address or hanging server never holds up another, and a stop request is
acted on at once. The one wait is backpressure: when the pipeline has not taken 100,000
results (``spool.acks.ResultChannel``, a stalled disk), the loop waits for it to catch up.

Each webhook (a ``sinks.outlet.Outlet``, with this driver's ``HttpSink`` beside it) may have
up to ``concurrency`` requests in flight, each on its own keep-alive connection; only as
many are used as its backlog needs, so at a low event rate one is in flight at a time and
events arrive in order without asking for it. After a failed attempt the outlet backs off
(exponential with jitter, or the server's Retry-After), and until a request succeeds again
only one is in flight, the oldest record first: a webhook that comes back gets its backlog
in order and no burst of retries.

The loop's thread owns everything here but the control queue and the wake-up: other threads
only call ``add``, ``remove``, ``use_reader``, ``configure``, ``request_stop`` and ``wake``.
"""

from __future__ import annotations

import collections
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from typing import Optional

from glustereventsd.base.threadname import name_os_thread
from glustereventsd.models import Outcome, OutcomeKind, Settings
from glustereventsd.sinks import kinds
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.http.connection import CLOSED, CONNECTING, HANDSHAKE, RESOLVING, TUNNEL, Connection, Route, StaleConnection
from glustereventsd.sinks.http.request import DEFAULT_TIMEOUT_SECS, Endpoint
from glustereventsd.sinks.http.resolver import Address, Resolver
from glustereventsd.sinks.http.wire import HttpError, RequestTimeout, Response
from glustereventsd.sinks.http.outcomes import failure, outcome_of
from glustereventsd.sinks.http.proxies import ProxyRules, rules_from_environment
from glustereventsd.sinks.retry import RetryPolicy
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.spool.reader import ReaderHandoff, SpoolReader
from glustereventsd.spool.records import Record

log = logging.getLogger("glustereventsd.delivery")

IDLE_WAIT_SECS = 60.0  # longest sleep when nothing is due (everything that has work wakes the loop)
START_CONCURRENCY = 8  # a webhook's first in-flight limit (the fixed default before it adapted, issue 21)


class Flight:
    """One request in flight on one connection: which record, since when, until when."""

    __slots__ = ("record", "started", "deadline", "resent")

    def __init__(self, record: Record, started: float, deadline: float) -> None:
        self.record = record
        self.started = started
        self.deadline = deadline
        self.resent = False  # sent again after a stale keep-alive connection (once at most)


class HttpSink:
    """What the webhook driver keeps for one outlet: its connections and its endpoint; loop thread only."""

    __slots__ = ("outlet", "flights", "idle", "endpoint", "generation")

    def __init__(self, outlet: Outlet) -> None:
        self.outlet = outlet
        self.flights: dict[Connection, Flight] = {}  # busy connections
        self.idle: list[Connection] = []  # keep-alive connections ready for a request
        self.endpoint: Optional[Endpoint] = None  # the settings in force, ready to send (None: unusable)
        self.generation = -1  # of the outlet's settings the endpoint was made from

    def taken(self) -> list[Record]:
        """The records of the requests in flight."""
        return [flight.record for flight in self.flights.values()]


class DeliveryLoop:
    """Drives every webhook outlet's connections (see the module docstring); a ``sinks.driver.Driver``."""

    kind = kinds.HTTP

    def __init__(self, context: DriverContext) -> None:
        self.results = context.results  # None: one-shot test requests only
        self.stats = context.stats
        self.log_limiter = context.log_limiter
        self.stopping = context.stopping
        self.environment = rules_from_environment(context.environment)  # fixed for the driver's life
        self.nodeid = context.nodeid  # what a format names the node with (a CloudEvent's source)
        self.clock = context.clock  # tests drive a fake one (see ``step``)
        self.wall = context.wall
        self._readers = ReaderHandoff(context.reader)  # the loop's read-only view of the spool (None: spool memory)
        self.connect: Callable[[Route], Connection] = Connection  # tests hand out socket pairs
        self.policy = RetryPolicy()  # swapped whole on reload
        self.concurrency = 64  # the daemon's ceiling (webhook-concurrency), for webhooks that set none
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._wake_pending = False  # under _wake_lock: a wake-up byte is on its way
        self._wake_lock = threading.Lock()
        self._control: collections.deque[tuple[str, Outlet]] = collections.deque()
        self._ready: collections.deque[Outlet] = collections.deque()  # outlets that may have work
        self.sinks: dict[int, HttpSink] = {}  # loop thread only, by hook id
        self._watched: dict[socket.socket, int] = {}  # loop thread only: socket -> registered events
        self._owner: dict[Connection, HttpSink] = {}  # loop thread only
        self._backing_off: set[HttpSink] = set()
        self._next_expiry = float("inf")  # no request in flight has a deadline before this (see _expire)
        self.resolver = Resolver(self.wake)
        self._thread: Optional[threading.Thread] = None

    # -- from other threads --------------------------------------------------------------
    def wake(self) -> None:
        """Wake the loop (any thread): one byte per wake-up, however many came."""
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
            try:
                self._wake_writer.send(b"w")
            except OSError:  # full (it is awake anyway) or closed (stopping)
                pass

    def add(self, outlet: Outlet) -> None:
        """Start delivering for ``outlet`` (any thread); raises WrongDriver for a destination of another kind."""
        def notify() -> None:
            self._ready.append(outlet)
            self.wake()

        outlet.bind(self, self.kind, notify)
        self._control.append(("add", outlet))
        self.wake()

    def remove(self, outlet: Outlet) -> None:
        """Stop delivering for ``outlet`` and close its connections (any thread)."""
        outlet.close()
        self._control.append(("remove", outlet))
        self.wake()

    def configure(self, settings: Settings) -> None:
        """The retry policy and default concurrency in force (any thread: each is replaced whole)."""
        self.policy = RetryPolicy.of(settings)
        self.concurrency = settings.webhook_concurrency

    def use_reader(self, reader: SpoolReader) -> None:
        """Read the spool through ``reader`` from the next refill on (any thread): the file was rebuilt."""
        self._readers.offer(reader)
        self.wake()

    @property
    def reader(self) -> SpoolReader | None:
        """The spool reader in use (loop thread): one handed over by ``use_reader`` from now on."""
        return self._readers.current()

    def start(self) -> None:
        """Run the loop in its own thread until ``stopping`` is set."""
        self._thread = threading.Thread(target=self._serve, name="deliver", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """False once the loop's thread has ended."""
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self) -> None:
        """Look at ``stopping`` now."""
        self.wake()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the loop's thread to end."""
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))

    def close(self) -> None:
        """Release the loop's sockets, lookup threads and spool readers, once it no longer runs."""
        self._readers.close()
        self.resolver.close()
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    # -- the loop ------------------------------------------------------------------------
    def _serve(self) -> None:
        """The thread: serve; on stop (or an unforeseen error) give every record back and close every connection."""
        name_os_thread("gev-deliver")
        try:
            self.run()
        except Exception:  # noqa: BLE001 - logged; the supervisor starts a new driver
            log.exception("The delivery loop stopped by an unexpected error; a new one starts within seconds "
                          "and the events it held are kept")
        finally:
            self.release_all()

    def run(self, until: Callable[[], bool] | None = None, deadline: float | None = None) -> None:
        """Serve until ``stopping`` is set (or ``until()`` is true, or ``deadline`` passes)."""
        while not self.stopping.is_set():
            if until is not None and until():
                return
            now = self.clock()
            if deadline is not None and now >= deadline:
                return
            self.step(deadline)

    def step(self, deadline: float | None = None, max_wait: float | None = None) -> None:
        """One turn: apply changes, start what may start, wait for I/O (at most ``max_wait``), expire."""
        now = self.clock()
        self._apply_control()
        self._take_answers()
        self._pump_ready(now)
        wait = self._wait_secs(now, deadline)
        for key, events in self._selector.select(wait if max_wait is None else min(wait, max_wait)):
            if key.data is None:
                self._drain_wake()
            else:
                self._on_io(key.data, events)
        now = self.clock()
        if now >= self._next_expiry:
            self._expire(now)

    def release_all(self) -> None:
        """Close every connection; records not finished go back first in line (they are in the spool)."""
        self._apply_control()
        for sink in list(self.sinks.values()):
            self._drop(sink)

    def _wait_secs(self, now: float, deadline: float | None) -> float:
        if self._ready or self.resolver.answers or self._control:
            return 0.0
        wait = min(IDLE_WAIT_SECS, self._next_expiry - now)  # the loop sleeps until something is due
        for sink in self._backing_off:
            wait = min(wait, sink.outlet.blocked_until - now)
        if deadline is not None:
            wait = min(wait, deadline - now)
        return max(0.0, wait)

    def _drain_wake(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
            try:
                while self._wake_reader.recv(4096):
                    pass
            except OSError:  # BlockingIOError once empty
                pass

    def _apply_control(self) -> None:
        while self._control:
            what, outlet = self._control.popleft()
            current = self.sinks.get(outlet.hook_id)
            if what == "add":
                if current is not None and current.outlet is not outlet:
                    self._drop(current)
                    current = None
                if current is None:
                    self.sinks[outlet.hook_id] = HttpSink(outlet)
                self._ready.append(outlet)
            elif current is not None and current.outlet is outlet:
                self._drop(current)
                del self.sinks[outlet.hook_id]

    def _sink_of(self, outlet: Outlet) -> HttpSink | None:
        sink = self.sinks.get(outlet.hook_id)
        return sink if sink is not None and sink.outlet is outlet else None

    def _drop(self, sink: HttpSink) -> None:
        taken = sink.taken()
        for connection in list(sink.flights) + sink.idle:
            self._close(connection)
        sink.flights.clear()
        sink.idle.clear()
        self._backing_off.discard(sink)
        sink.outlet.release(taken)

    def _take_answers(self) -> None:
        answers = self.resolver.answers
        while answers:
            answer = answers.popleft()
            connection = answer.token
            assert isinstance(connection, Connection)
            sink = self._owner.get(connection)
            if sink is None or connection.state != RESOLVING:
                continue  # timed out or dropped meanwhile
            self._guarded(sink, self._resolved, sink, connection, answer.addresses, answer.error)

    def _resolved(self, sink: HttpSink, connection: Connection, addresses: list[Address], error: str) -> None:
        connection.resolved(addresses, error)
        self._after(sink, connection)

    def _pump_ready(self, now: float) -> None:
        due = [waiting for waiting in self._backing_off if waiting.outlet.blocked_until <= now]
        for waiting in due:
            self._backing_off.discard(waiting)
            self._ready.append(waiting.outlet)
        # Only the outlets queued before this pass: one queued again meanwhile (a record offered
        # while it was pumped) stays queued for the next turn, which then does not wait.
        seen: set[int] = set()
        for _ in range(len(self._ready)):
            outlet = self._ready.popleft()
            sink = self._sink_of(outlet)
            if sink is None or id(sink) in seen:
                continue
            seen.add(id(sink))
            self._guarded(sink, self._pump, sink)

    def _guarded(self, sink: HttpSink, step: Callable[..., None], *args: object) -> None:
        """Run one step for a webhook; an error nobody foresaw fails that step, not the loop."""
        try:
            step(*args)
        except Exception as err:  # noqa: BLE001 - the last line of defence of one webhook
            # Only the exception's type is shown: its text could quote a header value.
            outlet = sink.outlet
            self.log_limiter.log(log, logging.ERROR, f"{outlet.hook_id}:internal",
                                 "Unexpected %s while delivering to url=%s; its events are kept and retried",
                                 type(err).__name__, outlet.label)
            self._drop(sink)
            outlet.back_off(self.policy, self.clock())
            self._backing_off.add(sink)

    # -- requests ------------------------------------------------------------------------
    def _endpoint(self, sink: HttpSink) -> Endpoint | None:
        outlet = sink.outlet
        hook, options, generation = outlet.settings()
        config = options if isinstance(options, ProxyRules) else ProxyRules()
        if generation != sink.generation:
            sink.generation = generation
            for connection in sink.idle:
                self._close(connection)  # made with the old settings
            sink.idle = []
            try:
                sink.endpoint = Endpoint(hook, config, self.environment, self.nodeid)
            except (ValueError, OSError) as err:  # bad URL, proxy, TLS file or signing secret
                sink.endpoint = None
                self.log_limiter.log(log, logging.ERROR, f"{outlet.hook_id}:config",
                                     "Cannot use the settings of webhook url=%s: %s; its events wait until "
                                     "they are fixed", outlet.label, err)
        return sink.endpoint

    def _pump(self, sink: HttpSink) -> None:
        """Start as many requests as the outlet's limit and backoff allow."""
        outlet = sink.outlet
        if outlet.closed:
            return
        now = self.clock()
        if now < outlet.blocked_until:
            self._backing_off.add(sink)
            return
        endpoint = self._endpoint(sink)
        concurrency = outlet.hook.concurrency or self.concurrency
        while len(sink.flights) < outlet.slot_limit(concurrency, len(sink.flights), START_CONCURRENCY) and self.clock() >= outlet.blocked_until:
            record = outlet.take(self.reader)
            if record is None:
                break
            if endpoint is None:
                self._finish(sink, record, Outcome(OutcomeKind.RETRY, "config", 0, None,
                                                   "webhook settings unusable"))
                continue
            self._send(sink, endpoint, record, None)
        if outlet.blocked_until > self.clock():
            self._backing_off.add(sink)
        while len(sink.idle) + len(sink.flights) > concurrency and sink.idle:
            self._close(sink.idle.pop())  # concurrency was lowered

    def _send(self, sink: HttpSink, endpoint: Endpoint, record: Record, resent_from: Flight | None) -> None:
        started = self.clock()
        if sink.idle and resent_from is None:
            connection = sink.idle.pop()
        else:
            connection = self.connect(endpoint.route)
            connection.on_close = self._unwatch
        flight = Flight(record, started, resent_from.deadline if resent_from else started + endpoint.timeout_secs)
        self._next_expiry = min(self._next_expiry, flight.deadline)
        flight.resent = resent_from is not None
        sink.flights[connection] = flight
        self._owner[connection] = sink
        connection.request(endpoint.request(record, int(self.wall())))
        if connection.state == RESOLVING and not connection.start():
            host, port = endpoint.route.connect_to
            known = self.resolver.cached(host, port)
            if known is not None:
                connection.resolved(*known)
            elif not self.resolver.lookup(connection, host, port):
                connection.resolved([], f"cannot resolve {host}: too many host names are being looked up")
        self._after(sink, connection)

    def _on_io(self, connection: Connection, events: int) -> None:
        sink = self._owner.get(connection)
        if sink is None:
            self._close(connection)
            return
        self._guarded(sink, self._ready_io, sink, connection, events)

    def _ready_io(self, sink: HttpSink, connection: Connection, events: int) -> None:
        connection.on_ready(events)
        self._after(sink, connection)

    def _after(self, sink: HttpSink, connection: Connection) -> None:
        """Look at a connection after it moved: finished request, closed idle one, or new interest."""
        result = connection.take_result()
        flight = sink.flights.get(connection)
        if result is None:
            if connection.state == CLOSED:  # an idle connection the server closed
                self._forget(sink, connection)
            else:
                self._watch(connection)
            return
        assert flight is not None
        del sink.flights[connection]
        current = sink.endpoint
        if connection.idle and connection.sock is not None and current is not None and connection.route is current.route:
            self._watch(connection)
            sink.idle.append(connection)
        else:  # closed, or made with settings no longer in force
            self._forget(sink, connection)
        if isinstance(result, StaleConnection) and not flight.resent:
            # An idle keep-alive the server closed before reading the request: nothing was
            # delivered, so sending again on a new connection cannot duplicate the event.
            endpoint = self._endpoint(sink)
            if endpoint is not None:
                self._send(sink, endpoint, flight.record, flight)
                return
        proxied_plain = current is not None and current.proxied_plain
        outcome = outcome_of(result, proxied_plain) if isinstance(result, Response) else failure(result)
        self._finish(sink, flight.record, outcome, flight.started)
        self._ready.append(sink.outlet)

    def _finish(self, sink: HttpSink, record: Record, outcome: Outcome, started: float | None = None) -> None:
        sink.outlet.finish(record, outcome, self.results, self.policy, self.stats, self.log_limiter, self.clock(),
                           self.stopping, started)

    def _expire(self, now: float) -> None:
        """Time out the requests past their deadline, and note when the next one is due.

        Only when one may be due (``_next_expiry``, lowered by each request sent), not every
        turn or every few milliseconds: a quiet loop sleeps until then.
        """
        upcoming = float("inf")
        for connection, sink in list(self._owner.items()):
            flight = sink.flights.get(connection)
            if flight is None:
                continue
            if now < flight.deadline:
                upcoming = min(upcoming, flight.deadline)
                continue
            self._guarded(sink, self._time_out, sink, connection, flight)
        self._next_expiry = upcoming

    def _time_out(self, sink: HttpSink, connection: Connection, flight: Flight) -> None:
        if sink.flights.get(connection) is not flight:
            return
        del sink.flights[connection]
        stage = _stage(connection)  # before the connection is closed
        answer = connection.accepted_answer()
        self._forget(sink, connection)
        if answer is not None:  # a whole 2xx head came, the body never ended: delivered, not resent
            self._finish(sink, flight.record, outcome_of(answer), flight.started)
        else:
            timeout = sink.endpoint.timeout_secs if sink.endpoint is not None else DEFAULT_TIMEOUT_SECS
            err: HttpError = RequestTimeout(f"no answer within {timeout:g}s ({stage})")
            self._finish(sink, flight.record, failure(err), flight.started)
        self._ready.append(sink.outlet)

    # -- sockets -------------------------------------------------------------------------
    def _watch(self, connection: Connection) -> None:
        sock = connection.sock
        if sock is None:
            return
        wanted = connection.interest
        current = self._watched.get(sock, 0)
        if wanted == current:
            return
        if not wanted:
            self._selector.unregister(sock)
            del self._watched[sock]
        elif current:
            self._selector.modify(sock, wanted, connection)
            self._watched[sock] = wanted
        else:
            self._selector.register(sock, wanted, connection)
            self._watched[sock] = wanted

    def _forget(self, sink: HttpSink, connection: Connection) -> None:
        self._close(connection)
        if connection in sink.idle:
            sink.idle.remove(connection)
        self._owner.pop(connection, None)

    def _unwatch(self, sock: socket.socket) -> None:
        """A connection is about to close its socket: stop watching it while its fd is still valid."""
        if self._watched.pop(sock, 0):
            self._selector.unregister(sock)

    def _close(self, connection: Connection) -> None:
        connection.close()  # calls _unwatch first
        self._owner.pop(connection, None)


_STAGES = {RESOLVING: "looking up the host name", CONNECTING: "connecting", TUNNEL: "opening the proxy tunnel",
           HANDSHAKE: "in the TLS handshake"}


def _stage(connection: Connection) -> str:
    """Where a request that timed out was stuck, in words."""
    return _STAGES.get(connection.state, "waiting for the answer")


def make_driver(context: DriverContext) -> DeliveryLoop:
    """The webhook driver (``sinks.driver.DRIVERS``)."""
    return DeliveryLoop(context)
