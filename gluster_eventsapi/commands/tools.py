"""The tools to check the event path end to end: ``listen`` (a test receiver) and ``emit``.

``listen`` runs the reference webhook receiver (``listen.server``), with ``--web`` its live
page and the page's "now" panel of open conditions, and with ``--pool`` the watcher that
shows the pool's delivery state there: this module hands the watchers
``pool.conditions.pool_conditions`` and ``pool.hookstatus.webhook_status`` as callables,
since ``listen/`` may not import the pool. ``emit`` sends one event datagram to the local daemon.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from gluster_eventsapi.context import Context
from gluster_eventsapi.credentials import StdinSecrets, bearer_and_secret
from gluster_eventsapi.errors import CliError
from gluster_eventsapi.files import hooks, store
from gluster_eventsapi.pool import service
from gluster_eventsapi.results import Message

if TYPE_CHECKING:
    from gluster_eventsapi.listen.web import WebSite

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EMIT_TIMEOUT_SECS = 5.0


def cmd_listen(args: argparse.Namespace, ctx: Context) -> Message:
    """Run the reference webhook receiver until Ctrl-C or SIGTERM (``--web``: with its page)."""
    import threading

    from gluster_eventsapi.listen import server as listen

    reader = StdinSecrets(ctx)
    token, secret = bearer_and_secret(args, reader)
    signing = reader.resolve(args.signing_secret, "signing secret") or ""
    hooks.check_signing_secret(signing)
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: must be from 0 to 65535")
    if args.pool and not args.web:
        raise CliError("--pool shows the pool's delivery state on the web page: give --web too")
    auth = listen.Auth(token or "", secret or "", signing)
    output = listen.Output(ctx.stdout, ctx.stderr, bool(args.json or args.sub_json),
                           threading.Lock())
    web, starts, stops = _listen_page(args, ctx)

    def on_ready() -> None:
        for start in starts:
            start()

    try:
        listen.serve(args.host, args.port, auth, output, web=web, on_ready=on_ready)
    except OSError as err:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err} "
                       "(choose another --port or --host)") from None
    finally:
        for stop in stops:
            stop()
    return Message("", quiet=True)


def _listen_page(args: argparse.Namespace, ctx: Context
                 ) -> tuple[WebSite | None, list[Callable[[], None]], list[Callable[[], None]]]:
    """The web page of ``listen --web``, and what starts and stops its watchers (started once listening)."""
    if not args.web:
        return None, [], []
    from gluster_eventsapi.listen import feed as livefeed
    from gluster_eventsapi.listen import now as nowpanel
    from gluster_eventsapi.listen import poolwatch
    from gluster_eventsapi.listen import web as webserve
    from gluster_eventsapi.pool.conditions import pool_conditions
    from gluster_eventsapi.pool.hookstatus import webhook_status
    from gluster_eventsapi.pool.run import ssh_settings

    try:
        assets = webserve.load_assets()
    except webserve.MissingAsset as err:
        raise CliError(str(err)) from None
    feed = livefeed.Feed(catalog=hooks.catalog(), pool_enabled=bool(args.pool), now=nowpanel.OpenConditions())
    web = webserve.WebSite(feed, assets, loopback_only=webserve.is_loopback(args.host))
    try:
        settings = ssh_settings(ctx.get_paths())
        deadline = settings.connect_timeout_secs + settings.command_timeout_secs + 5.0
    except CliError:  # an unreadable config: the pool read reports it on the page
        deadline = 40.0
    conditions = nowpanel.ConditionsWatch(lambda: pool_conditions(ctx), feed.begin_conditions, feed.set_conditions,
                                          feed.conditions_failed, feed.client_count, deadline=deadline)
    feed.on_subscribe = conditions.want
    starts, stops = [conditions.start], [conditions.stop]
    if args.pool:
        watcher = poolwatch.PoolWatch(poolwatch.page_fetch(lambda: webhook_status(ctx)), feed.set_pool,
                                      deadline=deadline)
        starts.append(watcher.start)
        stops.append(watcher.stop)
    return web, starts, stops


def _event_id(text: str, numbering: str) -> tuple[int, str]:
    """An event given by name or id, as (id, name) in the configured numbering."""
    import eventtypes

    try:
        if text.strip().isdigit():
            event_id = int(text)
            return event_id, eventtypes.name_of(event_id, numbering)
        event_id = eventtypes.id_of(text.strip(), numbering)
        return event_id, eventtypes.name_of(event_id, numbering)
    except eventtypes.UnknownEvent as err:
        hint = hooks.suggestion(text) if not text.strip().isdigit() else (
            "; 'gluster-eventsapi emit --list' lists every event name and id")
        raise CliError(f"{err}{hint}") from None


def _attributes(pairs: list[str]) -> dict[str, object]:
    attributes: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"attribute {pair!r} must be written key=value (e.g. name=gv1)")
        attributes[key.strip()] = value
    return attributes


def cmd_emit(args: argparse.Namespace, ctx: Context) -> Message:
    """Send one event datagram to the local daemon, in Gluster's wire format."""
    import socket

    from eventtypes import names_for
    from eventtypes.emit import format_datagram

    paths = ctx.get_paths()
    values, _ = store.merged_config(paths)
    numbering = str(values["event-numbering"])
    if args.list:
        names = names_for(numbering)
        text = "\n".join(f"{index:3d} {name}" for index, name in enumerate(names))
        return Message(text, {"numbering": numbering, "events": list(names)})
    if not args.event:
        raise CliError("give the EVENT to send, by name or id (e.g. 'gluster-eventsapi emit "
                       "VOLUME_CREATE name=test'); 'emit --list' lists them")
    event_id, name = _event_id(args.event, numbering)
    attributes = _attributes(args.attributes)
    port = int(str(args.port if args.port is not None else values["port"]))
    if not 1 <= port <= 65535:
        raise CliError(f"--port {port}: must be from 1 to 65535")
    if args.host in LOOPBACK_HOSTS and not service.is_running(paths):
        raise CliError("glustereventsd is not running on this node, so nothing would receive "
                       "the event; start it (systemctl start glustereventsd) and try again; "
                       "nothing was sent")
    try:
        data = format_datagram(event_id, attributes)
    except ValueError as err:
        raise CliError(str(err)) from None
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.settimeout(EMIT_TIMEOUT_SECS)
            sock.sendto(data, (args.host, port))
    except OSError as err:
        raise CliError(f"cannot send to {args.host}:{port}: {err.strerror or err}") from None
    shown = " ".join(f"{k}={v}" for k, v in attributes.items()) or "(no attributes)"
    text = (f"Sent {name} (id {event_id}) to glustereventsd at {args.host}:{port}: {shown}\n"
            f"Check that it arrived: 'gluster-eventsapi webhook-status' (DELIVERED) or the "
            f"event log {paths.event_log}.")
    return Message(text, {"event": name, "id": event_id, "host": args.host, "port": port,
                          "attributes": attributes})
