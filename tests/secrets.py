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

# NATS sinks (tests/nats.py): a token, a password, and NKey user seeds (one alone, one in a .creds file).
NATS_TOKEN = "nats-token-for-tests-0001"
NATS_PASSWORD = "nats-password-for-tests-0001"
NKEY_SEED = "SUADNIAOPV22EPQGMAI2F4ZJL7WUWSKKE6SQ5TUGHOQORWNES3GO2D3O2A"
CREDS_SEED = "SUAAKFC4MZOADMF7VJOYRTVMUFL5I5PMTDMPNWU6BQDVJHJA6FVL7PEUXU"

ALL: tuple[str, ...] = (TOKEN, JWT_SECRET, WHSEC, KEPT_TOKEN, CLI_TOKEN, CLI_SECRET, CLI_TEST_SECRET,
                        NATS_TOKEN, NATS_PASSWORD, NKEY_SEED, CREDS_SEED)

#: Files that exist to hold credentials (and their atomic-write temporaries).
CREDENTIAL_FILES = ("webhooks.json", "nats-server.conf", "nats-token", "nats-password")
#: Suffixes of credential files: NKey seeds and .creds files (the tests' own and the CLI's kept copies).
CREDENTIAL_SUFFIXES = (".nk", ".creds")


def holds_credentials(name: str) -> bool:
    """True for a file whose job is to hold credentials, or one of its temporary files."""
    base = name[1:] if name.startswith(".") else name
    return (any(name == stored or name.startswith(f".{stored}.") for stored in CREDENTIAL_FILES)
            or any(base.endswith(suffix) or f"{suffix}." in base for suffix in CREDENTIAL_SUFFIXES))


def leaks_in(text: str) -> list[str]:
    """The test secrets found in ``text``, shown redacted."""
    return [f"{secret[:4]}…" for secret in ALL if secret in text]
