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


# Gluster's own CLI's words for these failures. Ours start with them, our detail after, so that
# scripts that look for them (in stderr or in --json's "error") keep working: docs/COMPATIBILITY.md.
WEBHOOK_EXISTS_TEXT = "Webhook already exists"
WEBHOOK_NOT_EXISTS_TEXT = "Webhook does not exists"  # sic: upstream's words
INVALID_CONFIG_TEXT = "Invalid Config item"
SAME_CONFIG_TEXT = "Config value not changed. Same config"
NOT_RESET_TEXT = "Config value not reset. Already set to default value"
WEBHOOKS_SYNC_TEXT = "Failed to sync Webhooks file"
CONFIG_SYNC_TEXT = "Failed to sync Config file"
UPSTREAM_TEXTS = (WEBHOOK_EXISTS_TEXT, WEBHOOK_NOT_EXISTS_TEXT, INVALID_CONFIG_TEXT, SAME_CONFIG_TEXT,
                  NOT_RESET_TEXT, WEBHOOKS_SYNC_TEXT, CONFIG_SYNC_TEXT)
# Exit 8 and 9 always mean a failed sync: their message starts with upstream's words for it.
SYNC_TEXTS = {ExitStatus.WEBHOOKS_SYNC_FAILED: WEBHOOKS_SYNC_TEXT, ExitStatus.CONFIG_SYNC_FAILED: CONFIG_SYNC_TEXT}


class CliError(Exception):
    """A failure to report to the user: a message and the exit status that goes with it."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
