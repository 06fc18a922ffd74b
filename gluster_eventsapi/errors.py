"""Exit statuses of gluster-eventsapi and the one exception that carries them.

The numbers 2..9 are the original CLI's, kept so that existing scripts keep working. Note
that argparse also exits with 2 on a usage error (documented in ``--help``).
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """What the process exit code means (SPEC section 5)."""

    OK = 0
    ERROR = 1
    CONFIG_UNCHANGED = 2  # also argparse's usage error
    NO_NODE_OK = 3
    SOME_NODES_NOT_OK = 4
    WEBHOOK_EXISTS = 5
    WEBHOOK_NOT_EXISTS = 6
    INVALID_CONFIG = 7
    WEBHOOKS_SYNC_FAILED = 8
    CONFIG_SYNC_FAILED = 9
    INTERRUPTED = 130


class CliError(Exception):
    """A failure to report to the user: a message and the exit status that goes with it."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
