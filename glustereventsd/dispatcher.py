"""Delivery to one webhook: one thread driving its keep-alive connections with ``selectors``.

Why one thread with non-blocking sockets, not a thread per connection: measured on this
2-core machine, four threads each posting on its own blocking connection cost 74 to 100 us
of CPU per request, most of it in GIL hand-overs and wake-ups, while one thread driving
four non-blocking connections cost 34 us. Delivery is the daemon's hot path.

A webhook has up to ``concurrency`` slots, each one keep-alive connection carrying at most
one request at a time. Only as many are busy as the backlog needs: at a low event rate one
request is in flight at a time, so events arrive in order without asking for it.

After a failed attempt the webhook backs off (exponential with jitter, or the server's
Retry-After), and until a request succeeds again only one is in flight, the oldest record
first: a webhook that comes back gets its backlog in order and is not hit by a burst of
retries. With concurrency 1 events always arrive in order.

Connecting (DNS, TCP, TLS handshake) blocks, within the request's timeout, but only this
webhook's thread: no webhook ever waits for another.
"""

from __future__ import annotations

import logging
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable

from glustereventsd import auth, deliver, httpclient
from glustereventsd.config import display_url
from glustereventsd.httpclient import HttpError, Origin, ProtocolError, RequestTimeout
from glustereventsd.models import Outcome, OutcomeKind, Webhook
from glustereventsd.spool import Record
from glustereventsd.stats import RateLimitedLog, Stats
from glustereventsd.threadname import name_os_thread
from glustereventsd.worker import Dead, Delivered, Failed, HookQueue, Result, ResultChannel, RetryPolicy

log = logging.getLogger("glustereventsd.dispatcher")

IDLE_WAIT_SECS = 0.5  # longest sleep between two looks at the stop flag


class Slot:
    """One keep-alive connection of a webhook, and the request it carries (if any)."""

    __slots__ = ("sock", "generation", "record", "request", "pending", "buffer", "started", "deadline",
                 "answered", "reused", "resent", "watching")

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.generation = -1  # of the webhook settings the connection was opened with
        self.record: Record | None = None
        self.request = b""  # the whole request, kept to send again on a stale keep-alive
        self.pending = b""  # the part not sent yet
        self.buffer = b""  # the answer so far
        self.started = 0.0
        self.deadline = 0.0
        self.answered = False  # whether the server sent any byte back for this request
        self.reused = False  # whether the connection had carried an earlier request
        self.resent = False
        self.watching = 0  # selector events registered for the socket (0: not registered)


class Endpoint:
    """Where and how to post for one generation of a webhook's settings (formatted once)."""

    __slots__ = ("hook", "origin", "tls", "timeout_secs", "head", "signing_key")

    def __init__(self, hook: Webhook) -> None:
        self.hook = hook
        self.origin = Origin.from_url(hook.url)
        self.tls = deliver.tls_context(hook)
        self.timeout_secs = hook.timeout_secs or deliver.DEFAULT_TIMEOUT_SECS
        self.head = httpclient.request_head(self.origin, deliver.fixed_headers(hook))
        self.signing_key = auth.signing_key(hook.signing_secret) if hook.signing_secret else None


class WebhookDispatcher(threading.Thread):
    """Takes one webhook's records from its ``HookQueue``, posts them, reports every result."""

    def __init__(
        self,
        hooks: HookQueue,
        results: ResultChannel,
        policy: RetryPolicy,
        stats: Stats,
        log_limiter: RateLimitedLog,
        stopping: threading.Event,
        concurrency: int,
    ) -> None:
        super().__init__(name=f"deliver-{hooks.hook_id}", daemon=True)
        self.hooks = hooks
        self.results = results
        self.policy = policy  # swapped whole by the pipeline on reload
        self.stats = stats
        self.log_limiter = log_limiter
        self.stopping = stopping
        self.concurrency = concurrency  # set by the pipeline on reload
        self._selector = selectors.DefaultSelector()
        self._slots: list[Slot] = []
        self._retry: list[Record] = []  # failed records waiting for the backoff, oldest first
        self._endpoint: Endpoint | None = None
        self._endpoint_generation = -1

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> None:
        """Start requests, wait for answers, until the daemon stops or the webhook is removed."""
        name_os_thread(f"gev-deliver-{self.hooks.hook_id}")
        self._selector.register(self.hooks.wake_socket(), selectors.EVENT_READ, None)
        try:
            while not (self.stopping.is_set() or self.hooks.closed):
                self._start_requests()
                for key, _ in self._selector.select(self._wait_secs()):
                    if key.data is None:
                        self.hooks.woken()
                    else:
                        self._guarded(key.data, self._on_ready)
                self._expire()
        except Exception as err:  # noqa: BLE001 - logged; the pipeline starts a new dispatcher
            log.error("Delivery to url=%s stopped by an unexpected %s; a new one starts within seconds "
                      "and the events it held are kept", display_url(self.hooks.hook.url), type(err).__name__)
        finally:
            self._release_all()

    def slot_limit(self) -> int:
        """How many requests may be in flight now (see the module docstring)."""
        return 1 if self.hooks.failures else self.concurrency

    def _wait_secs(self) -> float:
        now = time.monotonic()
        wait = IDLE_WAIT_SECS
        for slot in self._slots:
            if slot.record is not None:
                wait = min(wait, slot.deadline - now)
        if self.hooks.blocked_until > now:
            wait = min(wait, self.hooks.blocked_until - now)
        return max(0.0, wait)

    def _start_requests(self) -> None:
        limit = self.slot_limit()
        busy = sum(1 for slot in self._slots if slot.record is not None)
        while busy < limit and time.monotonic() >= self.hooks.blocked_until:
            record = self._retry.pop(0) if self._retry else self.hooks.take()
            if record is None:
                break
            self._guarded(self._free_slot(limit), self._start, record)
            busy += 1
            limit = self.slot_limit()  # a failure just now allows only one in flight
        self._close_surplus()

    def _free_slot(self, limit: int) -> Slot:
        for slot in self._slots[:limit]:
            if slot.record is None:
                return slot
        slot = Slot()
        self._slots.append(slot)
        return slot

    def _close_surplus(self) -> None:
        """Close idle connections beyond the configured concurrency (it was lowered)."""
        while len(self._slots) > self.concurrency and self._slots[-1].record is None:
            self._close(self._slots.pop())

    def _expire(self) -> None:
        now = time.monotonic()
        for slot in self._slots:
            if slot.record is not None and now >= slot.deadline:
                self._close(slot)
                timeout = self._endpoint.timeout_secs if self._endpoint else deliver.DEFAULT_TIMEOUT_SECS
                self._finish(slot, deliver.failure(RequestTimeout(f"no answer within {timeout:g}s")))

    def _release_all(self) -> None:
        """Close every connection; records not finished go back first in line.

        (Not named ``_stop``: ``threading.Thread`` has a private method of that name.)
        """
        held = [slot.record for slot in self._slots if slot.record is not None] + self._retry
        for slot in self._slots:
            slot.record = None
            self._close(slot)
        self._retry = []
        self.hooks.give_back(held)  # in the spool still; a new dispatcher (or the next start) sends them
        self._selector.close()
        if self.hooks.closed:
            self.hooks.release()

    # -- one request ---------------------------------------------------------------------
    def _guarded(self, slot: Slot, step: Callable[..., None], *args: object) -> None:
        """Run one step of a slot; an error nobody foresaw fails that request, not the loop."""
        try:
            step(slot, *args)
        except Exception as err:  # noqa: BLE001 - this slot's last line of defence
            # Only the exception's type is shown: its text could quote a header value.
            self._close(slot)
            self._warn("internal", f"Unexpected {type(err).__name__} while posting to "
                       f"url={display_url(self.hooks.hook.url)}; the event is kept and retried")
            if slot.record is not None:
                self._finish(slot, Outcome(OutcomeKind.RETRY, "internal", 0, None,
                                           f"unexpected {type(err).__name__}"))

    def _current_endpoint(self) -> Endpoint | None:
        generation = self.hooks.generation
        if generation != self._endpoint_generation:
            hook = self.hooks.hook
            self._endpoint_generation = generation
            try:
                self._endpoint = Endpoint(hook)
            except (ValueError, OSError) as err:  # bad URL, CA bundle or signing secret
                self._endpoint = None
                self._warn("config", f"cannot use settings of webhook url={display_url(hook.url)}: {err}")
        return self._endpoint

    def _start(self, slot: Slot, record: Record) -> None:
        slot.record = record
        slot.started = time.monotonic()
        endpoint = self._current_endpoint()
        if endpoint is None:
            slot.deadline = slot.started
            self._finish(slot, Outcome(OutcomeKind.RETRY, "config", 0, None, "webhook settings unusable"))
            return
        slot.deadline = slot.started + endpoint.timeout_secs
        self._build_request(slot, endpoint, record)
        slot.resent = False
        if slot.sock is not None and slot.generation == self._endpoint_generation:
            slot.reused = True
        else:
            self._close(slot)
            slot.reused = False
            if not self._connect(slot, endpoint):
                return
        self._send_request(slot)

    def _build_request(self, slot: Slot, endpoint: Endpoint, record: Record) -> None:
        headers = deliver.varying_headers(endpoint.hook, record.name, record.ts, int(time.time()), record.body,
                                          record.event_id, record.seq, endpoint.signing_key)
        slot.request = httpclient.format_request(endpoint.head, headers, record.body)

    def _connect(self, slot: Slot, endpoint: Endpoint) -> bool:
        try:
            sock = httpclient.open_socket(endpoint.origin, endpoint.tls, slot.deadline)
        except HttpError as err:
            self._finish(slot, deliver.failure(err))
            return False
        sock.setblocking(False)
        slot.sock = sock
        slot.generation = self._endpoint_generation
        self._watch(slot, selectors.EVENT_READ)  # for its whole life: an idle one may be closed by the server
        return True

    def _send_request(self, slot: Slot) -> None:
        slot.pending = slot.request
        slot.answered = bool(slot.buffer)
        self._send(slot)

    def _on_ready(self, slot: Slot) -> None:
        if slot.record is None:
            self._idle_ready(slot)
        elif slot.pending:
            self._send(slot)
        else:
            self._receive(slot)

    def _send(self, slot: Slot) -> None:
        assert slot.sock is not None
        try:
            while slot.pending:
                sent = slot.sock.send(slot.pending)
                slot.pending = slot.pending[sent:]
        except (BlockingIOError, ssl.SSLWantWriteError):
            self._watch(slot, selectors.EVENT_WRITE)
            return
        except ssl.SSLWantReadError:
            self._watch(slot, selectors.EVENT_READ)
            return
        except OSError as err:
            self._lost(slot, err)
            return
        self._watch(slot, selectors.EVENT_READ)

    def _idle_ready(self, slot: Slot) -> None:
        """An idle keep-alive connection became readable: the server closed it (or misbehaves)."""
        assert slot.sock is not None
        try:
            slot.sock.recv(httpclient.RECV_BYTES)
        except (BlockingIOError, ssl.SSLWantReadError):  # e.g. a TLS 1.3 session ticket: nothing for us
            return
        except OSError:
            pass
        self._close(slot)  # closed, or bytes nobody asked for: either way not reusable

    def _receive(self, slot: Slot) -> None:
        sock = slot.sock
        assert sock is not None
        eof = False
        try:
            while True:
                data = sock.recv(httpclient.RECV_BYTES)
                if not data:
                    eof = True
                    break
                slot.buffer += data
                slot.answered = True
                if not (isinstance(sock, ssl.SSLSocket) and sock.pending()):
                    break
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except ssl.SSLWantWriteError:
            self._watch(slot, selectors.EVENT_WRITE)
            return
        except OSError as err:
            self._lost(slot, err)
            return
        self._watch(slot, selectors.EVENT_READ)  # back from WRITE if TLS needed to write first
        try:
            parsed = httpclient.parse_response(slot.buffer, eof)
        except ProtocolError as err:
            self._close(slot)
            self._finish(slot, deliver.failure(err))
            return
        if parsed is None:
            if eof:
                self._lost(slot, None)
            return
        if parsed.keep_alive:
            slot.buffer = parsed.rest
        else:
            self._close(slot)
        self._finish(slot, deliver.outcome_of(parsed.response))

    def _lost(self, slot: Slot, err: OSError | None) -> None:
        """The connection failed or closed before a complete answer."""
        self._close(slot)
        if not slot.answered and slot.reused and not slot.resent:
            # An idle keep-alive the server closed before reading the request: nothing was
            # delivered, so sending again on a new connection cannot duplicate the event.
            endpoint = self._current_endpoint()
            if endpoint is not None and self._connect(slot, endpoint):
                assert slot.record is not None
                self._build_request(slot, endpoint, slot.record)  # with the settings in force now
                slot.reused, slot.resent = False, True
                self._send_request(slot)
            elif endpoint is None:
                self._finish(slot, Outcome(OutcomeKind.RETRY, "config", 0, None, "webhook settings unusable"))
            return
        if err is None:
            failure: HttpError = ProtocolError("server closed the connection")
        elif isinstance(err, (ConnectionError, ssl.SSLError)):
            failure = ProtocolError(f"connection lost: {err}")
        else:
            failure = httpclient.ConnectError(f"connection failed: {err.strerror or err}")
        self._finish(slot, deliver.failure(failure))

    # -- results -------------------------------------------------------------------------
    def _finish(self, slot: Slot, outcome: Outcome) -> None:
        record = slot.record
        assert record is not None
        slot.record = None
        if slot.watching == selectors.EVENT_WRITE:
            self._watch(slot, selectors.EVENT_READ)
        hook = self.hooks.hook
        now = time.time()
        if outcome.kind is OutcomeKind.DELIVERED:
            self.hooks.failures = 0
            self._report(Delivered(record.hook_id, record.id, now, now - record.received))
            return
        if outcome.kind is OutcomeKind.REJECT:
            self._warn(outcome.reason, f"Webhook rejected event, moved to dead letters url={display_url(hook.url)} "
                       f"event={record.name} reason={outcome.detail or outcome.reason}")
            self._report(Dead(record, outcome.detail or outcome.reason))
            return
        self.stats.add("retried", (display_url(hook.url), outcome.reason))
        self._report(Failed(record.hook_id, outcome.reason, outcome.detail or outcome.reason, now))
        if now - record.received > self.policy.max_age_secs:
            self._report(Dead(record, f"undelivered after {self.policy.max_age_secs:g}s: {outcome.reason}"))
            return
        self.hooks.failures += 1
        delay = self.policy.backoff(self.hooks.failures, outcome.retry_after_secs)
        self.hooks.blocked_until = max(self.hooks.blocked_until, time.monotonic() + delay)
        self._warn(outcome.reason, f"Webhook delivery failed, retrying url={display_url(hook.url)} "
                   f"reason={outcome.detail or outcome.reason} retry_in_secs={delay:.1f}")
        self._retry.append(record)
        self._retry.sort(key=lambda r: r.seq)

    def _report(self, result: Result) -> None:
        self.results.put(result, self.stopping)

    def _warn(self, key: str, message: str) -> None:
        self.log_limiter.log(log, logging.WARNING, f"{self.hooks.hook_id}:{key}", "%s", message)

    # -- sockets -------------------------------------------------------------------------
    def _watch(self, slot: Slot, events: int) -> None:
        if slot.watching == events or slot.sock is None:
            return
        if slot.watching:
            self._selector.modify(slot.sock, events, slot)
        else:
            self._selector.register(slot.sock, events, slot)
        slot.watching = events

    def _unwatch(self, slot: Slot) -> None:
        if slot.watching and slot.sock is not None:
            self._selector.unregister(slot.sock)
        slot.watching = 0

    def _close(self, slot: Slot) -> None:
        self._unwatch(slot)
        httpclient.close_quietly(slot.sock)
        slot.sock = None
        slot.buffer = b""
