"""The daemon's life: start-up, reload and shutdown, in that order, from one thread.

``Daemon.run()`` binds the sockets, holds the pid file, starts the sources, the pipeline and
the file watcher, then waits on the control queue until told to stop. The file watcher puts
reload requests on that queue; signal handlers only set a flag (taking the queue's lock in a
handler could deadlock). The main loop sleeps on a doorbell (``runtime.doorbell``) that
signals and the queue's requests ring, and otherwise wakes only when its own timers are due
(at most every ``MAIN_WAIT_SECS``). A reload
builds new settings and webhooks and swaps them in whole, or keeps the old ones and logs why. Files byte for byte those in force
are not applied twice. The outcome of every request goes to the status file (``runstate``),
which is how ``glustereventsd --reload`` and the CLI know that a reload was applied.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import signal
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from glustereventsd.config import options as config
from glustereventsd.base import logsetup
from glustereventsd.config import nodeid
from glustereventsd.runtime import runstate
from glustereventsd.base import sdnotify
from glustereventsd.spool.startup import open_spool
from glustereventsd.ingest.eventlog import EventLog
from glustereventsd.base.fsutil import NotRegularFile, PidFile, PidFileBusy
from glustereventsd.config.lastgood import LastGood
from glustereventsd.runtime.metrics import DaemonCollector, MetricsServer, spool_conditions
from glustereventsd.models import Settings, Destination
from glustereventsd.base.paths import Paths
from glustereventsd.pipeline.commit import Committer
from glustereventsd.ingest.batch import Ingest
from glustereventsd.pipeline.supervisor import Outlets
from glustereventsd.pipeline.thread import RESULTS_MAX, Pipeline, ReloadRequest
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.models import Datagram
from glustereventsd.sources.udp import BindError, SenderPolicy, UdpSource, debug_enabled, open_sockets
from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.runtime.watch import FileWatcher, put_reload
from glustereventsd.runtime.doorbell import ControlQueue, Doorbell
from glustereventsd.base.intake import Intake

log = logging.getLogger("glustereventsd.daemon")

INTAKE_MAX = 100_000  # datagrams between the sockets and the pipeline; when full, newest dropped
RELOAD = "reload"
MAIN_WAIT_SECS = 1.0  # the main loop's longest sleep (the file watch's poll, the delivery figures)
RELOAD_SETTLE_SECS = 0.05  # reload requests within this window become one reload
RELOAD_APPLY_SECS = 10.0  # how long a reload waits for the pipeline to put it in force
LOAD_ATTEMPTS = 3  # reads of the files while they keep changing under a reload
SHUTDOWN = "shutdown"
DELIVERY_FIGURES_SECS = 1.0  # how often the status file's delivery figures are refreshed (when they change)
# A change of the adaptive in-flight limits alone is written at most this often. Under load they
# change nearly every second, and each rewrite of the status file (a dozen system calls, each
# taking the GIL back from the busy pipeline and delivery threads) stalled delivery: at 2,000
# events/s, 8 to 12 of the ~40 stalls of 15+ late events in 10 s came at the second's rewrite,
# 1 to 5 without it (bench.daemon_bench steady runs, alternating).
CONCURRENCY_FIGURES_SECS = 5.0


class StartupError(RuntimeError):
    """The daemon cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class Options:
    """Command-line choices that override the files (mostly for tests and non-root use)."""

    pid_file: Path | None = None
    port: int | None = None
    listen: tuple[str, ...] = ("0.0.0.0", "::")
    log_file: str | None = None
    watch: str = "auto"  # how the events folder is watched: auto, inotify or poll (see watch.py)


@dataclass(frozen=True)
class _Pending:
    """A reload handed to the pipeline that it had not put in force within RELOAD_APPLY_SECS."""

    request: ReloadRequest
    generation: int
    digest: str
    webhooks: int


def load_configuration(paths: Paths, options: Options) -> tuple[Settings, list[Destination], list[str]]:
    """Read settings and webhooks; raise ConfigFileError naming the bad file."""
    settings, warnings = config.load_settings(paths.defaults_file, paths.config_file)
    if options.port is not None:
        settings = dataclasses.replace(settings, port=options.port)
    webhooks = config.load_webhooks(paths.webhooks_file, paths.events_dir)  # also for a last-good copy
    if not config.file_mode_ok(paths.webhooks_file):
        warnings.append(f"{paths.webhooks_file} is readable by other users; it holds webhook "
                        "credentials: chmod 600 it")
    return settings, webhooks, warnings


Loaded = tuple[Settings, list[Destination], list[str]]


def load_or_last_good(paths: Paths, options: Options, last_good: LastGood) -> tuple[Loaded, config.ConfigError | None]:
    """The configuration a start uses: the files, else the last copies that loaded.

    Returns it with the error of the files when it came from the copies; raises StartupError
    (saying why each could not be used) when neither loads. eventsconfig.json has no copy.
    """
    try:
        return load_configuration(paths, options), None
    except config.ConfigError as err:
        if not last_good.available():
            raise StartupError(f"{err} (no last good copy to start from yet)") from None
        fallback = dataclasses.replace(paths, webhooks_file=last_good.copy_of(paths.webhooks_file),
                                       config_file=last_good.copy_of(paths.config_file))
        try:
            return load_configuration(fallback, options), err
        except config.ConfigError as copy_err:
            same = str(copy_err) == str(err)  # eventsconfig.json: the copies read it too
            raise StartupError(str(err) if same else f"{err}; and the last good copy cannot be used "
                                                     f"either: {copy_err}") from None


@dataclass
class Daemon:
    """One glustereventsd process."""

    paths: Paths
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        self._doorbell = Doorbell()  # signals and the control queue's requests wake the main loop
        self.control: queue.Queue[str] = ControlQueue(self._doorbell, maxsize=16)
        self.stats = Stats()
        self.stopping = threading.Event()
        self.ready = threading.Event()  # set once listening: tests wait on it
        self.pipeline: Pipeline | None = None
        self.settings = Settings()
        self._sources: list[UdpSource] = []
        self._policies: list[list[SenderPolicy]] = []  # one box per UDP source
        self._previous_handlers: dict[int, object] = {}
        self._signalled_reload = False  # set by signal handlers only (see _on_reload_signal)
        self._signalled_stop = False
        self.bound_ports: list[int] = []
        self.metrics_port = 0
        self._last_good = LastGood(self.paths.state_dir / "last-good",
                                   (self.paths.webhooks_file, self.paths.config_file))
        self._started_from_last_good = False
        # Reload state, owned by the main thread: what is in force, for the status file.
        self._webhooks: list[Destination] = []
        self._state = runstate.RunState(os.getpid(), time.time())
        self._status_failing = False
        self._pending: _Pending | None = None
        self._watcher: FileWatcher | None = None
        self._next_figures = 0.0
        self._concurrency_shown_at = -CONCURRENCY_FIGURES_SECS  # when the in-flight limits were last written

    # -- signals: record intent only -------------------------------------------------------
    # A handler runs in the main thread between two bytecodes, possibly while that thread holds
    # the control queue's lock (inside Queue.get): taking any lock here could deadlock. So a
    # handler only sets a flag; the signal also rings the main loop's doorbell (set_wakeup_fd),
    # which then looks at the flags.
    def _on_reload_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled_reload = True

    def _on_stop_signal(self, signum: int, frame: FrameType | None) -> None:
        self._signalled_stop = True

    def request(self, what: str) -> None:
        """Ask the daemon to reload or shut down (thread-safe; for in-process use and tests)."""
        self.control.put(what, timeout=5)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in ((signal.SIGUSR2, self._on_reload_signal), (signal.SIGHUP, self._on_reload_signal),
                                (signal.SIGTERM, self._on_stop_signal), (signal.SIGINT, self._on_stop_signal)):
            self._previous_handlers[signum] = signal.signal(signum, handler)
        self._doorbell.catch_signals()

    def _restore_signals(self) -> None:
        self._doorbell.release_signals()
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous_handlers.clear()

    # -- life ------------------------------------------------------------------------------
    def run(self) -> int:
        """Run until SIGTERM (or ``request(SHUTDOWN)``); return the exit status.

        A start-up failure is written to the daemon log too (StartupError and BindError are
        re-raised for the caller to print); an unexpected error is logged with its traceback.
        """
        target = self.options.log_file or self.paths.daemon_log
        try:
            logsetup.setup_logging(target, "INFO")
        except OSError as err:
            logsetup.setup_logging("-", "INFO")
            log.error("Cannot write the daemon log %s (%s); logging to stderr: make its folder writable",
                      target, err.strerror or err)
        try:
            return self._run()
        except StartupError as err:
            log.error("Cannot start: %s", err)
            raise
        except BindError as err:
            log.error("Cannot start: %s", err.args[-1])
            raise
        except Exception:
            log.exception("glustereventsd stopped by an unexpected error; please report it with this log")
            raise

    def _run(self) -> int:
        digest = runstate.config_digest(self.paths)
        settings, webhooks, warnings = self._load_at_start()
        if self._started_from_last_good or runstate.config_digest(self.paths) != digest:
            digest = ""  # not known to be what the files hold: the next reload applies them
        self._state.config = runstate.ConfigState(digest, 0, time.time())
        self._webhooks = webhooks
        self.settings = settings
        logsetup.set_level(settings.log_level)
        events_log = EventLog(self.paths.event_log)
        for warning in warnings:
            log.warning("%s", warning)
        pid_path = self.options.pid_file or self.paths.pid_file
        pid_file = PidFile(pid_path)
        try:
            pid_file.acquire()
        except PidFileBusy as err:
            raise StartupError(f"{err}: stop it first, or give this one another --pid-file") from None
        except NotRegularFile as err:
            raise StartupError(f"cannot use the pid file {pid_path}: {err.strerror}; remove it (the daemon "
                               "makes its own), or give another with --pid-file") from None
        except OSError as err:
            raise StartupError(f"cannot create pid file {pid_path}: {err.strerror}; make its folder writable or "
                               "give another with --pid-file") from None
        try:
            return self._run_locked(settings, webhooks, events_log)
        finally:
            pid_file.release()
            self._restore_signals()
            self._doorbell.close()

    def _load_at_start(self) -> tuple[Settings, list[Destination], list[str]]:
        """Load the files; when one is corrupt, fall back to the last copies that loaded."""
        last_good = self._last_good
        loaded, refused = load_or_last_good(self.paths, self.options, last_good)
        if refused is not None:
            log.error("Starting with the last configuration that loaded (%s), because %s", last_good.folder, refused)
            self._started_from_last_good = True
            return loaded
        try:
            last_good.remember()
        except OSError as err:
            log.warning("Cannot keep a copy of the configuration in %s: %s", last_good.folder, err.strerror)
        return loaded

    def _run_locked(self, settings: Settings, webhooks: list[Destination], events_log: EventLog) -> int:
        try:
            self.paths.events_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            log.warning("Cannot create %s (%s); it appears when the first webhook is added",
                        self.paths.events_dir, err.strerror)
        try:
            node = nodeid.node_id(self.paths)
        except OSError as err:
            raise StartupError(f"cannot store this node's id in {self.paths.node_id_file}: {err.strerror}; "
                               "make the folder writable or install glusterd") from None
        sockets = open_sockets(settings.port, self.options.listen)
        self.bound_ports = [sock.getsockname()[1] for sock in sockets]
        try:  # an unusable spool is moved aside and recovered, or replaced by memory (spool/startup)
            opened = open_spool(self.paths.spool_file, settings.spool == "disk", self.stats)
        except Exception as err:  # noqa: BLE001 - sqlite3.Error (locked) or OSError: say which file
            for sock in sockets:
                sock.close()
            raise StartupError(f"cannot open the spool {self.paths.spool_file}: {err}; is another process "
                               "holding it? (fuser -v it)") from None
        writer = opened.writer
        # The wiring: sockets -> intake -> pipeline (ingest, commit) -> outlets <- delivery loop
        # (webhooks) and NATS loop (JetStream sinks), and their results back to the pipeline
        # over a bounded channel.
        intake: Intake[Datagram] = Intake(INTAKE_MAX)
        results = ResultChannel(RESULTS_MAX)
        limiter = RateLimitedLog()
        outlets = Outlets(writer, settings, results, self.stats, limiter, nodeid=node)
        committer = Committer(outlets, self.stats, limiter)  # the spool's owner: it swaps in a rebuilt one
        ingest = Ingest(node, committer.take_seq, self.stats, events_log, limiter)
        pipeline = Pipeline(intake, ingest, committer, outlets, results, settings)
        self.pipeline = pipeline
        try:
            pipeline.start_with(webhooks)  # also re-queues dead letters asked for while we were down
        except sqlite3.Error as err:
            outlets.stop(time.monotonic())
            committer.writer.close()
            for sock in sockets:
                sock.close()
            raise StartupError(f"cannot use the spool {self.paths.spool_file}: {err}") from None
        # One policy per socket thread (its caches and rate buckets are that thread's alone),
        # each in a box the main thread swaps whole on reload.
        self._policies = [[SenderPolicy(settings.allowed_senders, settings.sender_rate_limit, debug_enabled())]
                          for _ in sockets]
        self._sources = [UdpSource(sock, intake, box, self.stats, limiter, self.stopping)
                         for sock, box in zip(sockets, self._policies)]
        for source in self._sources:
            source.start()
        watcher = FileWatcher(self.paths.events_dir, (self.paths.webhooks_file.name, self.paths.config_file.name),
                              put_reload(self.control), self.options.watch)
        watcher.start(time.monotonic())
        self._watcher = watcher
        metrics = self._start_metrics(settings, pipeline)
        self._install_signals()
        if not settings.allowed_senders:
            log.warning("Accepting events from any address on port %d; set allowed-senders to the "
                        "storage network to refuse spoofed events", settings.port)
        log.info("glustereventsd started port=%d nodeid=%s webhooks=%d spool=%s", settings.port, node,
                 len(webhooks), "memory (the spool file is unusable)" if opened.memory_only else settings.spool)
        sdnotify.notify("READY=1\nSTATUS=Listening for Gluster events")
        self._write_status()  # after the signal handlers: a reloader signals only once it exists
        self.ready.set()
        try:
            self._serve(pipeline)
        finally:
            runstate.remove_status(self.paths.runtime_status_file, self._state.pid)
            sdnotify.notify("STOPPING=1")
            log.info("glustereventsd stopping")
            watcher.stop()
            if metrics is not None:
                metrics.stop()
            self.stopping.set()
            for source in self._sources:
                source.wake()
            for source in self._sources:
                source.join(2)
                source.close()
            pipeline.request_stop()
            pipeline.join(30)
            if pipeline.is_alive():  # its files are still its own: closing them would lose its last acks
                log.error("The pipeline did not finish within 30 s; stopping without waiting for it "
                          "(events it had not acknowledged are delivered again after the restart)")
            else:
                committer.writer.close()  # the one in force: the pipeline may have rebuilt a corrupt spool
                events_log.close()
            log.info("glustereventsd stopped received=%d delivered=%d", self.stats.total("received"),
                     self.stats.total("delivered"))
        return 1 if pipeline.failed.is_set() else 0

    def _start_metrics(self, settings: Settings, pipeline: Pipeline) -> MetricsServer | None:
        """Start the Prometheus endpoint when metrics-port is set; a failure is logged, not fatal."""
        if not settings.metrics_port:
            return None
        server = MetricsServer(DaemonCollector(self.stats, pipeline.outlets.queue_gauges,
                                               spool_conditions(self.paths.spool_file)))
        try:
            self.metrics_port = server.start(settings.metrics_address, settings.metrics_port)
        except OSError as err:
            log.error("Cannot start the metrics endpoint on %s port %d: %s; events are delivered all the same",
                      settings.metrics_address, settings.metrics_port, err.strerror or err)
            return None
        return server

    def _next_request(self, until: float | None = None) -> str | None:
        """The next reload or shutdown request (signal flags first), or None once the loop's timers are
        due (or ``until``, a monotonic time, came)."""
        for attempt in range(2):
            if self._signalled_stop:
                return SHUTDOWN
            if self._signalled_reload:
                self._signalled_reload = False
                return RELOAD
            try:
                return self.control.get_nowait()
            except queue.Empty:
                pass
            if attempt == 0:
                now = time.monotonic()
                wake_at = min(self._next_figures, now + MAIN_WAIT_SECS, until if until is not None else now + 60)
                self._doorbell.wait(wake_at - now)
        return None

    def _serve(self, pipeline: Pipeline) -> None:
        while True:
            request = self._next_request()
            self._tick()
            self._delivery_figures(pipeline)
            if request is None:
                if pipeline.failed.is_set() or not pipeline.is_alive():
                    log.error("Pipeline stopped; exiting so that the service manager restarts the daemon")
                    return
                continue
            if request == SHUTDOWN:
                return
            if self._drain_reloads():
                return
            self._reload(pipeline)

    def _tick(self) -> None:
        """Between requests: poll or re-arm the file watch, and confirm a late reload."""
        changed = False
        watcher = self._watcher
        if watcher is not None:
            before = watcher.status()
            watcher.tick(time.monotonic())
            changed = watcher.status() != before
        pending = self._pending
        if pending is not None and pending.request.done.is_set():
            self._pending = None
            if pending.request.error:
                self._state.record_failed_late(pending.generation, pending.request.error)
                log.error("Reload not applied: %s", pending.request.error)
            else:
                self._state.record_applied_late(pending.generation, pending.digest)
                log.info("Configuration reloaded webhooks=%d (the pipeline has now applied it)", pending.webhooks)
            changed = True
        if changed:
            self._write_status()

    def _delivery_figures(self, pipeline: Pipeline) -> None:
        """Put in the status file what the spool cannot show: events held only in memory, and why.

        A full disk freezes the spool's own figures; ``webhook-status`` reads these beside them.
        """
        now = time.monotonic()
        if now < self._next_figures:
            return
        self._next_figures = now + DELIVERY_FIGURES_SECS
        section = runstate.delivery_section(pipeline.outlets.memory_only(), pipeline.committer.spool_error,
                                            pipeline.outlets.concurrency())
        shown = self._state.sections.get("delivery")
        if shown == section:
            return
        only_limits = shown is not None and {**shown, "concurrency": None} == {**section, "concurrency": None}
        if only_limits and now < self._concurrency_shown_at + CONCURRENCY_FIGURES_SECS:
            return  # written with the next change of another figure, or once the interval has passed
        self._state.sections["delivery"] = section
        self._concurrency_shown_at = now
        self._write_status()

    def _write_status(self) -> None:
        """Replace the status file (runstate); a failure is logged once, not fatal."""
        if self._watcher is not None:
            watch = self._watcher.status()
            self._state.watch = runstate.WatchState(watch.backend, watch.folder, watch.watching, watch.problem)
        path = self.paths.runtime_status_file
        try:
            runstate.write_status(path, self._state)
        except OSError as err:
            if not self._status_failing:
                log.warning("Cannot write %s (%s): 'systemctl reload' and gluster-eventsapi cannot confirm "
                            "that a reload was applied", path, err.strerror or err)
            self._status_failing = True
            return
        self._status_failing = False

    def _drain_reloads(self) -> bool:
        """Coalesce a burst of reload requests (several files renamed at once) into one.

        Returns True when a shutdown was asked for meanwhile.
        """
        deadline = time.monotonic() + RELOAD_SETTLE_SECS
        while time.monotonic() < deadline:
            request = self._next_request(deadline)
            if request == SHUTDOWN:
                return True
        return False

    def _reload(self, pipeline: Pipeline) -> None:
        """Handle one reload request: apply the files, or find them unchanged, or refuse them.

        Every request ends with the status file telling its outcome: that is what
        ``glustereventsd --reload`` and the CLI wait for.
        """
        sdnotify.notify(sdnotify.reloading_message())
        if self._watcher is not None:
            self._watcher.retry(time.monotonic())  # a watch that could not be set up: try again now
        try:
            self._apply_files(pipeline)
        finally:
            self._write_status()
            sdnotify.notify("READY=1")

    def _apply_files(self, pipeline: Pipeline) -> None:
        digest = runstate.config_digest(self.paths)
        if digest and digest == self._state.config.digest and self._pending is None:
            # The same change asked for twice (the CLI's signal and the file watch), or a reload
            # with nothing edited: nothing to apply. The pipeline still looks for re-queued
            # dead letters (webhook-redeliver asks for those by reloading).
            log.info("Configuration unchanged: a reload was asked for, the files are those in force")
            try:
                pipeline.reload(self.settings, self._webhooks)
            except queue.Full:
                log.error("The pipeline is not taking requests; re-queued dead letters wait for the next reload")
            self._state.record_reload(runstate.UNCHANGED, digest)
            return
        loaded: tuple[Settings, list[Destination], list[str]] | config.ConfigError
        for attempt in range(LOAD_ATTEMPTS):
            try:
                loaded = load_configuration(self.paths, self.options)
            except config.ConfigError as err:
                loaded = err
            now = runstate.config_digest(self.paths)
            if now == digest:
                break
            digest = now if attempt + 1 < LOAD_ATTEMPTS else ""  # "": changing as read, not known
        if isinstance(loaded, config.ConfigError):
            log.error("Reload failed, keeping the last good configuration: %s", loaded)
            self._state.record_reload(runstate.FAILED, digest, str(loaded))
            return
        settings, webhooks, warnings = loaded
        for warning in warnings:
            log.warning("%s", warning)
        if settings.port != self.settings.port:
            log.warning("The port changed from %d to %d: restart glustereventsd to listen on it",
                        self.settings.port, settings.port)
            settings = dataclasses.replace(settings, port=self.settings.port)
        logsetup.set_level(settings.log_level)
        for box in self._policies:
            box[0] = SenderPolicy(settings.allowed_senders, settings.sender_rate_limit, debug_enabled())
        try:
            request = pipeline.reload(settings, webhooks)
        except queue.Full:
            log.error("Reload not applied: the pipeline is not taking requests; try again")
            self._state.record_reload(runstate.FAILED, digest, "the pipeline is not taking requests; try again")
            return
        try:
            self._last_good.remember()
        except OSError as err:
            log.warning("Cannot keep a copy of the configuration in %s: %s", self._last_good.folder, err.strerror)
        self.settings = settings
        self._webhooks = webhooks
        if request.wait(RELOAD_APPLY_SECS):
            self._pending = None
            if request.error:
                log.error("Reload not applied: %s", request.error)
                self._state.record_reload(runstate.FAILED, digest, request.error)
                return
            self._state.record_reload(runstate.APPLIED, digest)
            log.info("Configuration reloaded webhooks=%d", len(webhooks))
            return
        log.warning("The pipeline has not applied the reload within %gs; it will when it can",
                    RELOAD_APPLY_SECS)
        self._state.record_reload(runstate.PENDING, digest)
        self._pending = _Pending(request, self._state.reload.generation, digest, len(webhooks))
