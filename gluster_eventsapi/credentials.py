"""Secrets given on the command line as ``-``: read from stdin, one line each, so never in argv.

Shared by the commands that take a bearer token, a JWT secret, a signing secret, a proxy URL
or NATS credentials (``webhook-*``, ``config-set webhook-proxy -``, ``listen``).
"""

from __future__ import annotations

import argparse

from gluster_eventsapi.context import Context
from gluster_eventsapi.errors import CliError


class StdinSecrets:
    """Reads ``-`` arguments from stdin, one line each, in the order asked."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def resolve(self, value: str | None, what: str) -> str | None:
        """``value`` itself, or for ``-`` the next line of stdin (CliError when there is none)."""
        if value != "-":
            return value
        line = self.ctx.stdin.readline()
        if not line:
            raise CliError(f"expected the {what} on stdin (one line), found nothing: '-' reads "
                           "it from stdin; pipe it in, one line per '-' in the order token, "
                           "secret, signing secret, proxy URL, NATS token, NATS password (e.g. printf '%s\\n' \"$TOKEN\" | "
                           "gluster-eventsapi webhook-add URL -t -)")
        return line.rstrip("\r\n")


def bearer_and_secret(args: argparse.Namespace, reader: StdinSecrets) -> tuple[str | None, str | None]:
    """The ``--bearer_token`` and ``--secret`` arguments, read from stdin where given as ``-``."""
    token = reader.resolve(args.bearer_token, "bearer token")
    secret = reader.resolve(args.secret, "secret")
    return token, secret
