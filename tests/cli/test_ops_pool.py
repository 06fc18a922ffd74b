"""Operator commands on the real three-node SSH pool: webhook settings, webhook-status,
webhook-redeliver, listen and emit, with real daemons and real HTTP receivers."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest

from tests.helpers import Receiver, wait_for

ALL = ("node1", "node2", "node3")
SIGNING = "whsec_" + base64.b64encode(b"s" * 32).decode()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def test_webhook_settings_are_synced_and_shown(pool, tmp_path):
    ca = tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=test-ca", "-keyout", str(tmp_path / "ca.key"), "-out", str(ca)],
                   check=True, capture_output=True, timeout=60)
    url = "https://127.0.0.1:9/hook"
    run = pool.cli("webhook-add", url, "--signing-secret", "-", "--ca-bundle", str(ca),
                   "--events", "VOLUME_*", "--concurrency", "1", stdin=SIGNING + "\n")
    assert run.status == 0, run.out + run.err
    expected = {"token": "", "secret": "", "signing-secret": SIGNING, "ca-bundle": str(ca),
                "events": ["VOLUME_*"], "concurrency": 1}
    assert all(pool.webhooks(n) == {url: expected} for n in ALL)
    run = pool.cli("webhook-mod", url, "--insecure-tls", "--json")
    assert run.status == 0 and "will NOT be verified" in run.err
    assert all(pool.webhooks(n)[url]["insecure-tls"] is True for n in ALL)
    run = pool.cli("status")
    assert run.out.splitlines()[1] == f"{url} (insecure TLS: certificate not verified)"
    ca.unlink()  # every node now lacks the CA bundle: each says so on the next sync
    run = pool.cli("sync")
    assert run.status == 0
    assert run.out.count(f"CA bundle {ca} missing on this node") == 3
    assert SIGNING not in run.out + run.err
