"""The Alertmanager driver: one thread that turns every Alertmanager sink's events into alerts and posts them.

Why a kind of its own, not a format of the webhook driver: a webhook POSTs each record once
to one URL, while an Alertmanager sink posts to every member of a cluster, posts nothing for
most events (informational ones), and must post its open conditions again every
``alert-resend-secs`` whether events come or not: a timer and a fan-out the webhook loop
has no place for. The HTTP itself is the webhook driver's: each member is a one-shot outlet
of a private ``sinks.http.driver.DeliveryLoop`` (connections, proxies, TLS, bearer token and
JWT, timeouts, the answer's classification), which this thread runs until every member has
answered, as ``webhook-test`` does.

For each record (``Outlet.take``) the alerts are made from the event and the condition's row
in the spool (``alerts.of_event``) and posted to every member at once:

- delivered once one member stored them (2xx); a member that failed gets the state with
  the next re-send, and is logged;
- a 400 from every member that answered is a dead letter, never retried: Alertmanager has
  stored the valid alerts of the batch anyway, and the same batch would be refused again;
- otherwise (5xx, 429, timeouts, no connection) retried with the outlet's backoff.

Every ``alert-resend-secs`` each sink posts the open conditions and alarms of the spool's
``conditions`` table (and those resolved in the last 15 minutes) that its event filter
admits, to every member: that keeps them firing, tells an Alertmanager that restarted, and
after a daemon restart or reload picks up where it was (a reload re-sends at once: that is how
``condition-clear``, which closes rows in the spool, gets its resolutions out without waiting
for the period). With ``spool memory`` too: the file
keeps the conditions table (not the events), read through a reader of this driver's own.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import json
import logging
import sqlite3
import threading
import time
from typing import Optional

from eventtypes import conditions as catalog
from glustereventsd.base.threadname import name_os_thread
from glustereventsd.models import Destination, Outcome, OutcomeKind, Settings
from glustereventsd.sinks import kinds
from glustereventsd.sinks.alertmanager import alerts as made
from glustereventsd.sinks.alertmanager import url as amurl
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.sinks.http.driver import DeliveryLoop
from glustereventsd.sinks.http.outcomes import failure
from glustereventsd.sinks.http.request import DEFAULT_TIMEOUT_SECS
from glustereventsd.sinks.http.wire import RequestTimeout
from glustereventsd.sinks.outlet import Limit, Outlet
from glustereventsd.sinks.retry import RetryPolicy
from glustereventsd.spool.reader import ReaderHandoff, SpoolReader
from glustereventsd.spool.records import Record

log = logging.getLogger("glustereventsd.alertmanager")

IDLE_WAIT_SECS = 0.5
_member_ids = itertools.count(1)


class Members:
    """One Alertmanager sink's members: a one-shot outlet of the private HTTP loop each."""

    def __init__(self, outlet: Outlet) -> None:
        self.outlet = outlet
        self.generation = -1
        self.members: list[Outlet] = []
        self.next_resend = 0.0  # wall time


def member_hook(hook: Destination, member: str, path: str = amurl.ALERTS_PATH) -> Destination:
    """The webhook settings one member's POSTs use: the sink's, at ``member``'s API."""
    return dataclasses.replace(hook, url=amurl.endpoint_url(member, path), format="", events=())


def post(loop: DeliveryLoop, members: list[Outlet], record: Record, timeout_secs: float) -> list[Outcome]:
    """POST ``record`` (its body: alerts) to every member at once; each member's outcome, in order."""
    for member in members:
        member.last_outcome = None
        member.offer([record])
    limit = timeout_secs + 1.0
    loop.run(until=lambda: all(m.last_outcome is not None for m in members), deadline=time.monotonic() + limit)
    timed_out = failure(RequestTimeout(f"no answer within {limit:g}s"))
    return [m.last_outcome or timed_out for m in members]


def combine(outcomes: list[Outcome]) -> Outcome:
    """One outcome for a post to every member (see the module docstring)."""
    for outcome in outcomes:
        if outcome.ok:
            return outcome
    answered = [o for o in outcomes if o.kind is OutcomeKind.REJECT]
    if answered and len(answered) == len(outcomes):
        return answered[0]
    retries = [o for o in outcomes if o.kind is OutcomeKind.RETRY]
    waits = [o.retry_after_secs for o in retries if o.retry_after_secs is not None]
    first = retries[0] if retries else outcomes[0]
    return first._replace(retry_after_secs=min(waits) if waits else None)


class AlertmanagerDriver:
    """Drives every Alertmanager sink (see the module docstring); a ``sinks.driver.Driver``."""

    kind = kinds.ALERTMANAGER

    def __init__(self, context: DriverContext) -> None:
        self.context = context
        self.results = context.results
        self.stats = context.stats
        self.log_limiter = context.log_limiter
        self.stopping = context.stopping
        self.clock = context.clock
        self.wall = context.wall
        # Conditions are read through the spool's reader; with spool memory the drivers get none, but
        # the file still holds the conditions table: this driver then opens a reader of its own
        # (Outlet.take never reads the queue of a memory spool with it).
        reader = context.reader
        if reader is None and context.spool_path is not None:
            try:
                reader = SpoolReader(context.spool_path)
            except sqlite3.Error as err:
                log.error("Cannot read the open conditions in %s (%s): Alertmanager sinks post each event's "
                          "alerts but do not re-send them", context.spool_path, err)
        self._readers = ReaderHandoff(reader)
        self.http = DeliveryLoop(DriverContext(None, context.stats, context.log_limiter, context.stopping,
                                               environment=context.environment, nodeid=context.nodeid))
        self.policy = RetryPolicy()
        self.resend_secs = 60.0
        self.generator_template = ""
        self._wake = threading.Event()
        self._resend_now = False  # set by configure (a reload): re-send every sink's conditions at once
        self._lock = threading.Lock()
        self._control: list[tuple[str, Outlet]] = []
        self.sinks: dict[int, Members] = {}  # driver thread only
        self._thread: Optional[threading.Thread] = None

    # -- from other threads --------------------------------------------------------------
    def add(self, outlet: Outlet) -> None:
        """Start delivering for ``outlet`` (any thread); raises WrongDriver for another kind."""
        outlet.bind(self, self.kind, self._wake.set)
        with self._lock:
            self._control.append(("add", outlet))
        self._wake.set()

    def remove(self, outlet: Outlet) -> None:
        """Stop delivering for ``outlet`` (any thread)."""
        outlet.close()
        with self._lock:
            self._control.append(("remove", outlet))
        self._wake.set()

    def configure(self, settings: Settings) -> None:
        """The retry policy, the re-send period and the generatorURL template in force (any thread).

        Called on every reload: the conditions are re-sent at once, so what changed in the spool's
        table meanwhile (a ``condition-clear``) reaches Alertmanager now, not a period later.
        """
        self.policy = RetryPolicy.of(settings)
        self.resend_secs = settings.alert_resend_secs
        self.generator_template = settings.alert_generator_url
        self.http.configure(settings)
        with self._lock:
            self._resend_now = True
        self._wake.set()

    def use_reader(self, reader: SpoolReader) -> None:
        """Read the spool through ``reader`` from now on (any thread): the file was rebuilt."""
        self._readers.offer(reader)
        self._wake.set()

    def start(self) -> None:
        """Run the driver in its own thread until ``stopping`` is set."""
        self._thread = threading.Thread(target=self._serve, name="alerts", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        """False once the thread has ended."""
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self) -> None:
        """Look at ``stopping`` now."""
        self._wake.set()
        self.http.wake()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the thread to end."""
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))

    def close(self) -> None:
        """Release the HTTP loop and the spool reader, once the thread has ended."""
        self.http.close()
        self._readers.close()

    # -- the thread ----------------------------------------------------------------------
    def _serve(self) -> None:
        name_os_thread("gev-alerts")
        try:
            self.run()
        except Exception:  # noqa: BLE001 - logged; the supervisor starts a new driver
            log.exception("The Alertmanager driver stopped by an unexpected error; a new one starts within "
                          "seconds and the events it held are kept")
        finally:
            self.http.release_all()
            for state in self.sinks.values():
                state.outlet.release([])

    def run(self) -> None:
        """Deliver and re-send until ``stopping`` is set."""
        while not self.stopping.is_set():
            self._apply_control()
            worked = False
            for state in list(self.sinks.values()):
                worked = self._guarded(state, self._pump) or worked
            now = self.wall()
            for state in list(self.sinks.values()):
                if now >= state.next_resend:
                    state.next_resend = now + self.resend_secs
                    self._guarded(state, self._resend)
            if not worked:
                self._wake.wait(self._wait_secs())
                self._wake.clear()

    def _wait_secs(self) -> float:
        wait = IDLE_WAIT_SECS
        now, clock = self.wall(), self.clock()
        for state in self.sinks.values():
            wait = min(wait, state.next_resend - now)
            if state.outlet.blocked_until > clock:
                wait = min(wait, state.outlet.blocked_until - clock)
        return max(0.01, wait)

    def _apply_control(self) -> None:
        with self._lock:
            control, self._control = self._control, []
            resend_now, self._resend_now = self._resend_now, False
        if resend_now:
            for state in self.sinks.values():
                state.next_resend = 0.0
        for what, outlet in control:
            current = self.sinks.get(outlet.hook_id)
            if what == "add":
                if current is not None:
                    self._drop(current)
                self.sinks[outlet.hook_id] = Members(outlet)
            elif current is not None and current.outlet is outlet:
                self._drop(current)
                del self.sinks[outlet.hook_id]

    def _close_members(self, state: Members) -> None:
        """Close the members' connections (the HTTP loop applies it at its next turn)."""
        for member in state.members:
            self.http.remove(member)
        state.members = []
        state.generation = -1

    def _drop(self, state: Members) -> None:
        """The sink goes: its members close, and records waiting for a retry go back to the outlet."""
        self._close_members(state)
        state.outlet.release([])

    def _guarded(self, state: Members, step: object) -> bool:
        try:
            return bool(step(state))  # type: ignore[operator]
        except Exception as err:  # noqa: BLE001 - the last line of defence of one sink
            outlet = state.outlet
            self.log_limiter.log(log, logging.ERROR, f"{outlet.hook_id}:internal",
                                 "Unexpected %s while posting alerts to url=%s; its events are kept and retried",
                                 type(err).__name__, outlet.label)
            outlet.back_off(self.policy, self.clock())
            return False

    def _members(self, state: Members) -> list[Outlet]:
        """The members' outlets for the settings in force (made again when they change)."""
        hook, options, generation = state.outlet.settings()
        if generation != state.generation:
            self._close_members(state)
            state.generation = generation
            for member in amurl.split(hook.url):
                one = Outlet(member_hook(hook, member), -next(_member_ids), durable=False, window=Limit(4, 1 << 30),
                             memory_limit=Limit(4, 1 << 30), options=options)
                self.http.add(one)
                state.members.append(one)
        return state.members

    def _pump(self, state: Members) -> bool:
        """Post the alerts of the next record, if the backoff allows; True when one was taken."""
        outlet = state.outlet
        if outlet.closed or self.clock() < outlet.blocked_until:
            return False
        reader = self._readers.current()
        record = outlet.take(reader)
        if record is None:
            return False
        started = self.clock()
        try:
            row = None
            if reader is not None:
                key = _key_of(record)
                row = reader.condition(key) if key else None
            alerts = made.of_event(record, row, reader is not None, self.wall(), self.resend_secs,
                                   self.generator_template)
        except Exception:
            outlet.release([record])
            raise
        if not alerts:  # informational, or nothing to resolve: delivered as is
            outcome = Outcome(OutcomeKind.DELIVERED, "ok", 0)
        else:
            outcomes = post(self.http, self._members(state), record._replace(body=made.body(alerts)),
                            outlet.hook.timeout_secs or DEFAULT_TIMEOUT_SECS)
            outcome = combine(outcomes)
            if outcome.ok:
                self._log_failed(state, outcomes)
        outlet.finish(record, outcome, self.results, self.policy, self.stats, self.log_limiter, self.clock(),
                      self.stopping, started)
        return True

    def _resend(self, state: Members) -> bool:
        """Post every open condition and alarm (and recent resolutions) the sink's filter admits."""
        reader = self._readers.current()
        if reader is None or state.outlet.closed:
            return False
        hook = state.outlet.hook
        rows = [row for row in reader.conditions()
                if not hook.events or any(fnmatch.fnmatchcase(row.open_event, p) for p in hook.events)]
        batch = made.of_rows(rows, self.wall(), self.resend_secs, self.generator_template)
        if not batch:
            return False
        record = Record(0, state.outlet.hook_id, "", 0, "ALERTS_RESEND", int(self.wall()), self.wall(),
                        made.body(batch))
        outcomes = post(self.http, self._members(state), record, hook.timeout_secs or DEFAULT_TIMEOUT_SECS)
        self._log_failed(state, outcomes, resend=len(batch))
        return False

    def _log_failed(self, state: Members, outcomes: list[Outcome], resend: int = 0) -> None:
        for member, outcome in zip(state.members, outcomes):
            if outcome.ok:
                continue
            what = f"re-sending {resend} alert(s)" if resend else "posting an alert"
            self.log_limiter.log(log, logging.WARNING, f"{state.outlet.hook_id}:{member.hook.url}:{outcome.reason}",
                                 "Alertmanager url=%s failed %s: %s; it gets the open conditions with the next "
                                 "re-send", member.label, what, outcome.detail or outcome.reason)


def _key_of(record: Record) -> str:
    """The condition key of a record's event ("" when it has none): what to look up in the spool."""
    if catalog.classify(record.name) not in (catalog.OPENS, catalog.CLOSES, catalog.ALARM):
        return ""
    try:
        body = json.loads(record.body)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return catalog.evaluate(record.name, body.get("message"), body.get("nodeid")).key


def make_driver(context: DriverContext) -> AlertmanagerDriver:
    """The Alertmanager driver (``sinks.driver.DRIVERS``)."""
    return AlertmanagerDriver(context)
