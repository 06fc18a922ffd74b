"""The NATS driver: one thread running asyncio and nats-py, publishing every NATS sink's events to JetStream.

It drives ``sinks.outlet.Outlet`` objects as the webhook driver does (``sinks.driver``): it
takes an outlet's records in order, publishes them, and hands each attempt's ``Outcome`` to
``Outlet.finish`` (delivered: the spool deletes it; rejected: a dead letter; otherwise a
retry after the backoff). Only this thread writes the driver-only fields of its outlets
(``retry``, ``failures``, ``blocked_until``) and its ``Sink`` objects (the connection and
the publications awaiting their PubAck); the pipeline wakes it with ``loop.call_soon_threadsafe``.

An event is delivered only when JetStream's PubAck says a stream stored it: each event is
published with a reply subject, and the stream's answer comes back on it. A plain publish
nobody stores is not a delivery: with no stream capturing the subject the server answers
"no responders", which is retried (and says how to create the stream). Each event carries
``Nats-Msg-Id`` (its ``webhook-id``, the same on every retry), so a retry of an event the
stream already stored is not stored again: its PubAck says ``duplicate``, which is counted.

Up to ``concurrency`` events per sink (``nats-concurrency``, 64 by default: measured here, a burst
of 20,000 went into an R3 stream at 8,800/s with 64 against 5,400/s with 8, into R1 at 12,600/s
against 10,000/s) await their PubAck at once,
on one connection, so they reach the stream in order; after a failure, one at a time, oldest
first, until one succeeds (as for webhooks). The client reconnects by itself to any server of the cluster;
an event whose PubAck does not come within the sink's timeout is retried.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Optional

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import MaxPayloadError

from glustereventsd.base.threadname import name_os_thread
from glustereventsd.models import Outcome, OutcomeKind, Settings
from glustereventsd.sinks import kinds
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.nats import client as natsclient
from glustereventsd.sinks.nats.ack import outcome_of_ack
from glustereventsd.sinks.nats.client import NatsSettings
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.sinks.retry import RetryPolicy
from glustereventsd.spool.reader import ReaderHandoff, SpoolReader
from glustereventsd.spool.records import Record

log = logging.getLogger("glustereventsd.nats")

EXPIRY_CHECK_SECS = 0.05  # how often publications are checked against their deadlines (none in flight: never)
CLOSE_WAIT_SECS = 0.5  # how long a stop waits for a connection to close
CLIENT_NAME = "glustereventsd"


class Publication:
    """One event awaiting its PubAck: which record, when it was sent, until when."""

    __slots__ = ("record", "started", "deadline")

    def __init__(self, record: Record, started: float, deadline: float) -> None:
        self.record = record
        self.started = started
        self.deadline = deadline


class Sink:
    """What the NATS loop keeps for one outlet; loop thread only."""

    def __init__(self, outlet: Outlet) -> None:
        self.outlet = outlet
        self.generation = -1
        self.settings: NatsSettings | None = None
        self.client: Client | None = None
        self.inbox = ""
        self.next_reply = 0
        self.flights: dict[str, Publication] = {}  # reply subject -> publication
        self.probe: Record | None = None  # taken while connecting: published once connected
        self.connecting: asyncio.Task[None] | None = None
        self.pumping: asyncio.Task[None] | None = None
        self.again = False  # woken while pumping: pump once more
        self.timer: asyncio.TimerHandle | None = None
        self.server_said = ""  # the latest error the client reported, in words
        self.subjects: dict[str, str] = {}  # event name -> subject

    def taken(self) -> list[Record]:
        """The records this sink took and has not finished: in flight, or waiting for the connection."""
        taken = [flight.record for flight in self.flights.values()]
        if self.probe is not None:
            taken.append(self.probe)
        return taken


class NatsLoop:
    """Drives every NATS outlet (see the module docstring); a ``sinks.driver.Driver``."""

    kind = kinds.NATS

    def __init__(self, context: DriverContext) -> None:
        self.results = context.results
        self.stats = context.stats
        self.log_limiter = context.log_limiter
        self.stopping = context.stopping
        self._readers = ReaderHandoff(context.reader)  # the loop's read-only view of the spool (None: spool memory)
        self.nodeid = context.nodeid
        self.clock = context.clock  # deadlines and backoff (tests drive a fake one)
        self.connect = natsclient.connect  # tests hand out their own client
        self.policy = RetryPolicy()  # swapped whole on reload
        self.concurrency = 64  # the daemon default (nats-concurrency), for sinks that set none
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(self._on_loop_error)
        self.sinks: dict[int, Sink] = {}  # loop thread only
        # Made in run(), once this loop is the thread's: on Python 3.9 an asyncio.Event binds to the
        # thread's current loop when made, and the thread that builds the driver has none (or another).
        self._stop: asyncio.Event | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._sweeping: asyncio.TimerHandle | None = None  # the next sweep, while publications await a PubAck
        self._thread: Optional[threading.Thread] = None

    # -- from other threads --------------------------------------------------------------
    def _call(self, function: Callable[..., None], *args: object) -> None:
        try:
            self.loop.call_soon_threadsafe(function, *args)
        except RuntimeError:  # the loop is closed: the daemon is stopping
            pass

    def add(self, outlet: Outlet) -> None:
        """Start publishing for ``outlet`` (any thread); raises WrongDriver for a destination of another kind."""
        outlet.bind(self, self.kind, lambda: self._call(self._kick_outlet, outlet))
        self._call(self._add, outlet)

    def remove(self, outlet: Outlet) -> None:
        """Stop publishing for ``outlet`` and close its connection (any thread)."""
        outlet.close()
        self._call(self._remove, outlet)

    def request_stop(self) -> None:
        """Make the loop look at ``stopping`` now (any thread)."""
        self._call(self._check_stop)

    def configure(self, settings: Settings) -> None:
        """The retry policy and default concurrency in force (any thread: each is replaced whole)."""
        self.policy = RetryPolicy.of(settings)
        self.concurrency = settings.nats_concurrency

    def start(self) -> None:
        """Run the loop in its own thread until ``stopping`` is set."""
        self._thread = threading.Thread(target=self._serve_thread, name="nats", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """False once the loop's thread has ended."""
        return self._thread is not None and self._thread.is_alive()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the loop's thread to end."""
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))

    def use_reader(self, reader: SpoolReader) -> None:
        """Read the spool through ``reader`` from the next refill on (any thread): the file was rebuilt."""
        self._readers.offer(reader)

    @property
    def reader(self) -> SpoolReader | None:
        """The spool reader in use (loop thread): one handed over by ``use_reader`` from now on."""
        return self._readers.current()

    def close(self) -> None:
        """Release the event loop and the spool readers, once it no longer runs."""
        self._readers.close()
        if not self.loop.is_closed():
            self.loop.close()

    # -- the loop ------------------------------------------------------------------------
    def _serve_thread(self) -> None:
        """The thread: serve; an unforeseen error is logged (the supervisor starts a new driver, the events are kept)."""
        name_os_thread("gev-nats")
        try:
            self.run()
        except Exception:  # noqa: BLE001 - logged; the supervisor starts a new driver
            log.exception("The NATS loop stopped by an unexpected error; a new one starts within seconds "
                          "and the events it held are kept")

    def run(self) -> None:
        """Serve until ``stopping`` is set; then give every record back and close every connection."""
        asyncio.set_event_loop(self.loop)
        self._stop = asyncio.Event()
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            self.loop.run_until_complete(self._release_all())
            self.loop.run_until_complete(self._cancel_the_rest())

    async def _cancel_the_rest(self) -> None:
        """Cancel what nats-py left running (a connection that did not close in time), and let it end."""
        rest = [task for task in asyncio.all_tasks(self.loop) if task is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.wait(rest, timeout=0.2)

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        """An error nothing caught (a callback, a task of nats-py): logged in one line, the loop goes on."""
        error = context.get("exception")
        exception = error if isinstance(error, BaseException) else None
        # Only the exception's type is shown: its text could quote a credential.
        log.error("Unexpected %s in the NATS loop (%s); delivery goes on",
                  type(exception).__name__ if exception else "error", context.get("message", ""),
                  exc_info=exception if log.isEnabledFor(logging.DEBUG) else None)

    async def _serve(self) -> None:
        self._sweep()
        assert self._stop is not None
        await self._stop.wait()

    def _stopped(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    def _check_stop(self) -> None:
        if self.stopping.is_set():
            if self._stop is not None:
                self._stop.set()

    def _sweep(self) -> None:
        """Expire publications past their deadline; look at ``stopping``; again soon while any is in flight.

        With nothing in flight no sweep is scheduled (an idle daemon sleeps): the next
        publication starts them again (``_publish``), and a stop request comes on its own.
        """
        self._sweeping = None
        self._check_stop()
        if self._stopped():
            return
        try:
            now = self.clock()
            for sink in list(self.sinks.values()):
                expired = [reply for reply, flight in sink.flights.items() if flight.deadline <= now]
                for reply in expired:
                    flight = sink.flights.pop(reply)
                    self._finish(sink, flight.record, self._timeout(sink), flight.started)
                if expired:
                    self._kick(sink)
        finally:  # whatever happened, publications keep being expired
            if any(sink.flights for sink in self.sinks.values()):
                self._sweep_soon()

    def _sweep_soon(self) -> None:
        """Make sure a sweep is scheduled (publications await their PubAck)."""
        if self._sweeping is None and not self._stopped():
            self._sweeping = self.loop.call_later(EXPIRY_CHECK_SECS, self._sweep)

    async def _release_all(self) -> None:
        connecting = {sink.connecting for sink in self.sinks.values() if sink.connecting is not None}
        for sink in list(self.sinks.values()):
            self._drop(sink)  # cancels what is connecting
        self.sinks.clear()
        if self._closing or connecting:
            await asyncio.wait(self._closing | connecting, timeout=CLOSE_WAIT_SECS)

    def _add(self, outlet: Outlet) -> None:
        current = self.sinks.get(outlet.hook_id)
        if current is not None and current.outlet is not outlet:
            self._drop(current)
        self.sinks[outlet.hook_id] = Sink(outlet)
        self._kick_outlet(outlet)

    def _remove(self, outlet: Outlet) -> None:
        sink = self.sinks.get(outlet.hook_id)
        if sink is not None and sink.outlet is outlet:
            self._drop(sink)
            del self.sinks[outlet.hook_id]

    def _drop(self, sink: Sink) -> None:
        """Stop a sink: its records go back to the outlet, first in line (they are in the spool)."""
        taken = sink.taken()
        sink.flights.clear()
        sink.probe = None
        for task in (sink.connecting, sink.pumping):
            if task is not None:
                task.cancel()
        sink.connecting = sink.pumping = None
        if sink.timer is not None:
            sink.timer.cancel()
            sink.timer = None
        self._disconnect(sink)
        sink.outlet.release(taken)

    def _disconnect(self, sink: Sink) -> None:
        client, sink.client = sink.client, None
        if client is not None:
            task = self.loop.create_task(natsclient.close_quietly(client, CLOSE_WAIT_SECS))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # -- publishing ----------------------------------------------------------------------
    def _kick_outlet(self, outlet: Outlet) -> None:
        sink = self.sinks.get(outlet.hook_id)
        if sink is not None and sink.outlet is outlet:
            self._kick(sink)

    def _kick(self, sink: Sink) -> None:
        """Publish what the sink may publish now (in a task: publishing awaits nats-py)."""
        if self._stopped() or self.sinks.get(sink.outlet.hook_id) is not sink:
            return
        if sink.pumping is not None:
            sink.again = True
            return
        sink.pumping = self.loop.create_task(self._pump_guarded(sink))

    async def _pump_guarded(self, sink: Sink) -> None:
        try:
            while True:
                sink.again = False
                await self._pump(sink)
                if not sink.again:
                    break
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - the last line of defence of one sink
            # Only the exception's type is shown: its text could quote a credential.
            log.error("Unexpected %s while publishing to url=%s; its events are kept and retried",
                      type(err).__name__, sink.outlet.label, exc_info=log.isEnabledFor(logging.DEBUG))
            self._requeue_flights(sink)
            self._disconnect(sink)
            sink.outlet.back_off(self.policy, self.clock())
            self._schedule(sink)
        finally:
            if sink.pumping is asyncio.current_task():
                sink.pumping = None

    def _settings(self, sink: Sink) -> NatsSettings | None:
        hook, _, generation = sink.outlet.settings()
        if generation != sink.generation:
            sink.generation = generation
            self._requeue_flights(sink)
            self._disconnect(sink)
            sink.subjects = {}
            try:
                sink.settings = natsclient.settings_for(hook)
            except (ValueError, OSError) as err:  # bad URL, CA bundle, client certificate or credential file
                sink.settings = None
                self.log_limiter.log(log, logging.ERROR, f"{sink.outlet.hook_id}:config",
                                     "Cannot use the settings of NATS sink url=%s: %s; its events wait until "
                                     "they are fixed", sink.outlet.label, err)
        return sink.settings

    def _requeue_flights(self, sink: Sink) -> None:
        """Publications on a connection being dropped: sent again on the next (a retry, not a failure)."""
        if sink.flights:
            sink.outlet.requeue([flight.record for flight in sink.flights.values()])
            sink.flights.clear()

    async def _pump(self, sink: Sink) -> None:
        outlet = sink.outlet
        if outlet.closed or sink.connecting is not None:
            return
        if self.clock() < outlet.blocked_until:
            self._schedule(sink)
            return
        settings = self._settings(sink)
        client = sink.client
        if client is not None and client.is_closed:
            self._requeue_flights(sink)
            sink.client = client = None
        if settings is not None and client is None:
            if sink.probe is not None:  # never two probes: the first waits for a retry
                outlet.retry.insert(0, sink.probe)
                sink.probe = None
            record = outlet.take(self.reader)
            if record is not None:
                sink.probe = record
                sink.connecting = self.loop.create_task(self._connect(sink, settings))
            return
        concurrency = outlet.hook.concurrency or self.concurrency
        while len(sink.flights) < outlet.slot_limit(concurrency, len(sink.flights)) and self.clock() >= outlet.blocked_until:
            if outlet.closed or sink.client is not client:
                return
            record = outlet.take(self.reader)
            if record is None:
                break
            if settings is None or client is None:
                self._finish(sink, record, Outcome(OutcomeKind.RETRY, "config", 0, None, "NATS sink settings unusable"))
                continue
            await self._publish(sink, settings, client, record)
        if outlet.blocked_until > self.clock():
            self._schedule(sink)

    async def _connect(self, sink: Sink, settings: NatsSettings) -> None:
        def heard(text: str) -> None:
            sink.server_said = text

        def changed(text: str) -> None:
            self.log_limiter.log(log, logging.WARNING if text.startswith("disconnected") else logging.INFO,
                                 f"{sink.outlet.hook_id}:{text[:12]}", "NATS sink url=%s %s", sink.outlet.label, text)

        try:
            try:
                client = await self.connect(settings, CLIENT_NAME, heard, changed)
            except natsclient.ConnectError as err:
                record, sink.probe = sink.probe, None
                if record is not None:
                    self._finish(sink, record, Outcome(OutcomeKind.RETRY, err.reason, 0, None, str(err)))
                return
            if sink.settings is not settings or self.sinks.get(sink.outlet.hook_id) is not sink:
                await natsclient.close_quietly(client, CLOSE_WAIT_SECS)  # the settings changed meanwhile
                return
            sink.client = client
            sink.server_said = ""
            sink.inbox = client.new_inbox()
            async def on_ack(msg: Msg) -> None:
                self._on_ack(sink, client, msg)

            await client.subscribe(f"{sink.inbox}.*", cb=on_ack)
            log.info("Connected to NATS url=%s server=%s", sink.outlet.label,
                     client.connected_url.netloc if client.connected_url else "?")
            record, sink.probe = sink.probe, None
            if record is not None:
                await self._publish(sink, settings, client, record)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # noqa: BLE001 - failed right after it opened (or worse): retry after the backoff
            if not isinstance(err, (NatsError, OSError)):
                log.error("Unexpected %s while connecting url=%s; its events are kept and retried",
                          type(err).__name__, sink.outlet.label, exc_info=log.isEnabledFor(logging.DEBUG))
            record, sink.probe = sink.probe, None
            self._disconnect(sink)
            if record is not None:
                self._finish(sink, record, Outcome(OutcomeKind.RETRY, "connect", 0, None,
                                                   f"cannot use the connection to {settings.url.servers_text}: "
                                                   f"{natsclient.describe(err, settings)}"))
        finally:
            if sink.connecting is asyncio.current_task():
                sink.connecting = None
                self._kick(sink)

    def _subject(self, sink: Sink, settings: NatsSettings, record: Record) -> str:
        subject = sink.subjects.get(record.name)
        if subject is None:
            subject = sink.subjects[record.name] = settings.url.subject(self._nodeid(record), record.name)
        return subject

    def _nodeid(self, record: Record) -> str:
        if not self.nodeid:
            try:
                self.nodeid = str(json.loads(record.body).get("nodeid") or "")
            except (ValueError, AttributeError):
                pass
        return self.nodeid

    async def _publish(self, sink: Sink, settings: NatsSettings, client: Client, record: Record) -> None:
        reply = f"{sink.inbox}.{sink.next_reply}"
        sink.next_reply += 1
        started = self.clock()
        sink.flights[reply] = Publication(record, started, started + settings.timeout_secs)
        self._sweep_soon()
        headers = {"Nats-Msg-Id": record.event_id, "Gluster-Event-Seq": str(record.seq),
                   "Gluster-Node-Id": self._nodeid(record)}
        try:
            await client.publish(self._subject(sink, settings, record), record.body, reply=reply, headers=headers)
        except MaxPayloadError:
            flight = sink.flights.pop(reply, None)
            if flight is not None and not client.is_connected:  # the limit of a server we are no longer on
                self._finish(sink, record, Outcome(OutcomeKind.RETRY, "publish", 0, None,
                                                   "disconnected from the server, reconnecting"), flight.started)
            elif flight is not None:
                self._finish(sink, record, Outcome(OutcomeKind.REJECT, "too_large", 0, None,
                                                   f"over the server's max_payload ({len(record.body)} > "
                                                   f"{client.max_payload} bytes): raise max_payload in the "
                                                   "server's config, then run webhook-redeliver"))
        except NatsError as err:  # closed or draining, or the reconnect buffer is full: later
            flight = sink.flights.pop(reply, None)
            if flight is not None:
                self._finish(sink, record, Outcome(OutcomeKind.RETRY, "publish", 0, None,
                                                   f"cannot publish: {natsclient.describe(err, settings)}"),
                             flight.started)

    def _on_ack(self, sink: Sink, client: Client, msg: Msg) -> None:
        flight = sink.flights.pop(msg.subject, None)
        if flight is None or sink.client is not client:
            return  # answered after its deadline (it was retried: the stream has it once), or an old connection
        settings = sink.settings
        outcome, duplicate = outcome_of_ack(msg, msg.subject if settings is None else
                                            self._subject(sink, settings, flight.record), sink.outlet.label)
        if duplicate:
            sink.outlet.count_duplicate()
            self.stats.add("duplicates", sink.outlet.label)
        self._finish(sink, flight.record, outcome, flight.started)
        self._kick(sink)

    def _timeout(self, sink: Sink) -> Outcome:
        settings = sink.settings
        secs = settings.timeout_secs if settings is not None else natsclient.DEFAULT_TIMEOUT_SECS
        client = sink.client
        state = ""
        if client is not None and client.is_reconnecting:
            state = "; disconnected, reconnecting"
        if sink.server_said:
            state += f"; the client last reported: {sink.server_said}"
        return Outcome(OutcomeKind.RETRY, "timeout", 0, None, f"no PubAck within {secs:g}s{state}")

    def _finish(self, sink: Sink, record: Record, outcome: Outcome, started: float | None = None) -> None:
        """Account for one attempt (``Outlet.finish``: publications sent before the last counted
        failure fail with it and count once, so eight in flight when the stream vanishes are one failure)."""
        sink.outlet.finish(record, outcome, self.results, self.policy, self.stats, self.log_limiter,
                           self.clock(), self.stopping, started)

    def _schedule(self, sink: Sink) -> None:
        """Pump the sink again when its backoff ends."""
        if sink.timer is not None:
            sink.timer.cancel()
        delay = max(0.0, sink.outlet.blocked_until - self.clock())
        sink.timer = self.loop.call_later(delay, self._kick, sink)


def make_driver(context: DriverContext) -> NatsLoop:
    """The NATS driver (``sinks.driver.DRIVERS``)."""
    return NatsLoop(context)
