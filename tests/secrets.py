"""Credentials the tests use. The suite fails when any of them appears in an output.

tests/conftest.py checks every test's captured stdout, stderr and log, and at the end of the
session every file the tests wrote (daemon logs and their stderr, events.log, CLI outputs),
except the files whose job is to hold credentials. Use these constants (or add yours here)
for any token or secret a test hands to the daemon or the CLI.
"""

from __future__ import annotations

import base64

TOKEN = "bearer-token-for-tests-0001"
JWT_SECRET = "jwt-secret-for-tests-0001"
SIGNING_KEY = b"k" * 32
WHSEC = "whsec_" + base64.b64encode(SIGNING_KEY).decode()
KEPT_TOKEN = "kept-token-0001"
# Used by tests/cli: pool-wide commands reading secrets from stdin.
CLI_TOKEN = "TOKEN-d41d8cd98f00b204"
CLI_SECRET = "SECRET-e9800998ecf8427e"
CLI_TEST_SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret"

ALL: tuple[str, ...] = (TOKEN, JWT_SECRET, WHSEC, KEPT_TOKEN, CLI_TOKEN, CLI_SECRET, CLI_TEST_SECRET)

#: Files that exist to hold credentials (and their atomic-write temporaries).
CREDENTIAL_FILES = ("webhooks.json",)


def holds_credentials(name: str) -> bool:
    """True for a webhooks.json, its last-good copy, or one of its temporary files."""
    return any(name == stored or name.startswith(f".{stored}.") for stored in CREDENTIAL_FILES)


def leaks_in(text: str) -> list[str]:
    """The test secrets found in ``text``, shown redacted."""
    return [f"{secret[:4]}…" for secret in ALL if secret in text]
