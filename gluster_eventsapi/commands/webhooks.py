"""The webhook commands: add, mod, del, test, status, redeliver, and a NATS sink's stream.

Each change is made to this node's webhooks.json under its lock, then pushed to the whole
pool (``pool.run.sync_pool``), which answers one row per node.
"""

from __future__ import annotations

import argparse
from typing import Any

from glustereventsd.sinks import kinds
from glustereventsd.config.options import ConfigError, validate_url, webhook_from_entry

from gluster_eventsapi.context import Context
from gluster_eventsapi.credentials import StdinSecrets, bearer_and_secret
from gluster_eventsapi.errors import WEBHOOK_EXISTS_TEXT, WEBHOOK_NOT_EXISTS_TEXT, CliError, ExitStatus
from gluster_eventsapi.files import hooks, store, tlsfiles
from gluster_eventsapi.pool.hookstatus import WebhookStatus, webhook_status
from gluster_eventsapi.pool.run import on_pool, sync_pool
from gluster_eventsapi.results import DeadLetterReport, Message, NodeTable


def _url(raw: str, format: str | None = None) -> str:
    try:
        return validate_url(raw, "" if format in (None, kinds.GLUSTER_FORMAT) else str(format))
    except ConfigError as err:
        raise CliError(str(err)) from None


def _entry_dict(entry: object) -> dict[str, Any]:
    """A webhooks.json entry as an object (the 3.9 form is a bare token string)."""
    if isinstance(entry, str):
        return {"token": entry, "secret": ""}
    return dict(entry) if isinstance(entry, dict) else {}


def cmd_webhook_add(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Register a webhook on this node, then sync the pool."""
    url = _url(args.url, getattr(args, "format", None))
    hooks.check_flags(url, args)
    reader = StdinSecrets(ctx)
    token, secret = bearer_and_secret(args, reader)
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


def cmd_webhook_mod(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Change the credentials and/or delivery settings of a webhook, then sync the pool."""
    url = args.url.strip()
    hooks.check_flags(url, args)
    reader = StdinSecrets(ctx)
    token, secret = bearer_and_secret(args, reader)
    bundles = tlsfiles.PendingFiles(ctx.get_paths().events_dir)
    changes = hooks.settings_changes(args, reader.resolve, bundles.add)
    if token is None and secret is None and not changes:
        raise CliError("nothing to change: give at least one of --bearer_token, --secret, "
                       "--signing-secret, --timeout-secs, --concurrency, --ca-bundle, "
                       "--client-cert/--client-key, --insecure-tls/--verify-tls, --proxy, --events, --format "
                       f"(a NATS sink: {hooks.NATS_AUTH_HINT})")
    changed: dict[str, Any] = {}

    def mod(data: dict[str, Any]) -> None:
        if url not in data:
            raise store.not_registered(url)
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
            raise store.not_registered(url)
        del data[url]

    store.modify_webhooks(ctx.get_paths(), delete)
    return sync_pool(ctx)


def cmd_webhook_test(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """POST the test request to a webhook from every node.

    A registered webhook is tested with its stored settings unless -t/-s are given.
    """
    registered = store.read_webhooks(ctx.get_paths()).get(args.url.strip())
    url = _url(args.url, _entry_dict(registered).get("format") if registered is not None else None)
    hooks.check_flags(url, args)
    token, secret = bearer_and_secret(args, StdinSecrets(ctx))
    entry = _entry_dict(registered) if registered is not None else {}
    if token is not None or secret is not None:
        entry["token"], entry["secret"] = token or "", secret or ""
    rows = on_pool(ctx, "node-webhook-test", {"url": url, "entry": entry})
    return NodeTable("WEBHOOK STATUS", tuple(rows))


def cmd_webhook_status(args: argparse.Namespace, ctx: Context) -> WebhookStatus:
    """Per node and webhook: queued, delivered, retried, dead letters, ages, last error."""
    return webhook_status(ctx, args.url)


def cmd_webhook_redeliver(args: argparse.Namespace, ctx: Context) -> NodeTable | DeadLetterReport:
    """List (--list) or re-queue the dead letters of a webhook on every node."""
    url = args.url.strip()
    if url not in store.read_webhooks(ctx.get_paths()):
        raise store.not_registered(url)
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
    from glustereventsd.sinks.nats import stream as natsstream
    from glustereventsd.sinks.nats import url as natsurl

    url = _url(args.url)
    if not kinds.is_nats(url):
        raise CliError(f"{url} is not a NATS sink: give its nats:// or tls:// URL", ExitStatus.INVALID_CONFIG)
    paths = ctx.get_paths()
    registered = store.read_webhooks(paths).get(url)
    if registered is None:
        raise CliError(f"{WEBHOOK_NOT_EXISTS_TEXT}: NATS sink {url} is not registered: add it first with "
                       f"'gluster-eventsapi webhook-add {url}' (the stream is created with its servers, "
                       "credentials and TLS settings)", ExitStatus.WEBHOOK_NOT_EXISTS)
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
