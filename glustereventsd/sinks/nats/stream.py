"""JetStream streams for a NATS sink: ``webhook-test``'s check, and ``nats-stream-add``'s creation.

``webhook-test`` of a NATS sink publishes nothing (a test message would land in the stream
that alerting and audit consumers read). It connects and authenticates as the daemon does,
checks that JetStream answers, and that a stream captures the subject of every event this
sink sends from this node (``<prefix>.<nodeid>.<EVENT>`` for each event its filter admits):
events that no stream captures would wait in the spool, retried until they age into dead
letters.

``nats-stream-add`` creates a stream capturing ``<prefix>.>`` (every event of every node)
with a duplicate window long enough for the daemon's retries, so that a retry of an event
already stored is recognised by its ``Nats-Msg-Id`` and stored once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError

from glustereventsd.sinks.nats import client as natsclient
from glustereventsd.sinks.nats import url as natsurl
from glustereventsd.models import Outcome, OutcomeKind, Destination
from glustereventsd.sinks.nats.client import NatsSettings

CLIENT_NAME = "gluster-eventsapi"
DEFAULT_DUPLICATE_WINDOW_SECS = 600.0  # covers retry-max-backoff-secs (300) plus the publish timeout
T = TypeVar("T")


def default_stream_name(prefix: str) -> str:
    """``GLUSTER_EVENTS`` for the prefix ``gluster.events`` (stream names may not hold dots)."""
    name = "".join(char if char.isalnum() or char in "-_" else "_" for char in prefix.upper())
    return name or "GLUSTER_EVENTS"


def _duration(secs: float) -> str:
    if not secs:
        return "unlimited"
    whole = int(secs)
    if whole % 86400 == 0:
        return f"{whole // 86400}d"
    if whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{secs:g}s"


async def _connected(hook: Destination, timeout_secs: float | None,
                     work: Callable[[Client, NatsSettings], Awaitable[T]]) -> T:
    settings = natsclient.settings_for(hook)
    if timeout_secs:
        settings = dataclasses.replace(settings, timeout_secs=timeout_secs)
    client = await natsclient.connect(settings, CLIENT_NAME)
    try:
        return await work(client, settings)
    finally:
        await natsclient.close_quietly(client)


# -- webhook-test ------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestResult:
    """What ``webhook-test`` of a NATS sink found on this node."""

    outcome: Outcome
    warning: str = ""


def wanted_subjects(hook: Destination, nodeid: str, names: Sequence[str]) -> list[str]:
    """The subjects this sink publishes to from node ``nodeid``: one per event its filter admits."""
    url = natsurl.parse(hook.url)
    admitted = [name for name in names
                if not hook.events or any(fnmatch.fnmatchcase(name, pattern) for pattern in hook.events)]
    return [url.subject(nodeid, name) for name in admitted]


def test_sink(hook: Destination, nodeid: str, names: Sequence[str], timeout_secs: float | None = None,
              retry_max_secs: float = 300.0) -> TestResult:
    """Connect as the daemon would and check the streams (see the module docstring); never raises."""
    try:
        return asyncio.run(_test(hook, nodeid, names, timeout_secs, retry_max_secs))
    except (ValueError, OSError) as err:
        return TestResult(Outcome(OutcomeKind.REJECT, "config", 0, None, f"cannot use the sink's settings: {err}"))
    except natsclient.ConnectError as err:
        return TestResult(Outcome(OutcomeKind.RETRY, err.reason, 0, None, str(err)))


async def _test(hook: Destination, nodeid: str, names: Sequence[str], timeout_secs: float | None,
                retry_max_secs: float) -> TestResult:
    async def work(client: Client, settings: NatsSettings) -> TestResult:
        return await _check_streams(client, settings, wanted_subjects(hook, nodeid, names), retry_max_secs)

    return await _connected(hook, timeout_secs, work)


async def _request(client: Client, subject: str, body: dict[str, object], timeout: float) -> dict[str, object]:
    answer = await client.request(subject, json.dumps(body).encode(), timeout=timeout)
    data = json.loads(answer.data)
    return data if isinstance(data, dict) else {}


async def _check_streams(client: Client, settings: NatsSettings, wanted: list[str],
                         retry_max_secs: float) -> TestResult:
    url, timeout = settings.url, settings.timeout_secs
    fix = f"create one with 'gluster-eventsapi nats-stream-add {url.text}'"
    if not wanted:
        return TestResult(_ok("connected; the sink's --events filter admits no event, so nothing is published"))
    try:
        await _request(client, "$JS.API.INFO", {}, timeout)
    except NoRespondersError:
        return TestResult(_fail("no_jetstream", f"connected to {url.servers_text}, but JetStream does not answer: "
                                "start nats-server with JetStream (-js, or jetstream {} in its config), or enable "
                                "it for this account"))
    except (asyncio.TimeoutError, NatsError) as err:
        return TestResult(_fail("timeout", f"connected, but JetStream's API did not answer ({_text(err)}): do the "
                                "sink's credentials allow requests to $JS.API.>?"))
    node_subjects = wanted[0].rsplit(".", 1)[0] + ".>"
    try:
        names_answer = await _request(client, "$JS.API.STREAM.NAMES", {"subject": node_subjects}, timeout)
        listed = names_answer.get("streams")
        names = [str(name) for name in listed] if isinstance(listed, list) else []
        streams = {}
        for name in names:
            info = await _request(client, f"$JS.API.STREAM.INFO.{name}", {}, timeout)
            config = info.get("config")
            if isinstance(config, dict):
                streams[name] = config
    except (asyncio.TimeoutError, NatsError) as err:
        return TestResult(_ok("connected and authenticated"),
                          f"could not list the streams ({_text(err)}): check that one captures {wanted[0]}")
    missing = [subject for subject in wanted
               if not any(natsurl.covers(pattern, subject)
                          for config in streams.values() for pattern in config.get("subjects") or [])]
    if missing:
        more = f" and {len(missing) - 1} more of the {len(wanted)} event subjects this sink publishes" \
            if len(missing) > 1 else ""
        found = f" ({', '.join(sorted(streams))} capture{'s' if len(streams) == 1 else ''} the others)" \
            if streams else ""
        return TestResult(_fail("no_stream", f"no JetStream stream captures {missing[0]}{more}{found}: its events "
                                f"would wait in the spool; {fix}"))
    summary = []
    warning = ""
    for name in sorted(streams):
        config = streams[name]
        window = float(config.get("duplicate_window") or 0) / 1e9
        summary.append(f"{name} ({config.get('storage', '?')}, R{config.get('num_replicas', 1)}, duplicate window "
                       f"{_duration(window)})")
        if window and window < retry_max_secs + settings.timeout_secs:
            warning = (f"stream {name} keeps Nats-Msg-Id for {_duration(window)}, less than a retry can come after "
                       f"its first attempt (retry-max-backoff-secs {retry_max_secs:g} + timeout "
                       f"{settings.timeout_secs:g}s): after a long outage a retried event may be stored twice; "
                       f"raise its duplicate window to {_duration(DEFAULT_DUPLICATE_WINDOW_SECS)}")
    return TestResult(_ok(f"stream {', '.join(summary)}"), warning)


def _ok(detail: str) -> Outcome:
    return Outcome(OutcomeKind.DELIVERED, "ok", 200, None, detail)


def _fail(reason: str, detail: str) -> Outcome:
    return Outcome(OutcomeKind.RETRY, reason, 0, None, detail)


def _text(err: BaseException) -> str:
    if isinstance(err, asyncio.TimeoutError):
        return "timed out"
    return str(err).removeprefix("nats: ") or type(err).__name__


# -- nats-stream-add ---------------------------------------------------------------------------

class StreamError(Exception):
    """The stream could not be created; the message says why and what to do."""


@dataclass(frozen=True)
class StreamSpec:
    """The stream ``nats-stream-add`` makes."""

    name: str
    subjects: tuple[str, ...]
    replicas: int = 1
    storage: str = "file"
    max_age_secs: float = 0.0
    duplicate_window_secs: float = DEFAULT_DUPLICATE_WINDOW_SECS

    def describe(self) -> str:
        """One line for the CLI."""
        return (f"{self.name} (subjects {', '.join(self.subjects)}, {self.storage} storage, {self.replicas} "
                f"replica{'s' if self.replicas > 1 else ''}, duplicate window {_duration(self.duplicate_window_secs)}, "
                f"max age {_duration(self.max_age_secs)})")


def add_stream(hook: Destination, spec: StreamSpec, timeout_secs: float | None = None) -> bool:
    """Create the stream (True), or find it already there capturing the subjects (False); StreamError otherwise."""
    try:
        return asyncio.run(_connected(hook, timeout_secs, lambda client, settings: _add(client, settings, spec)))
    except (ValueError, OSError) as err:
        raise StreamError(f"cannot use the sink's settings: {err}") from None
    except natsclient.ConnectError as err:
        raise StreamError(str(err)) from None


async def _add(client: Client, settings: NatsSettings, spec: StreamSpec) -> bool:
    manager = client.jsm(timeout=settings.timeout_secs)
    try:
        info = await manager.stream_info(spec.name)
    except NotFoundError:
        info = None
    except NoRespondersError:
        raise StreamError(f"JetStream does not answer on {settings.url.servers_text}: start nats-server with "
                          "JetStream (-js), or enable it for this account") from None
    except (asyncio.TimeoutError, NatsError) as err:
        raise StreamError(f"JetStream's API did not answer ({_text(err)})") from None
    if info is not None:
        existing = list(info.config.subjects or [])
        if all(any(natsurl.covers(pattern, subject) for pattern in existing) for subject in spec.subjects):
            return False
        raise StreamError(f"a stream named {spec.name} already exists with subjects {', '.join(existing) or 'none'}, "
                          f"which do not capture {', '.join(spec.subjects)}: choose another name with --stream, "
                          "or add the subjects to it with the nats CLI")
    config = StreamConfig(name=spec.name, subjects=list(spec.subjects), retention=RetentionPolicy.LIMITS,
                          storage=StorageType.MEMORY if spec.storage == "memory" else StorageType.FILE,
                          num_replicas=spec.replicas, discard=DiscardPolicy.OLD,
                          max_age=spec.max_age_secs or None, duplicate_window=spec.duplicate_window_secs,
                          description="Gluster events (glustereventsd NATS sinks)")
    try:
        await manager.add_stream(config)
    except APIError as err:
        hint = {10065: ": another stream already captures some of these subjects; find it with the nats CLI "
                       "('nats stream ls') or choose another prefix",
                10074: ": the cluster has fewer JetStream servers than replicas, or not enough storage"}
        raise StreamError(f"JetStream refused to create {spec.name}: {err.description or err}"
                          f"{hint.get(err.err_code or 0, '')}") from None
    except (asyncio.TimeoutError, NatsError) as err:
        raise StreamError(f"JetStream's API did not answer ({_text(err)})") from None
    return True
