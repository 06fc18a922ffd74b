"""One function per subcommand: ``(args, ctx) -> Result``. Nothing here prints.

Pool-wide commands change this node's files under their locks, then push both cluster files
to every peer and reload every daemon (``sync_pool``), and return one row per node.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from glustereventsd.config import (
    OPTIONS,
    ConfigError,
    canonical_name,
    convert_value,
    validate_url,
    webhook_from_entry,
)
from glustereventsd import proxies
from glustereventsd.paths import Paths

from gluster_eventsapi import hooks, node, peers, service, store, tlsfiles
from gluster_eventsapi.context import Context
from gluster_eventsapi.errors import (
    INVALID_CONFIG_TEXT,
    NOT_RESET_TEXT,
    SAME_CONFIG_TEXT,
    WEBHOOK_EXISTS_TEXT,
    WEBHOOK_NOT_EXISTS_TEXT,
    CliError,
    ExitStatus,
)
from gluster_eventsapi.fanout import Peer, SshSettings, run_on_pool
from gluster_eventsapi.results import (
    DeadLetterReport,
    HookStatusTable,
    Message,
    NameValues,
    NodeResult,
    NodeTable,
    PeerRows,
    StatusReport,
)

if TYPE_CHECKING:
    from gluster_eventsapi.poolwatch import PoolWatch
    from gluster_eventsapi.webserve import WebSite

RESTART_NOTE = "Restart glustereventsd in all nodes"
# SPEC section 4: what /etc/glusterfs/eventsconfig.json ships. config-get lists these keys even
# when that file is missing (a package without it, or a GLUSTER_EVENTS_ROOT test tree).
SHIPPED_DEFAULTS: Mapping[str, object] = {"log-level": "INFO", "port": 24009,
                                          "disable-events-log": False}
# The local node already has the files it is pushing: it only reloads its daemon.
LOCAL_EQUIVALENT: Mapping[str, str] = {"node-sync": "node-reload"}


# --- pool plumbing ----------------------------------------------------------------------


def ssh_settings(paths: Paths) -> SshSettings:
    """The ``ssh-*`` options of the merged config.

    User, port and identity are passed to ssh only when set in a config file, so that an
    ssh_config file (``ssh-config``) can decide them otherwise.
    """
    values, _ = store.merged_config(paths)
    explicit = store.keys_set_in(paths.defaults_file) | store.keys_set_in(paths.config_file)

    def chosen(name: str) -> Any:
        value = values[name]
        return value if name in explicit and value not in ("", None) else None

    return SshSettings(
        user=chosen("ssh-user"),
        port=chosen("ssh-port"),
        identity=chosen("ssh-identity"),
        config_file=str(values["ssh-config"]) or None,
        connect_timeout_secs=int(values["ssh-connect-timeout-secs"]),  # type: ignore[call-overload]
        command_timeout_secs=int(values["ssh-command-timeout-secs"]),  # type: ignore[call-overload]
        parallel=int(values["ssh-parallel"]),  # type: ignore[call-overload]
        host_key_checking=str(values["ssh-host-key-checking"]),
        remote_command=str(values["ssh-remote-command"]) or "gluster-eventsapi",
    )


def on_pool(ctx: Context, command: str, request: Mapping[str, object]) -> list[NodeResult]:
    """Run a node command on every node (the local one in-process) and collect the rows."""
    paths = ctx.get_paths()
    settings = ssh_settings(paths)
    pool: list[Peer] = peers.pool(paths, ctx.environ)

    def local(name: str, body: Mapping[str, object]) -> Mapping[str, object]:
        return node.handle(LOCAL_EQUIVALENT.get(name, name), body, paths, ctx.clock())

    return run_on_pool(pool, command, request, settings, ctx.get_runner(), local)


def sync_pool(ctx: Context, notes: tuple[str, ...] = ()) -> NodeTable:
    """Push webhooks.json and config.json to every peer and reload every daemon.

    Pushes from this node are serialised and read the files at push time, so when two
    commands run at once the last push carries the newest content.
    """
    paths = ctx.get_paths()
    with store.push_lock(paths):
        webhooks_text, webhooks = store.pushed_file(paths.webhooks_file, ExitStatus.WEBHOOKS_SYNC_FAILED)
        request = {
            "webhooks": webhooks_text,
            "config": store.file_text(paths.config_file, ExitStatus.CONFIG_SYNC_FAILED),
            "tls_files": tlsfiles.payload(paths.events_dir, webhooks),
        }
        try:
            rows = on_pool(ctx, "node-sync", request)
        except peers.PoolUnavailable as err:  # as Gluster's own CLI when glusterd is down: exit 8 or 9
            failed = ExitStatus.WEBHOOKS_SYNC_FAILED if webhooks_text is not None else ExitStatus.CONFIG_SYNC_FAILED
            raise CliError(err.message, failed) from None
        node.prune_bundles(paths)
    return NodeTable("SYNC STATUS", tuple(rows), notes)


# --- credentials ------------------------------------------------------------------------


class _StdinSecrets:
    """Reads ``-`` arguments from stdin, one line each, in the order asked."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def resolve(self, value: str | None, what: str) -> str | None:
        if value != "-":
            return value
        line = self.ctx.stdin.readline()
        if not line:
            raise CliError(f"expected the {what} on stdin (one line), found nothing: '-' reads "
                           "it from stdin; pipe it in, one line per '-' in the order token, "
                           "secret, signing secret, proxy URL, NATS token, NATS password (e.g. printf '%s\\n' \"$TOKEN\" | "
                           "gluster-eventsapi webhook-add URL -t -)")
        return line.rstrip("\r\n")


def _credentials(args: argparse.Namespace, reader: _StdinSecrets) -> tuple[str | None, str | None]:
    token = reader.resolve(args.bearer_token, "bearer token")
    secret = reader.resolve(args.secret, "secret")
    return token, secret


def _url(raw: str) -> str:
    try:
        return validate_url(raw)
    except ConfigError as err:
        raise CliError(str(err)) from None


def _entry_dict(entry: object) -> dict[str, Any]:
    """A webhooks.json entry as an object (the 3.9 form is a bare token string)."""
    if isinstance(entry, str):
        return {"token": entry, "secret": ""}
    return dict(entry) if isinstance(entry, dict) else {}


# --- visible subcommands ----------------------------------------------------------------


def cmd_status(args: argparse.Namespace, ctx: Context) -> StatusReport:
    """Registered webhooks and, per node, whether glustereventsd runs."""
    webhooks = store.read_webhooks(ctx.get_paths())
    rows = on_pool(ctx, "node-status", {})
    return StatusReport(tuple(webhooks), tuple(rows), insecure_urls(webhooks))


def insecure_urls(webhooks: Mapping[str, object]) -> tuple[str, ...]:
    """The registered URLs whose HTTPS certificates are not verified (``insecure-tls``)."""
    found = []
    for url, entry in webhooks.items():
        try:
            if webhook_from_entry(url, entry).insecure_tls:
                found.append(url)
        except ConfigError:
            continue  # read_webhooks already checked the file; be lenient here
    return tuple(found)


def cmd_reload(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Ask every node's daemon to re-read its files."""
    return NodeTable("RELOAD STATUS", tuple(on_pool(ctx, "node-reload", {})))


def cmd_webhook_add(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Register a webhook on this node, then sync the pool."""
    url = _url(args.url)
    hooks.check_flags(url, args)
    reader = _StdinSecrets(ctx)
    token, secret = _credentials(args, reader)
    bundles = tlsfiles.PendingFiles(ctx.get_paths().events_dir)
    changes = hooks.settings_changes(args, reader.resolve, bundles.add)
    entry: dict[str, Any] = {"token": token or "", "secret": secret or ""}
    hooks.apply_changes(entry, changes)
    hooks.check_entry(url, entry)

    def add(data: dict[str, Any]) -> None:
        if url in data:
            raise CliError(f"{WEBHOOK_EXISTS_TEXT}: {url} (change it with "
                           "'gluster-eventsapi webhook-mod')", ExitStatus.WEBHOOK_EXISTS)
        bundles.install()  # under the webhooks.json lock: no sync prunes it before it is named
        data[url] = entry

    store.modify_webhooks(ctx.get_paths(), add)
    return sync_pool(ctx, hooks.settings_notes(url, entry))


def _not_registered(url: str) -> CliError:
    return CliError(f"{WEBHOOK_NOT_EXISTS_TEXT}: {url} is not registered (see "
                    "'gluster-eventsapi status'; URLs must match exactly)",
                    ExitStatus.WEBHOOK_NOT_EXISTS)


def cmd_webhook_mod(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Change the credentials and/or delivery settings of a webhook, then sync the pool."""
    url = args.url.strip()
    hooks.check_flags(url, args)
    reader = _StdinSecrets(ctx)
    token, secret = _credentials(args, reader)
    bundles = tlsfiles.PendingFiles(ctx.get_paths().events_dir)
    changes = hooks.settings_changes(args, reader.resolve, bundles.add)
    if token is None and secret is None and not changes:
        raise CliError("nothing to change: give at least one of --bearer_token, --secret, "
                       "--signing-secret, --timeout-secs, --concurrency, --ca-bundle, "
                       "--client-cert/--client-key, --insecure-tls/--verify-tls, --proxy, --events "
                       f"(a NATS sink: {hooks.NATS_AUTH_HINT})")
    changed: dict[str, Any] = {}

    def mod(data: dict[str, Any]) -> None:
        if url not in data:
            raise _not_registered(url)
        entry = _entry_dict(data[url])
        if token is not None:
            entry["token"] = token
        if secret is not None:
            entry["secret"] = secret
        hooks.apply_changes(entry, changes)
        hooks.check_entry(url, entry)
        bundles.install()  # under the webhooks.json lock, like webhook-add
        data[url] = entry
        changed.update(entry)

    store.modify_webhooks(ctx.get_paths(), mod)
    return sync_pool(ctx, hooks.settings_notes(url, changed))


def cmd_webhook_del(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Remove a webhook, then sync the pool."""
    url = args.url.strip()

    def delete(data: dict[str, Any]) -> None:
        if url not in data:
            raise _not_registered(url)
        del data[url]

    store.modify_webhooks(ctx.get_paths(), delete)
    return sync_pool(ctx)


def cmd_webhook_test(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """POST the test request to a webhook from every node.

    A registered webhook is tested with its stored settings unless -t/-s are given.
    """
    url = _url(args.url)
    hooks.check_flags(url, args)
    token, secret = _credentials(args, _StdinSecrets(ctx))
    registered = store.read_webhooks(ctx.get_paths()).get(url)
    entry = _entry_dict(registered) if registered is not None else {}
    if token is not None or secret is not None:
        entry["token"], entry["secret"] = token or "", secret or ""
    rows = on_pool(ctx, "node-webhook-test", {"url": url, "entry": entry})
    return NodeTable("WEBHOOK STATUS", tuple(rows))


def cmd_webhook_status(args: argparse.Namespace, ctx: Context) -> HookStatusTable | Message:
    """Per node and webhook: queued, delivered, retried, dead letters, ages, last error."""
    webhooks = store.read_webhooks(ctx.get_paths())
    urls = list(webhooks)
    if args.url is not None:
        url = args.url.strip()
        if url not in webhooks:
            raise _not_registered(url)
        urls = [url]
    if not urls:
        return Message("No webhooks registered. Add one with "
                       "'gluster-eventsapi webhook-add URL'.", [])
    rows = on_pool(ctx, "node-webhook-status", {"urls": urls})
    return HookStatusTable(tuple(rows), insecure_urls(webhooks))


def cmd_webhook_redeliver(args: argparse.Namespace, ctx: Context) -> NodeTable | DeadLetterReport:
    """List (--list) or re-queue the dead letters of a webhook on every node."""
    url = args.url.strip()
    if url not in store.read_webhooks(ctx.get_paths()):
        raise _not_registered(url)
    if args.list:
        return DeadLetterReport(url, tuple(on_pool(ctx, "node-webhook-redeliver",
                                                   {"url": url, "list": True})))
    rows = tuple(on_pool(ctx, "node-webhook-redeliver", {"url": url}))
    total = sum(int(row.value) for row in rows if row.ok and row.value.isdigit())
    note = (f"{total} dead letter(s) re-queued; follow them with "
            f"'gluster-eventsapi webhook-status {url}'." if total else
            "Nothing to re-queue: no node has dead letters for this webhook.")
    return NodeTable("REQUEUED", rows, (note,), json_value=True)


def cmd_nats_stream_add(args: argparse.Namespace, ctx: Context) -> Message:
    """Create the JetStream stream a registered NATS sink publishes into, from this node."""
    from glustereventsd import natsstream, natsurl

    url = _url(args.url)
    if not natsurl.is_nats(url):
        raise CliError(f"{url} is not a NATS sink: give its nats:// or tls:// URL", ExitStatus.INVALID_CONFIG)
    paths = ctx.get_paths()
    registered = store.read_webhooks(paths).get(url)
    if registered is None:
        raise CliError(f"NATS sink {url} is not registered: add it first with 'gluster-eventsapi webhook-add {url}' "
                       "(the stream is created with its servers, credentials and TLS settings)",
                       ExitStatus.WEBHOOK_NOT_EXISTS)
    if not 1 <= args.replicas <= 5:
        raise CliError(f"--replicas {args.replicas}: give 1 to 5", ExitStatus.INVALID_CONFIG)
    if args.max_age_days < 0 or not 10 <= args.duplicate_window_secs <= 86400:
        raise CliError("--max-age-days must be 0 or more, --duplicate-window-secs from 10 to 86400",
                       ExitStatus.INVALID_CONFIG)
    try:
        hook = webhook_from_entry(url, registered, paths.events_dir)
    except ConfigError as err:
        raise CliError(str(err)) from None
    prefix = natsurl.parse(url).prefix
    name = (args.stream or natsstream.default_stream_name(prefix)).strip()
    if not name or any(char in name for char in " .*>\t") or not name.isprintable():
        raise CliError(f"--stream {name!r}: a stream name may not hold spaces, dots, * or >",
                       ExitStatus.INVALID_CONFIG)
    spec = natsstream.StreamSpec(name, (f"{prefix}.>",), args.replicas, args.storage, args.max_age_days * 86400,
                                 args.duplicate_window_secs)
    try:
        created = natsstream.add_stream(hook, spec)
    except natsstream.StreamError as err:
        raise CliError(f"cannot create the stream for {url}: {err}") from None
    head = (f"Created stream {spec.describe()}." if created else
            f"Stream {spec.name} already exists and captures {', '.join(spec.subjects)}: left as it is.")
    text = (f"{head}\nEvery node's events go into it. Check each node with "
            f"'gluster-eventsapi webhook-test {url}'.")
    return Message(text, {"stream": spec.name, "created": created, "subjects": list(spec.subjects),
                          "replicas": spec.replicas, "storage": spec.storage, "max_age_secs": spec.max_age_secs,
                          "duplicate_window_secs": spec.duplicate_window_secs})


def cmd_listen(args: argparse.Namespace, ctx: Context) -> Message:
    """Run the reference webhook receiver until Ctrl-C or SIGTERM (``--web``: with its page)."""
    import threading

    from gluster_eventsapi import listen

    reader = _StdinSecrets(ctx)
    token, secret = _credentials(args, reader)
    signing = reader.resolve(args.signing_secret, "signing secret") or ""
    hooks.check_signing_secret(signing)
    if not 0 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: must be from 0 to 65535")
    if args.pool and not args.web:
        raise CliError("--pool shows the pool's delivery state on the web page: give --web too")
    auth = listen.Auth(token or "", secret or "", signing)
    output = listen.Output(ctx.stdout, ctx.stderr, bool(args.json or args.sub_json),
                           threading.Lock())
    web, on_ready, watcher = _listen_page(args, ctx)
    try:
        listen.serve(args.host, args.port, auth, output, web=web, on_ready=on_ready)
    except OSError as err:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {err.strerror or err} "
                       "(choose another --port or --host)") from None
    finally:
        if watcher is not None:
            watcher.stop()
    return Message("", quiet=True)


def _listen_page(args: argparse.Namespace, ctx: Context
                 ) -> tuple[WebSite | None, Callable[[], None] | None, PoolWatch | None]:
    """The web page of ``listen --web``, what starts its pool watcher, and the watcher."""
    if not args.web:
        return None, None, None
    import eventtypes

    from gluster_eventsapi import livefeed, poolwatch, webserve

    try:
        assets = webserve.load_assets()
    except webserve.MissingAsset as err:
        raise CliError(str(err)) from None
    catalog = sorted(set(eventtypes.names_for("3.10")) | set(eventtypes.names_for("3.9")))
    feed = livefeed.Feed(catalog=catalog, pool_enabled=bool(args.pool))
    web = webserve.WebSite(feed, assets, loopback_only=webserve.is_loopback(args.host))
    if not args.pool:
        return web, None, None
    settings = ssh_settings(ctx.get_paths())
    watcher = poolwatch.PoolWatch(
        lambda: poolwatch.fetch_webhook_status(ctx), feed.set_pool,
        deadline=settings.connect_timeout_secs + settings.command_timeout_secs + 5.0)
    return web, watcher.start, watcher


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
EMIT_TIMEOUT_SECS = 5.0


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


def _config_name(name: str) -> str:
    try:
        return canonical_name(name)
    except ConfigError as err:
        raise CliError(f"{INVALID_CONFIG_TEXT}: {err}", ExitStatus.INVALID_CONFIG) from None


def display_name(name: str) -> str:
    """How config-get's table shows a key: the seed's spelling (``log_level``).

    ``--json`` uses the key as the files spell it (``log-level``), as Gluster's own CLI does.
    """
    return OPTIONS[name].field


def cmd_config_get(args: argparse.Namespace, ctx: Context) -> NameValues:
    """The effective configuration: shipped defaults overlaid with cluster overrides."""
    paths = ctx.get_paths()
    values, _ = store.merged_config(paths)
    if args.name is not None:
        names = [_config_name(args.name)]
    else:
        shipped = (store.keys_set_in(paths.defaults_file) if paths.defaults_file.exists()
                   else set(SHIPPED_DEFAULTS))
        shown = shipped | store.keys_set_in(paths.config_file)
        names = [name for name in OPTIONS if name in shown]
    return NameValues(tuple((display_name(name), _shown(name, values[name])) for name in names),
                      tuple(names))


def _shown(name: str, value: object) -> object:
    """A config value as config-get shows it: a proxy's password masked."""
    return proxies.masked(value) if name == "webhook-proxy" and isinstance(value, str) and value else value


def _restart_notes(names: list[str]) -> tuple[str, ...]:
    return (RESTART_NOTE,) if any(OPTIONS[n].needs_restart for n in names) else ()


def cmd_config_set(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Validate and set one cluster-wide config value, then sync the pool."""
    paths = ctx.get_paths()
    name = _config_name(args.name)
    raw = args.value
    if name == "webhook-proxy" and raw == "-":  # it may carry a password: keep it off argv
        raw = _StdinSecrets(ctx).resolve(raw, "proxy URL") or ""
    try:
        value = convert_value(name, raw)
    except ConfigError as err:
        raise CliError(str(err), ExitStatus.INVALID_CONFIG) from None

    def change(data: dict[str, Any]) -> None:
        current, _ = store.merged_config(paths)
        if current[name] == value:
            raise CliError(SAME_CONFIG_TEXT, ExitStatus.CONFIG_UNCHANGED)
        for key in [k for k in data if _safe_canonical(k) == name]:
            del data[key]  # also drop the 3.9 spelling (log_level) of the same key
        data[name] = value

    store.modify_overrides(paths, change)
    return sync_pool(ctx, _restart_notes([name]))


def _safe_canonical(key: str) -> str:
    try:
        return canonical_name(key)
    except ConfigError:
        return key


def cmd_config_reset(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Remove one cluster override (or ``all``), then sync the pool."""
    paths = ctx.get_paths()
    reset_all = args.name.strip().lower() == "all"
    try:
        name = "" if reset_all else canonical_name(args.name)
    except ConfigError as err:  # as Gluster's own CLI: a name never set is at its default (exit 2)
        raise CliError(f"{NOT_RESET_TEXT}: {err}", ExitStatus.CONFIG_UNCHANGED) from None
    removed: list[str] = []

    def change(data: dict[str, Any]) -> None:
        keys = [k for k in data if reset_all or _safe_canonical(k) == name]
        if not keys:
            raise CliError(NOT_RESET_TEXT,
                           ExitStatus.CONFIG_UNCHANGED)
        for key in keys:
            del data[key]
            if _safe_canonical(key) in OPTIONS:
                removed.append(_safe_canonical(key))

    store.modify_overrides(paths, change)
    return sync_pool(ctx, _restart_notes(removed))


def cmd_sync(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Copy this node's webhooks.json and config.json to every peer and reload all daemons."""
    return sync_pool(ctx)


# --- peers file -------------------------------------------------------------------------


def _gluster_note(ctx: Context) -> str:
    if peers.find_gluster(ctx.environ):
        return (" (note: 'gluster' is installed, so the pool comes from 'gluster pool list' "
                "and this file is not used)")
    return ""


def cmd_peer_add(args: argparse.Namespace, ctx: Context) -> Message:
    """Add a node to this node's peers file."""
    paths = ctx.get_paths()
    host = peers.check_host(args.host)
    entry = {key: value for key, value in (("ssh-user", args.ssh_user),
                                           ("ssh-port", args.ssh_port),
                                           ("ssh-identity", args.ssh_identity))
             if value not in (None, "")}
    peers.peer_from_entry(host, entry, paths.peers_file)

    def add(data: dict[str, Any]) -> None:
        if host in data:
            raise CliError(f"Peer {host} already exists in {paths.peers_file} (to change "
                           f"its SSH options: 'gluster-eventsapi peer-del {host}', then "
                           "peer-add again)")
        data[host] = entry

    peers.modify_peers_file(paths, add)
    text = (f"Peer {host} added. Run 'gluster-eventsapi sync' to copy the files to it."
            + _gluster_note(ctx))
    return Message(text, {"host": host, **entry})


def cmd_peer_del(args: argparse.Namespace, ctx: Context) -> Message:
    """Remove a node from this node's peers file."""
    paths = ctx.get_paths()
    host = args.host.strip()

    def delete(data: dict[str, Any]) -> None:
        if host not in data:
            raise CliError(f"Peer {host} does not exist in {paths.peers_file} (see "
                           "'gluster-eventsapi peer-list' for the names as added)")
        del data[host]

    peers.modify_peers_file(paths, delete)
    return Message(f"Peer {host} removed." + _gluster_note(ctx), {"host": host})


def cmd_peer_list(args: argparse.Namespace, ctx: Context) -> PeerRows:
    """The peers this node fans out to (without itself)."""
    paths = ctx.get_paths()
    pool = peers.pool(paths, ctx.environ)
    source = ("gluster pool list" if peers.find_gluster(ctx.environ) else str(paths.peers_file))
    rows = tuple({"node": p.name, "connected": p.connected, "ssh-user": p.user or "",
                  "ssh-port": p.port or "", "ssh-identity": p.identity or ""}
                 for p in pool if not p.local)
    return PeerRows(rows, source)


# --- hidden per-node subcommands ----------------------------------------------------------
