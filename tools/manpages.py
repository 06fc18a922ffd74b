"""Generate the man pages glustereventsd(8) and gluster-eventsapi(8) from the argparse parsers.

    python -m tools.manpages          # rewrite man/*.8
    python -m tools.manpages --check  # exit 1 if man/*.8 differ from what the parsers say

The pages are built from the same parsers the commands use, so options and subcommands in
the pages cannot drift from the code; tests/unit/test_manpages.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAN_DIR = REPO / "man"


def escape(text: str) -> str:
    """Escape text for roff: backslashes, leading dots and quotes, hyphens in options."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def _option_label(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"\\fI{escape(action.metavar or action.dest)}\\fR"
    names = ", ".join(f"\\fB{escape(name)}\\fR" for name in action.option_strings)
    if action.nargs == 0:
        return names
    metavar = action.metavar or action.dest.upper()
    return f"{names} \\fI{escape(str(metavar))}\\fR"


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions  # noqa: SLF001 - argparse has no public accessor
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))  # noqa: SLF001
            and a.help != argparse.SUPPRESS]


def _synopsis(name: str, parser: argparse.ArgumentParser) -> str:
    parts = [f"\\fB{escape(name)}\\fR"]
    for action in _actions(parser):
        parts.append(f"[{_option_label(action)}]" if action.option_strings else _option_label(action))
    if _subcommands(parser):
        parts.append("\\fICOMMAND\\fR [\\fIARGUMENTS\\fR]")
    return " ".join(parts)


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            helps = {choice.dest: choice.help for choice in action._choices_actions}  # noqa: SLF001
            for name, sub in action.choices.items():
                if name in helps:  # hidden subcommands have no help entry
                    found.append((name, helps[name] or "", sub))
    return found


@dataclass(frozen=True)
class Page:
    """What a page says beyond the parser."""

    name: str
    summary: str
    build_parser: Callable[[], argparse.ArgumentParser]
    sections: tuple[tuple[str, str], ...]


def render(page: Page) -> str:
    """The roff source of one page."""
    parser = page.build_parser()
    out = [f'.TH {page.name.upper()} 8 "" "gluster-eventsapi" "Gluster Events API"',
           ".SH NAME", f"{escape(page.name)} \\- {escape(page.summary)}",
           ".SH SYNOPSIS", _synopsis(page.name, parser)]
    if parser.description:
        out += [".SH DESCRIPTION", escape(parser.description)]
    options = _actions(parser)
    if options:
        out.append(".SH OPTIONS")
        for action in options:
            out += [".TP", _option_label(action), escape(action.help or "")]
    commands = _subcommands(parser)
    if commands:
        out.append(".SH COMMANDS")
        for name, help_text, sub in commands:
            arguments = " ".join(_option_label(a) for a in _actions(sub) if not a.option_strings)
            out += [".TP", f"\\fB{escape(name)}\\fR {arguments}".rstrip(), escape(help_text)]
            for action in _actions(sub):
                out += [".RS", ".TP", _option_label(action), escape(action.help or ""), ".RE"]
    for title, body in page.sections:
        out += [f".SH {title}", *(_paragraphs(body))]
    return "\n".join(out) + "\n"


def _paragraphs(body: str) -> Iterable[str]:
    first = True
    for paragraph in body.strip().split("\n\n"):
        if not first:
            yield ".PP"
        first = False
        if paragraph.startswith("    "):
            yield ".nf"
            yield escape("\n".join(line[4:] for line in paragraph.split("\n")))
            yield ".fi"
        else:
            yield escape(paragraph)


def pages() -> list[Page]:
    """Both pages, with their hand-written sections."""
    from glustereventsd.__main__ import build_parser as daemon_parser
    from gluster_eventsapi.__main__ import build_parser as cli_parser

    files = ("/etc/glusterfs/eventsconfig.json: shipped defaults.\n\n"
             "/var/lib/glusterd/events/config.json: cluster-wide overrides written by gluster-eventsapi.\n\n"
             "/var/lib/glusterd/events/webhooks.json: registered webhooks (mode 0600).\n\n"
             "/var/lib/glustereventsd/: the spool of undelivered events and the generated node id.\n\n"
             "/run/glustereventsd/status.json: the running daemon's status: the digest of the configuration "
             "in force and the outcome of each reload, which --reload and gluster-eventsapi wait for.\n\n"
             "/var/log/glusterfs/events.log, /var/log/glusterfs/glustereventsd.log: logs.")
    environment = ("GLUSTER_EVENTS_ROOT: when set, every path above is taken under this folder "
                   "(tests, demos, running without root).\n\n"
                   "https_proxy, http_proxy, all_proxy, no_proxy (or in upper case): the HTTP proxy webhooks "
                   "are reached through, as curl and python-requests read them; the webhook-proxy config key and "
                   "a webhook's --proxy override them. Under systemd set them in a drop-in "
                   "(systemctl edit glustereventsd: [Service] Environment=HTTPS_PROXY=http://proxy:3128 "
                   "NO_PROXY=localhost,127.0.0.1). webhook-test reads them from the running daemon's environment.\n\n"
                   "GLUSTER_CLI: the gluster command that lists the pool (default: gluster on PATH).")
    return [
        Page("glustereventsd", "deliver Gluster events to webhooks", daemon_parser, (
            ("SIGNALS", "SIGUSR2 or SIGHUP: re-read config and webhooks without losing an event; files byte for "
                        "byte those in force are not applied again. glustereventsd --reload (the unit's "
                        "ExecReload, so systemctl reload) sends it and waits until the daemon has applied the "
                        "files or refused them.\n\n"
                        "SIGTERM or SIGINT: stop receiving, commit what is held and exit; undelivered events "
                        "stay in the spool for the next start."),
            ("EXIT STATUS", "0 after a clean stop; 1 when it cannot start (bad configuration, port in use, "
                            "another daemon holding the pid file) or its pipeline failed. With --reload: 0 "
                            "once the files are in force; 1 when they were refused, no daemon runs, or no "
                            "confirmation came within --timeout."),
            ("FILES", files), ("ENVIRONMENT", environment),
            ("SEE ALSO", "gluster-eventsapi(8), systemctl(1)"))),
        Page("gluster-eventsapi", "manage Gluster event webhooks and settings on every node", cli_parser, (
            ("EXIT STATUS", "0 ok on every node; 1 other error; 2 config value unchanged (also argparse's "
                            "usage error); 3 no node OK; 4 some nodes not OK; 5 webhook already exists; "
                            "6 webhook does not exist; 7 invalid config name or value; 8 webhooks file sync "
                            "failed; 9 config file sync failed."),
            ("FILES", files), ("ENVIRONMENT", environment),
            ("SEE ALSO", "glustereventsd(8), ssh(1), ssh_config(5)"))),
    ]


def main(argv: list[str] | None = None) -> int:
    """Write or check the pages."""
    parser = argparse.ArgumentParser(prog="python -m tools.manpages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 on a difference")
    args = parser.parse_args(argv)
    stale = []
    for page in pages():
        path = MAN_DIR / f"{page.name}.8"
        text = render(page)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            MAN_DIR.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run: python -m tools.manpages", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
