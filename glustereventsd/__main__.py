"""``glustereventsd``: parse the command line, run the daemon, exit with its status."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from glustereventsd import __version__
from glustereventsd.config import options as config
from glustereventsd.runtime import reloader
from glustereventsd.spool import startup as spool_startup
from glustereventsd.runtime.daemon import Daemon, Options, StartupError, load_configuration, load_or_last_good
from glustereventsd.config.lastgood import LastGood
from glustereventsd.base.paths import Paths, resolve_paths
from glustereventsd.sources.udp import BindError
from glustereventsd.base.threadname import name_os_thread
from glustereventsd.runtime.watch import BACKENDS


def build_parser() -> argparse.ArgumentParser:
    """The daemon's command line."""
    parser = argparse.ArgumentParser(
        prog="glustereventsd",
        description="Receive Gluster event datagrams over UDP and deliver them to the registered webhooks. "
                    "Runs in the foreground. SIGUSR2 (or SIGHUP) reloads; SIGTERM stops with nothing lost.",
        epilog="Set GLUSTER_EVENTS_ROOT to keep every file under one folder (no root needed).",
    )
    parser.add_argument("--pid-file", type=Path, help="pid file held locked while running "
                        "(default /var/run/glustereventsd.pid)")
    parser.add_argument("--port", type=int, help="UDP port, overriding the configured one")
    parser.add_argument("--listen", action="append", metavar="ADDRESS",
                        help="address to listen on (repeatable; default 0.0.0.0 and ::)")
    parser.add_argument("--log-file", help="daemon log file, or - for stderr")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the config and webhooks files, print the result and exit")
    parser.add_argument("--watch", choices=BACKENDS, default="auto",
                        help="how to notice edits of webhooks.json and config.json: inotify, poll (stat "
                             "every second: any system), or auto (inotify where available; default)")
    parser.add_argument("--reload", action="store_true",
                        help="ask the running daemon to reload and wait until it has applied the files "
                             "(exit 0) or refused them (exit 1); the unit's ExecReload")
    parser.add_argument("--pid", type=int, help="with --reload: the daemon's pid (default: from its pid file)")
    parser.add_argument("--timeout", type=float, default=reloader.CONFIRM_SECS,
                        help="with --reload: seconds to wait for the confirmation (default %(default)g)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (0 ok, 1 error)."""
    args = build_parser().parse_args(argv)
    paths = resolve_paths(os.environ)
    if args.port is not None and not 0 <= args.port <= 65535:
        print("glustereventsd: error: --port must be from 0 to 65535", file=sys.stderr)
        return 1
    if args.reload:
        return reload_running(paths, args.pid, args.timeout)
    if args.pid is not None or args.timeout != reloader.CONFIRM_SECS:
        print("glustereventsd: error: --pid and --timeout go with --reload", file=sys.stderr)
        return 1
    options = Options(pid_file=args.pid_file, port=args.port,
                      listen=tuple(args.listen) if args.listen else ("0.0.0.0", "::"),
                      log_file=args.log_file, watch=args.watch)
    if args.check_config:
        return check_config(paths, options)
    name_os_thread("glustereventsd")  # the process name ps and pidof show, instead of "python"
    try:
        return Daemon(paths, options).run()
    except (StartupError, BindError) as err:
        print(f"glustereventsd: error: {err.args[-1] if isinstance(err, BindError) else err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - a bug: the traceback is in the daemon log
        print(f"glustereventsd: error: unexpected {type(err).__name__}: {err} (the daemon log has the details; "
              "please report it)", file=sys.stderr)
        return 1


def check_config(paths: Paths, options: Options) -> int:
    """``--check-config``: validate the files and the spool, print the result; 0 when all is well."""
    status = 0
    try:
        settings, webhooks, warnings = load_configuration(paths, options)
    except config.ConfigError as err:
        print(f"glustereventsd: error: {err}", file=sys.stderr)
        last_good = LastGood(paths.state_dir / "last-good", (paths.webhooks_file, paths.config_file))
        if not last_good.available():
            print("glustereventsd: error: the daemon would not start (no last good copy yet)", file=sys.stderr)
        else:
            try:
                load_or_last_good(paths, options, last_good)
            except StartupError as start_err:
                why = "" if str(start_err) == str(err) else f": {start_err}"  # the same file: said just above
                print(f"glustereventsd: error: the daemon would not start{why or ' (no last good copy covers it)'}",
                      file=sys.stderr)
            else:
                print("glustereventsd: note: the daemon would start with the last copies that loaded, kept in "
                      f"{last_good.folder}", file=sys.stderr)
        status = 1
    else:
        for warning in warnings:
            print(f"glustereventsd: warning: {warning}", file=sys.stderr)
    problem = spool_startup.diagnose(paths.spool_file)
    if problem is not None:
        print(f"glustereventsd: error: the spool {paths.spool_file} is unusable ({problem.cause}: {problem.detail}); "
              "glustereventsd moves it aside and recovers what it can when it starts (or fix it, e.g. chattr -i)",
              file=sys.stderr)
        status = 1
    if status == 0:
        print(f"Configuration OK: port {settings.port}, {len(webhooks)} webhook(s)")
    return status


def reload_running(paths: Paths, pid: int | None, timeout: float) -> int:
    """``--reload``: signal the daemon, wait for its confirmation, say how it ended."""
    if pid is not None and pid <= 0:
        print("glustereventsd: error: --pid must be a positive process id", file=sys.stderr)
        return 1
    if not 0 < timeout <= 3600:
        print("glustereventsd: error: --timeout must be more than 0 and at most 3600 seconds", file=sys.stderr)
        return 1
    outcome = reloader.request_reload(paths, timeout, pid)
    if outcome.applied:
        print(f"glustereventsd: reload applied (pid {outcome.pid}, reload {outcome.generation})")
        return 0
    print(f"glustereventsd: error: reload not applied: {outcome.detail}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
