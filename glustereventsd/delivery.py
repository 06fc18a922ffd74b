"""The delivery loop: one thread that posts every webhook's events over non-blocking connections.

Why one thread with ``selectors`` and no blocking call at all: measured on this project's
2-core machine, four threads each posting on a blocking connection cost 74 to 100 us of CPU
per request, mostly GIL hand-overs and wake-ups, while one thread driving four non-blocking
connections cost 34 us. Nothing in the loop blocks: host names are looked up by
``resolver``, connecting, the proxy tunnel and the TLS handshake are non-blocking steps of
``connection.Connection``, and the spool is read a window at a time. So one webhook's slow
DNS, unreachable address or hanging server never holds up another, and a stop request is
acted on at once. The one wait is backpressure: when the pipeline has not taken 100,000
results (``results.ResultChannel``, a stalled disk), the loop waits for it to catch up.

Each webhook (an ``outlet.Outlet``) may have up to ``concurrency`` requests in flight, each
on its own keep-alive connection; only as many are used as its backlog needs, so at a low
event rate one is in flight at a time and events arrive in order without asking for it.
After a failed attempt the webhook backs off (exponential with jitter, or the server's
Retry-After), and until a request succeeds again only one is in flight, the oldest record
first: a webhook that comes back gets its backlog in order and no burst of retries.

``send_test`` runs the same loop in the caller's thread for one request: ``webhook-test``
goes through exactly the code, proxy, TLS settings and signatures that deliver events.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Mapping

from glustereventsd import auth, proxies, tlsconfig, weburl
from glustereventsd.connection import CLOSED, CONNECTING, HANDSHAKE, RESOLVING, TUNNEL, Connection, Route, StaleConnection
from glustereventsd.eventpost import fixed_headers, varying_headers
from glustereventsd.httpwire import HttpError, RequestTimeout, Response, format_request, request_head
from glustereventsd.models import Outcome, OutcomeKind, Webhook
from glustereventsd.outcomes import RetryPolicy, failure, outcome_of
from glustereventsd.outlet import Flight, Outlet
from glustereventsd.proxies import ProxyRules
from glustereventsd.resolver import Address, Resolver
from glustereventsd.results import ResultChannel
from glustereventsd.spool import ReaderHandoff, Record, SpoolReader
from glustereventsd.stats import RateLimitedLog, Stats
from glustereventsd.threadname import name_os_thread

log = logging.getLogger("glustereventsd.delivery")

DEFAULT_TIMEOUT_SECS = 10.0
IDLE_WAIT_SECS = 0.5  # longest sleep when nothing is due
EXPIRY_CHECK_SECS = 0.05  # how often in-flight requests are checked against their deadlines
# The body of the webhook-test request: an empty JSON object, sent as application/json. Upstream
# sends no body and no content type, which Flask 2.1+ (the seed's own example) answers 400/415,
# and `null` is refused by Express's express.json(); `{}` is answered 2xx by every framework of
# tests/receivers (see docs/COMPATIBILITY.md, "The test request"). Events are never empty objects.
TEST_BODY = b"{}"


class Endpoint:
    """One generation of a webhook's settings, made ready to send (formatted once per change)."""

    __slots__ = ("hook", "route", "timeout_secs", "head", "empty_head", "signing_key", "proxied_plain")

    def __init__(self, hook: Webhook, config: ProxyRules, environment: ProxyRules) -> None:
        """Raises ValueError (bad URL, proxy or signing secret) or OSError (a TLS file)."""
        url = weburl.parse(hook.url)
        proxy = proxies.choose(url.scheme, url.host, url.port, hook.proxy, config, environment)
        self.hook = hook
        self.route = Route(url, proxy, tlsconfig.tls_context(hook))
        self.timeout_secs = hook.timeout_secs or DEFAULT_TIMEOUT_SECS
        base = [("Host", url.host_header), *self.route.proxy_headers()]
        line = self.route.request_line()
        self.head = request_head(line, base + fixed_headers(hook, with_body=True))
        self.empty_head = request_head(line, base + fixed_headers(hook, with_body=False))
        self.signing_key = auth.signing_key(hook.signing_secret) if hook.signing_secret else None
        self.proxied_plain = proxy is not None and not url.is_https

    def request(self, record: Record) -> bytes:
        """The bytes of the POST carrying ``record`` (a test request, sub TEST, has the body ``TEST_BODY``)."""
        headers = varying_headers(self.hook, record.name, record.ts, int(time.time()), record.body,
                                  record.event_id, record.seq or None, self.signing_key)
        return format_request(self.head if record.body else self.empty_head, headers, record.body)


class DeliveryLoop:
    """Drives every outlet's connections (see the module docstring); run by ``DeliveryThread``."""

    def __init__(
        self,
        results: ResultChannel | None,
        stats: Stats,
        log_limiter: RateLimitedLog,
        stopping: threading.Event,
        environment: ProxyRules,
        reader: SpoolReader | None = None,
    ) -> None:
        self.results = results  # None: one-shot test requests only
        self.stats = stats
        self.log_limiter = log_limiter
        self.stopping = stopping
        self.environment = environment
        self._readers = ReaderHandoff(reader)  # the loop's read-only view of the spool (None: spool memory)
        self.clock: Callable[[], float] = time.monotonic  # tests drive a fake one (see ``step``)
        self.connect: Callable[[Route], Connection] = Connection  # tests hand out socket pairs
        self.policy = RetryPolicy()  # swapped whole on reload
        self.concurrency = 8  # the daemon default, for webhooks that set none
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._wake_pending = False  # under _wake_lock: a wake-up byte is on its way
        self._wake_lock = threading.Lock()
        self._control: collections.deque[tuple[str, Outlet]] = collections.deque()
        self._ready: collections.deque[Outlet] = collections.deque()  # outlets that may have work
        self.outlets: dict[int, Outlet] = {}  # loop thread only
        self._watched: dict[socket.socket, int] = {}  # loop thread only: socket -> registered events
        self._owner: dict[Connection, Outlet] = {}  # loop thread only
        self._backing_off: set[Outlet] = set()
        self._next_expiry = 0.0
        self.resolver = Resolver(self.wake)

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
        """Start delivering for ``outlet`` (any thread)."""
        def notify() -> None:
            self._ready.append(outlet)
            self.wake()

        outlet.driven_by(notify)
        self._control.append(("add", outlet))
        self.wake()

    def use_reader(self, reader: SpoolReader) -> None:
        """Read the spool through ``reader`` from the next refill on (any thread): the file was rebuilt."""
        self._readers.offer(reader)
        self.wake()

    @property
    def reader(self) -> SpoolReader | None:
        """The spool reader in use (loop thread): one handed over by ``use_reader`` from now on."""
        return self._readers.current()

    def remove(self, outlet: Outlet) -> None:
        """Stop delivering for ``outlet`` and close its connections (any thread)."""
        outlet.close()
        self._control.append(("remove", outlet))
        self.wake()

    def close(self) -> None:
        """Release the loop's sockets, lookup threads and spool readers, once it no longer runs."""
        self._readers.close()
        self.resolver.close()
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    # -- the loop ------------------------------------------------------------------------
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
            self._next_expiry = now + EXPIRY_CHECK_SECS

    def release_all(self) -> None:
        """Close every connection; records not finished go back first in line (they are in the spool)."""
        self._apply_control()
        for outlet in list(self.outlets.values()):
            self._drop_outlet(outlet)

    def _wait_secs(self, now: float, deadline: float | None) -> float:
        if self._ready or self.resolver.answers or self._control:
            return 0.0
        wait = IDLE_WAIT_SECS
        if any(outlet.flights for outlet in self.outlets.values()):
            wait = min(wait, EXPIRY_CHECK_SECS)
        for outlet in self._backing_off:
            wait = min(wait, outlet.blocked_until - now)
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
            if what == "add":
                self.outlets[outlet.hook_id] = outlet
                self._ready.append(outlet)
            elif self.outlets.get(outlet.hook_id) is outlet:
                self._drop_outlet(outlet)
                del self.outlets[outlet.hook_id]

    def _drop_outlet(self, outlet: Outlet) -> None:
        held = outlet.held()
        for connection in list(outlet.flights) + outlet.idle:
            self._close(connection)
        outlet.flights.clear()
        outlet.idle.clear()
        outlet.retry = []
        self._backing_off.discard(outlet)
        outlet.give_back(held)

    def _take_answers(self) -> None:
        answers = self.resolver.answers
        while answers:
            answer = answers.popleft()
            connection = answer.token
            assert isinstance(connection, Connection)
            outlet = self._owner.get(connection)
            if outlet is None or connection.state != RESOLVING:
                continue  # timed out or dropped meanwhile
            self._guarded(outlet, self._resolved, outlet, connection, answer.addresses, answer.error)

    def _resolved(self, outlet: Outlet, connection: Connection, addresses: list[Address], error: str) -> None:
        connection.resolved(addresses, error)
        self._after(outlet, connection)

    def _pump_ready(self, now: float) -> None:
        due = [outlet for outlet in self._backing_off if outlet.blocked_until <= now]
        for outlet in due:
            self._backing_off.discard(outlet)
            self._ready.append(outlet)
        # Only the outlets queued before this pass: one queued again meanwhile (a record offered
        # while it was pumped) stays queued for the next turn, which then does not wait.
        seen: set[int] = set()
        for _ in range(len(self._ready)):
            outlet = self._ready.popleft()
            if id(outlet) in seen or self.outlets.get(outlet.hook_id) is not outlet:
                continue
            seen.add(id(outlet))
            self._guarded(outlet, self._pump, outlet)

    def _guarded(self, outlet: Outlet, step: Callable[..., None], *args: object) -> None:
        """Run one step for an outlet; an error nobody foresaw fails that step, not the loop."""
        try:
            step(*args)
        except Exception as err:  # noqa: BLE001 - the last line of defence of one webhook
            # Only the exception's type is shown: its text could quote a header value.
            self.log_limiter.log(log, logging.ERROR, f"{outlet.hook_id}:internal",
                                 "Unexpected %s while delivering to url=%s; its events are kept and retried",
                                 type(err).__name__, outlet.label)
            self._drop_outlet(outlet)
            outlet.failures += 1
            outlet.blocked_until = self.clock() + self.policy.backoff(outlet.failures, None)
            self._backing_off.add(outlet)

    # -- requests ------------------------------------------------------------------------
    def _endpoint(self, outlet: Outlet) -> Endpoint | None:
        hook, config, generation = outlet.settings()
        if generation != outlet.endpoint_generation:
            outlet.endpoint_generation = generation
            for connection in outlet.idle:
                self._close(connection)  # made with the old settings
            outlet.idle = []
            try:
                outlet.endpoint = Endpoint(hook, config, self.environment)
            except (ValueError, OSError) as err:  # bad URL, proxy, TLS file or signing secret
                outlet.endpoint = None
                self.log_limiter.log(log, logging.ERROR, f"{outlet.hook_id}:config",
                                     "Cannot use the settings of webhook url=%s: %s; its events wait until "
                                     "they are fixed", outlet.label, err)
        endpoint = outlet.endpoint
        return endpoint if isinstance(endpoint, Endpoint) else None

    def _pump(self, outlet: Outlet) -> None:
        """Start as many requests as the outlet's limit and backoff allow."""
        if outlet.closed:
            return
        now = self.clock()
        if now < outlet.blocked_until:
            self._backing_off.add(outlet)
            return
        endpoint = self._endpoint(outlet)
        concurrency = outlet.hook.concurrency or self.concurrency
        while len(outlet.flights) < outlet.slot_limit(concurrency) and self.clock() >= outlet.blocked_until:
            record = outlet.take(self.reader)
            if record is None:
                break
            if endpoint is None:
                self._finish(outlet, record, Outcome(OutcomeKind.RETRY, "config", 0, None,
                                                     "webhook settings unusable"))
                continue
            self._send(outlet, endpoint, record, None)
        if outlet.blocked_until > self.clock():
            self._backing_off.add(outlet)
        while len(outlet.idle) + len(outlet.flights) > concurrency and outlet.idle:
            self._close(outlet.idle.pop())  # concurrency was lowered

    def _send(self, outlet: Outlet, endpoint: Endpoint, record: Record, resent_from: Flight | None) -> None:
        started = self.clock()
        if outlet.idle and resent_from is None:
            connection = outlet.idle.pop()
        else:
            connection = self.connect(endpoint.route)
            connection.on_close = self._unwatch
        flight = Flight(record, started, resent_from.deadline if resent_from else started + endpoint.timeout_secs)
        flight.resent = resent_from is not None
        outlet.flights[connection] = flight
        self._owner[connection] = outlet
        connection.request(endpoint.request(record))
        if connection.state == RESOLVING and not connection.start():
            host, port = endpoint.route.connect_to
            known = self.resolver.cached(host, port)
            if known is not None:
                connection.resolved(*known)
            elif not self.resolver.lookup(connection, host, port):
                connection.resolved([], f"cannot resolve {host}: too many host names are being looked up")
        self._after(outlet, connection)

    def _on_io(self, connection: Connection, events: int) -> None:
        outlet = self._owner.get(connection)
        if outlet is None:
            self._close(connection)
            return
        self._guarded(outlet, self._ready_io, outlet, connection, events)

    def _ready_io(self, outlet: Outlet, connection: Connection, events: int) -> None:
        connection.on_ready(events)
        self._after(outlet, connection)

    def _after(self, outlet: Outlet, connection: Connection) -> None:
        """Look at a connection after it moved: finished request, closed idle one, or new interest."""
        result = connection.take_result()
        flight = outlet.flights.get(connection)
        if result is None:
            if connection.state == CLOSED:  # an idle connection the server closed
                self._forget(outlet, connection)
            else:
                self._watch(connection)
            return
        assert flight is not None
        del outlet.flights[connection]
        in_force = outlet.endpoint
        current = in_force if isinstance(in_force, Endpoint) else None
        if connection.idle and connection.sock is not None and current is not None and connection.route is current.route:
            self._watch(connection)
            outlet.idle.append(connection)
        else:  # closed, or made with settings no longer in force
            self._forget(outlet, connection)
        if isinstance(result, StaleConnection) and not flight.resent:
            # An idle keep-alive the server closed before reading the request: nothing was
            # delivered, so sending again on a new connection cannot duplicate the event.
            endpoint = self._endpoint(outlet)
            if endpoint is not None:
                self._send(outlet, endpoint, flight.record, flight)
                return
        proxied_plain = current is not None and current.proxied_plain
        outcome = outcome_of(result, proxied_plain) if isinstance(result, Response) else failure(result)
        self._finish(outlet, flight.record, outcome, flight.started)
        self._ready.append(outlet)

    def _finish(self, outlet: Outlet, record: Record, outcome: Outcome, started: float | None = None) -> None:
        outlet.finish(record, outcome, self.results, self.policy, self.stats, self.log_limiter, self.clock(),
                      self.stopping, started)

    def _expire(self, now: float) -> None:
        for connection, outlet in list(self._owner.items()):
            flight = outlet.flights.get(connection)
            if flight is None or now < flight.deadline:
                continue
            self._guarded(outlet, self._time_out, outlet, connection, flight)

    def _time_out(self, outlet: Outlet, connection: Connection, flight: Flight) -> None:
        if outlet.flights.get(connection) is not flight:
            return
        del outlet.flights[connection]
        stage = _stage(connection)  # before the connection is closed
        answer = connection.accepted_answer()
        self._forget(outlet, connection)
        if answer is not None:  # a whole 2xx head came, the body never ended: delivered, not resent
            self._finish(outlet, flight.record, outcome_of(answer), flight.started)
        else:
            timeout = outlet.endpoint.timeout_secs if isinstance(outlet.endpoint, Endpoint) else DEFAULT_TIMEOUT_SECS
            err: HttpError = RequestTimeout(f"no answer within {timeout:g}s ({stage})")
            self._finish(outlet, flight.record, failure(err), flight.started)
        self._ready.append(outlet)

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

    def _forget(self, outlet: Outlet, connection: Connection) -> None:
        self._close(connection)
        if connection in outlet.idle:
            outlet.idle.remove(connection)
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


class DeliveryThread(threading.Thread):
    """Runs the daemon's ``DeliveryLoop`` until the daemon stops."""

    def __init__(self, loop: DeliveryLoop) -> None:
        super().__init__(name="deliver", daemon=True)
        self.loop = loop

    def run(self) -> None:
        """Serve; on stop (or an unforeseen error) give every record back and close every connection."""
        name_os_thread("gev-deliver")
        try:
            self.loop.run()
        except Exception:  # noqa: BLE001 - logged; the pipeline starts a new loop
            log.exception("The delivery loop stopped by an unexpected error; a new one starts within seconds "
                          "and the events it held are kept")
        finally:
            self.loop.release_all()


def send_test(hook: Webhook, now: int, timeout_secs: float | None = None,
              proxy_config: ProxyRules | None = None, environment: Mapping[str, str] | None = None) -> Outcome:
    """Send the webhook-test request through the delivery engine and classify the answer.

    A POST of ``TEST_BODY`` (``{}``, application/json), with a JWT whose sub is TEST and iat
    now; with a signing secret it is signed like an event (over that body), so a receiver can
    check its secret with a test too. Proxies come from ``proxy_config`` (the daemon's config keys) and
    ``environment`` (the daemon's environment variables), as for delivery.
    """
    if timeout_secs:
        hook = dataclasses.replace(hook, timeout_secs=timeout_secs)
    env_rules = proxies.rules_from_environment(os.environ if environment is None else environment)
    try:
        Endpoint(hook, proxy_config or ProxyRules(), env_rules)
    except (ValueError, OSError) as err:
        return Outcome(OutcomeKind.REJECT, "config", 0, None, f"cannot use webhook settings: {err}")
    stopping = threading.Event()
    loop = DeliveryLoop(None, Stats(), RateLimitedLog(), stopping, env_rules)
    outlet = Outlet(hook, 0, durable=False, window=1, memory_limit=1, proxy_config=proxy_config)
    message_id = f"msg_test_{os.urandom(12).hex()}" if hook.signing_secret else ""
    outlet.offer([Record(0, 0, message_id, 0, "TEST", now, time.time(), TEST_BODY)])
    loop.add(outlet)
    limit = (hook.timeout_secs or DEFAULT_TIMEOUT_SECS) + 1.0
    try:
        loop.run(until=lambda: outlet.last_outcome is not None, deadline=time.monotonic() + limit)
    finally:
        loop.release_all()
        loop.close()
    return outlet.last_outcome or failure(RequestTimeout(f"no answer within {limit:g}s"))
