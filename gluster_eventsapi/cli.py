"""The visible commands of ``gluster-eventsapi``: parser from the COMMANDS table, dispatch.

``main(argv, ctx)`` returns the exit status (``__main__`` is the only caller of
``sys.exit``). Every exception becomes a message and an ExitStatus, never a traceback. The
hidden per-node commands are not here: ``__main__`` sends them to ``node`` directly.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn
from dataclasses import dataclass

from gluster_eventsapi.commands import config, pool, tools, webhooks
from gluster_eventsapi.context import Context
from gluster_eventsapi.errors import CliError, ExitStatus
from gluster_eventsapi.results import Result

PROG = "gluster-eventsapi"

EPILOG = """\
exit status:
  0  success on every node          5  webhook already exists
  1  other error                    6  webhook does not exist
  2  config value unchanged, or a   7  invalid config name or value
     command-line usage error       8  webhooks file sync failed
  3  no node OK                     9  config file sync failed
  4  some nodes not OK
  (2 is both the original "config unchanged" code and argparse's usage-error code.)

-t -, -s - and --signing-secret - read the bearer token / secret / signing secret from
stdin (one line each, in that order), so that they do not appear in the process list or
the shell history.
"""


@dataclass(frozen=True)
class Command:
    """One subcommand: its help, how to add its arguments, and its handler."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Context], Result]


def _no_args(parser: argparse.ArgumentParser) -> None:
    pass


def _url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="URL of Webhook")


def _url_and_auth(parser: argparse.ArgumentParser) -> None:
    _url(parser)
    parser.add_argument("--bearer_token", "-t", help="Bearer Token ('-': read it from stdin)")
    parser.add_argument("--secret", "-s",
                        help="Secret to sign a JWT with ('-': read it from stdin)")


def _webhook_settings(parser: argparse.ArgumentParser) -> None:
    """The per-webhook delivery settings of webhook-add / webhook-mod."""
    parser.add_argument("--timeout-secs", metavar="SECS",
                        help="Seconds to wait for the webhook to answer one POST, or for a NATS sink's "
                             "PubAck (0: the daemon's webhook-timeout-secs)")
    parser.add_argument("--concurrency", metavar="N",
                        help="Most POSTs in flight to this webhook (or events awaiting a NATS sink's PubAck), 1 to 64: "
                             "the ceiling of its adaptive limit; 1 keeps strict order (0: the daemon's "
                             "webhook-concurrency or nats-concurrency)")
    parser.add_argument("--signing-secret", metavar="whsec_...",
                        help="Sign every delivery (Standard Webhooks) with this secret "
                             "('-': read it from stdin; '': stop signing)")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM file of the CA(s) that signed the webhook's HTTPS certificate; "
                             "a copy is kept and synced to every node ('': system store)")
    parser.add_argument("--client-cert", metavar="FILE",
                        help="PEM client certificate to present to the webhook (mTLS); a copy is kept 0600 "
                             "and synced to every node ('': none)")
    parser.add_argument("--client-key", metavar="FILE",
                        help="PEM private key of --client-cert, when it is not in the same file (unencrypted; "
                             "kept 0600 and synced, never printed)")
    parser.add_argument("--proxy", metavar="URL|none",
                        help="HTTP proxy for this webhook (http://[user:password@]host:port; '-': read it from "
                             "stdin), 'none' to connect directly ('': the daemon's webhook-proxy or environment)")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--insecure-tls", dest="insecure_tls", action="store_const", const=True,
                     help="Do NOT verify the webhook's HTTPS certificate (shown by status)")
    tls.add_argument("--verify-tls", dest="insecure_tls", action="store_const", const=False,
                     help="Verify the webhook's HTTPS certificate again (the default)")
    parser.add_argument("--events", metavar="PATTERN[,PATTERN]",
                        help="Send only events whose name matches one of these glob patterns, "
                             "e.g. 'VOLUME_*,QUORUM_*' ('': every event)")
    parser.add_argument("--format", choices=("gluster", "cloudevents", "alertmanager"),
                        help="What each POST carries: gluster (the Gluster body, the default), cloudevents "
                             "(the same body as a CloudEvent 1.0, HTTP binary mode: ce-id, ce-source, ce-type...) "
                             "or alertmanager (the URL lists the Alertmanagers of one cluster, comma-separated: "
                             "conditions become alerts that fire and resolve, posted to every one)")
    nats = parser.add_argument_group("NATS JetStream sinks (nats://SERVER[,SERVER]/PREFIX or tls://...)",
                                     "One way to authenticate; secrets come from stdin ('-') or a file, never argv. "
                                     "--ca-bundle, --client-cert/--client-key and --insecure-tls apply to the "
                                     "servers' TLS.")
    nats.add_argument("--nats-token", metavar="-|FILE",
                      help="Authenticate with a token, read from stdin ('-') or FILE ('': none)")
    nats.add_argument("--nats-user", metavar="NAME",
                      help="Authenticate as NAME, with --nats-password ('': no user and password)")
    nats.add_argument("--nats-password", metavar="-|FILE",
                      help="The password of --nats-user, read from stdin ('-') or FILE")
    nats.add_argument("--nats-nkey", metavar="FILE",
                      help="Authenticate with the NKey user seed in FILE; a copy is kept 0600 and synced to "
                           "every node ('': none)")
    nats.add_argument("--nats-creds", metavar="FILE",
                      help="Authenticate with a .creds file (user JWT and NKey seed); a copy is kept 0600 and "
                           "synced to every node ('': none)")


def _webhook_change(parser: argparse.ArgumentParser) -> None:
    _url_and_auth(parser)
    _webhook_settings(parser)


def _webhook_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", nargs="?", help="URL of Webhook (default: every webhook)")


def _webhook_redeliver(parser: argparse.ArgumentParser) -> None:
    _url(parser)
    parser.add_argument("--list", action="store_true",
                        help="Only show each node's dead letters (count and the newest few)")


def _nats_stream_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="URL of a registered NATS sink (its servers, credentials and TLS are used)")
    parser.add_argument("--stream", metavar="NAME",
                        help="Stream name (default: the subject prefix in capitals, dots as _, e.g. GLUSTER_EVENTS)")
    parser.add_argument("--replicas", metavar="N", type=int, default=1,
                        help="Copies of each event in the NATS cluster, 1 to 5 (default 1; 3 survives the loss "
                             "of a server)")
    parser.add_argument("--storage", choices=("file", "memory"), default="file",
                        help="Where the servers keep the stream (default file)")
    parser.add_argument("--max-age-days", metavar="DAYS", type=float, default=0.0,
                        help="Drop events older than this from the stream (default 0: keep them)")
    parser.add_argument("--duplicate-window-secs", metavar="SECS", type=float, default=600.0,
                        help="How long the stream recognises a retried event by its Nats-Msg-Id (default 600: "
                             "longer than retry-max-backoff-secs plus the publish timeout)")


def _listen(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="Address to listen on (default 127.0.0.1; 0.0.0.0 for every IPv4 "
                             "address)")
    parser.add_argument("--port", type=int, default=9000, help="TCP port (default 9000)")
    parser.add_argument("--bearer_token", "-t",
                        help="Accept only this bearer token ('-': read it from stdin)")
    parser.add_argument("--secret", "-s",
                        help="Accept only JWTs signed with this secret ('-': read it from stdin)")
    parser.add_argument("--signing-secret", metavar="whsec_...",
                        help="Accept only events signed with this Standard Webhooks secret "
                             "('-': read it from stdin)")
    parser.add_argument("--web", action="store_true",
                        help="Also serve a live page of the events at http://HOST:PORT/ "
                             "(GET; events are still POSTed to any path)")
    parser.add_argument("--pool", action="store_true",
                        help="With --web: also show every node's delivery state "
                             "(webhook-status of the pool), refreshed every few seconds")


def _emit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("event", nargs="?", help="Event name (VOLUME_CREATE) or id (2)")
    parser.add_argument("attributes", nargs="*", metavar="key=value",
                        help="Attributes of the event, e.g. name=test")
    parser.add_argument("--host", default="127.0.0.1",
                        help="Where glustereventsd listens (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="UDP port (default: the configured port)")
    parser.add_argument("--list", action="store_true", help="List every event name and id")


def _config_get(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="Config Name")


def _config_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="Config Name")
    parser.add_argument("value", help="Config Value")


def _config_reset(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="Config Name or all")


def _peer_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="Host name or address of the peer (or an ssh_config Host)")
    parser.add_argument("--ssh-user", help="SSH user for this peer (default: ssh-user config)")
    parser.add_argument("--ssh-port", type=int, help="SSH port of this peer")
    parser.add_argument("--ssh-identity", help="Private key file for this peer")


def _conditions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--all", action="store_true",
                        help="Also list conditions and alarms over in the last 15 minutes (and what closed them)")


def _condition_clear(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("condition", nargs="+", metavar="ALERTNAME|LABEL=VALUE|KEY",
                        help="Which open conditions: an alert name, label=value pairs (all must match), or one "
                             "condition's key as 'conditions --json' shows it, e.g. 'GlusterBrickDown "
                             "brick=server2:/bricks/b1' or 'GlusterServerQuorumLost volume=gv0'")


def _peer_del(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("host", help="Host name of the peer, as added")


COMMANDS: Mapping[str, Command] = {
    "status": Command("Show webhooks and glustereventsd status of every node", _no_args,
                      pool.cmd_status),
    "reload": Command("Reload glustereventsd on every node", _no_args, pool.cmd_reload),
    "webhook-add": Command("Add a webhook and sync it to every node", _webhook_change,
                           webhooks.cmd_webhook_add),
    "webhook-mod": Command("Change a webhook's credentials or delivery settings",
                           _webhook_change, webhooks.cmd_webhook_mod),
    "webhook-del": Command("Delete a webhook", _url, webhooks.cmd_webhook_del),
    "webhook-test": Command("Send a test request to a webhook from every node (a NATS sink: connect, "
                            "authenticate and check that a stream captures its subjects)", _url_and_auth,
                            webhooks.cmd_webhook_test),
    "webhook-status": Command("Show each node's delivery state of every webhook (queued, "
                              "delivered, retried, dead letters, last error)",
                              _webhook_status, webhooks.cmd_webhook_status),
    "webhook-redeliver": Command("Re-queue a webhook's dead letters on every node "
                                 "(--list: show them)", _webhook_redeliver,
                                 webhooks.cmd_webhook_redeliver),
    "nats-stream-add": Command("Create the JetStream stream a NATS sink publishes into (from this node)",
                               _nats_stream_add, webhooks.cmd_nats_stream_add),
    "conditions": Command("Show the Gluster conditions open across the pool (a brick down, quorum lost...): "
                          "which, since when, reported by which nodes", _conditions, pool.cmd_conditions),
    "condition-clear": Command("Close open conditions on every node, for a node that missed their closing event "
                               "(its daemon was down): Alertmanager gets the resolution, 'conditions' and the "
                               "page drop them", _condition_clear, pool.cmd_condition_clear),
    "listen": Command("Receive events like a webhook and print each one (a test receiver)",
                      _listen, tools.cmd_listen),
    "emit": Command("Send one event through this node's glustereventsd (to test the path)",
                    _emit, tools.cmd_emit),
    "config-get": Command("Show the configuration", _config_get, config.cmd_config_get),
    "config-set": Command("Set a configuration value on every node", _config_set,
                          config.cmd_config_set),
    "config-reset": Command("Reset a configuration value (or all) to its default",
                            _config_reset, config.cmd_config_reset),
    "sync": Command("Copy webhooks and configuration to every node and reload",
                    _no_args, pool.cmd_sync),
    "peer-add": Command("Add a node to the peers file (pools without the gluster command)",
                        _peer_add, pool.cmd_peer_add),
    "peer-del": Command("Remove a node from the peers file", _peer_del, pool.cmd_peer_del),
    "peer-list": Command("List the nodes commands run on", _no_args, pool.cmd_peer_list),
}


class _Parser(argparse.ArgumentParser):
    """argparse with the seed's "optional arguments" heading."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._optionals.title = "optional arguments"

    def error(self, message: str) -> NoReturn:
        """Raise the usage error, so ``main`` can show it as text or as the JSON envelope."""
        raise UsageError(self.format_usage(), f"{self.prog}: error: {message}")


class UsageError(Exception):
    """A command-line usage error: argparse's usage line and message (exit status 2)."""

    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.message = message


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, generated from COMMANDS."""
    parser = _Parser(prog=PROG, description="Gluster Events API: webhooks and configuration "
                     "of glustereventsd on every node of the pool.",
                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="JSON output")
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}",
                                parser_class=_Parser)
    sub.required = True
    for name, spec in COMMANDS.items():
        child = sub.add_parser(name, help=spec.help, description=spec.help)
        spec.add_arguments(child)
        child.add_argument("--json", action="store_true", dest="sub_json", help="JSON output")
    return parser


def _write(ctx: Context, out: str, err: str) -> None:
    if out:
        ctx.stdout.write(out)
        ctx.stdout.flush()
    if err:
        ctx.stderr.write(err)
        ctx.stderr.flush()


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> int:
    """Run one gluster-eventsapi command and return its exit status."""
    ctx = ctx or Context()
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    from gluster_eventsapi import render

    try:
        with contextlib.redirect_stdout(ctx.stdout), contextlib.redirect_stderr(ctx.stderr):
            args = parser.parse_args(args_list)
    except SystemExit as exit_:  # argparse printed help or the version
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else ExitStatus.ERROR
    except UsageError as err:  # exit status 2, as argparse (and the original CLI) use
        if "--json" in args_list:
            shown = render.render_error(err.message, ExitStatus.CONFIG_UNCHANGED, True)
        else:
            shown = render.Rendered("", err.usage + err.message + "\n", ExitStatus.CONFIG_UNCHANGED)
        _write(ctx, shown.stdout, shown.stderr)
        return int(shown.status)
    as_json = bool(args.json or getattr(args, "sub_json", False))

    try:
        result = COMMANDS[args.command].run(args, ctx)
        shown = render.render(result, as_json)
    except CliError as err:
        shown = render.render_error(err.message, err.status, as_json)
    except KeyboardInterrupt:
        shown = render.render_error(
            "interrupted; if a change was being copied to the pool, run "
            "'gluster-eventsapi sync' so that every node has the same files",
            ExitStatus.INTERRUPTED, as_json)
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        shown = render.render_error(f"{where}{err.strerror or err}", ExitStatus.ERROR, as_json)
    try:
        _write(ctx, shown.stdout, shown.stderr)
    except BrokenPipeError:
        pass
    return int(shown.status)
