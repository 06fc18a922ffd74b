"""Operator commands on the real three-node SSH pool: webhook settings, webhook-status,
webhook-redeliver, listen and emit, with real daemons and real HTTP receivers."""

from __future__ import annotations

import base64
import json
import re
import subprocess

import pytest

from eventtypes.emit import gf_event
from tests.helpers import Receiver, wait_for
from tests.tls import HttpsReceiver, make_certificates

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
    bundle = pool.webhooks("node1")[url]["ca-bundle"]
    assert re.fullmatch(r"ca/[0-9a-f]{16}\.pem", bundle)
    expected = {"token": "", "secret": "", "signing-secret": SIGNING, "ca-bundle": bundle,
                "events": ["VOLUME_*"], "concurrency": 1}
    assert all(pool.webhooks(n) == {url: expected} for n in ALL)
    # Every node got its own copy of the certificates: the original file is not needed.
    assert all((pool.events_dir(n) / bundle).read_bytes() == ca.read_bytes() for n in ALL)
    assert "must exist at that path" not in run.out + run.err
    ca.unlink()
    run = pool.cli("webhook-mod", url, "--insecure-tls", "--json")
    assert run.status == 0 and "will NOT be verified" in run.err
    assert all(pool.webhooks(n)[url]["insecure-tls"] is True for n in ALL)
    run = pool.cli("status")
    assert run.out.splitlines()[1] == f"{url} (insecure TLS: certificate not verified)"
    assert "missing on this node" not in pool.cli("sync").out
    # Dropping the bundle removes every copy.
    assert pool.cli("webhook-mod", url, "--ca-bundle", "").status == 0
    assert not any((pool.events_dir(n) / bundle).exists() for n in ALL)
    assert SIGNING not in run.out + run.err


def test_ca_bundle_given_on_one_node_verifies_tls_on_another(pool, tmp_path):
    certificates = make_certificates(tmp_path)
    https = HttpsReceiver(certificates)
    try:
        daemon = pool.start_daemon("node2")
        run = pool.cli("webhook-add", https.url, "--ca-bundle", str(certificates["ca"]))
        assert run.status == 0, run.out + run.err
        wait_for(lambda: "Webhook added" in daemon.log_text(), 10, what="node2 reloaded")
        gf_event("VOLUME_CREATE", port=daemon.port, name="over-tls")
        wait_for(lambda: len(https.bodies) == 1, 15, what="delivered from node2 over verified TLS")
        assert b'"name": "over-tls"' in https.bodies[0]
        assert "not trusted" not in daemon.log_text()
    finally:
        https.stop()


def test_a_ca_bundle_path_outside_the_tool_must_exist_on_every_node(pool, tmp_path):
    ca = tmp_path / "ca.pem"
    make_certificates(tmp_path)  # writes ca.pem
    url = "https://127.0.0.1:9/hook"
    hooks_file = pool.events_dir("node1") / "webhooks.json"
    hooks_file.write_text(json.dumps({url: {"ca-bundle": str(ca)}}))  # edited by hand
    run = pool.cli("sync")
    assert run.status == 0 and "missing on this node" not in run.out
    ca.unlink()  # every node now lacks the CA bundle: each says so on the next sync
    run = pool.cli("sync")
    assert run.status == 0
    assert run.out.count(f"TLS file {ca} missing on this node") == 3


def hook_rows(run):
    """webhook-status --json: {node: first webhook's state}."""
    return {row["node"]: (row["webhooks"][0] if row["webhooks"] else None)
            for row in run.json()["output"]}


def test_status_dead_letters_redeliver_on_the_pool(pool, receiver):
    from tests.helpers import send_raw

    run = pool.cli("webhook-status")
    assert run.status == 0 and "No webhooks registered" in run.out
    receiver.behaviour.default = 410  # gone: not retried, straight to the dead letters
    daemons = {name: pool.start_daemon(name) for name in ("node1", "node2")}
    assert pool.cli("webhook-add", receiver.url).status == 0
    for daemon in daemons.values():
        wait_for(lambda: "Webhook added" in daemon.log_text(), 10, what="daemon reloaded")
    for name, count in (("node1", 3), ("node2", 2)):
        for i in range(count):
            send_raw(daemons[name].port, f"1468303352 2 name={name}-v{i}".encode())

    def dead_counts():
        run = pool.cli("webhook-status", "--json")
        found = hook_rows(run)
        counts = {n: found[n]["dead_letters"] for n in found}
        return found if counts == {"localhost": 3, "node2": 2, "node3": 0} else None

    found = wait_for(dead_counts, 30, 0.2, "dead letters on node1 and node2")
    assert found["localhost"]["last_error"].startswith("HTTP 410")
    assert found["node3"] == {"url": receiver.url, "queued": 0, "delivered": 0, "retried": 0,
                              "dropped": 0, "dead_letters": 0, "oldest_age_secs": 0.0,
                              "last_error": "", "last_error_age_secs": None,
                              "last_success_age_secs": None, "insecure_tls": False,
                              "memory_only": 0, "concurrency_limit": None, "concurrency_reason": ""}

    def limit_shown():  # the daemon writes its delivery figures (the limits) to its status file once a second
        row = hook_rows(pool.cli("webhook-status", "--json"))["localhost"]
        return row if isinstance(row["concurrency_limit"], int) else None

    shown = wait_for(limit_shown, 15, 0.2, "node1's in-flight limit in webhook-status")
    assert shown["concurrency_limit"] >= 1 and shown["concurrency_reason"]  # the running daemon's limit
    run = pool.cli("webhook-status", receiver.url)
    assert run.status == 0
    lines = run.out.splitlines()
    assert [c.strip() for c in lines[1].split("|")[1:-1]] == [
        "NODE", "WEBHOOK", "QUEUED", "DELIVERED", "RETRIED", "DEAD LETTERS", "OLDEST",
        "LAST ERROR", "LAST SUCCESS", "IN FLIGHT"]
    cells = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
             for line in lines[3:6]}
    assert cells["localhost"][4] == "3" and cells["localhost"][6].startswith("HTTP 410 (")
    assert cells["localhost"][7] == "never"
    assert cells["node3"] == [receiver.url, "0", "0", "0", "0", "-", "-", "never", "-"]

    run = pool.cli("webhook-redeliver", receiver.url, "--list", "--json")
    assert run.status == 0
    listed = {row["node"]: row for row in run.json()["output"]}
    assert [listed[n]["dead_letters"] for n in ("localhost", "node2", "node3")] == [3, 2, 0]
    newest = listed["localhost"]["newest"][0]
    assert newest["event"] == "VOLUME_CREATE" and newest["reason"] and newest["seq"] >= 1
    run = pool.cli("webhook-redeliver", receiver.url, "--list")
    assert "webhook-redeliver " + receiver.url in run.out and "VOLUME_CREATE" in run.out

    receiver.behaviour.default = 200
    run = pool.cli("webhook-redeliver", receiver.url, "--json")
    assert run.status == 0, run.out + run.err
    assert [r["requeued"] for r in run.json()["output"]] == [3, 2, 0]
    wait_for(lambda: receiver.count() == 5, 30, what="the 5 re-queued events delivered")
    assert sorted(receiver.names()) == ["node1-v0", "node1-v1", "node1-v2", "node2-v0", "node2-v1"]
    found = wait_for(lambda: (lambda f: f if f["localhost"]["delivered"] == 3 else None)(
        hook_rows(pool.cli("webhook-status", "--json"))), 15, 0.2, "delivered counted")
    assert found["localhost"]["dead_letters"] == 0 and found["node2"]["delivered"] == 2
    run = pool.cli("webhook-redeliver", receiver.url)
    assert run.status == 0 and "Nothing to re-queue" in run.out
    assert pool.cli("webhook-status", receiver.url + "x").status == 6
    assert pool.cli("webhook-redeliver", receiver.url + "x").status == 6


class Listener:
    """``gluster-eventsapi listen`` as a real process; its stdout and stderr read by threads."""

    def __init__(self, pool, *argv: str, stdin: str = "") -> None:
        import sys
        import threading

        from tests.cli.sshpool import free_port, port_open

        self.port = free_port("127.0.0.1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gluster_eventsapi", "listen", "--port", str(self.port), *argv],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=pool.environ("node1"), text=True)
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.out: list[str] = []
        self.err: list[str] = []
        self.threads = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                        for stream, lines in ((self.proc.stdout, self.out),
                                              (self.proc.stderr, self.err))]
        for thread in self.threads:
            thread.start()
        wait_for(lambda: port_open("127.0.0.1", self.port) or self.proc.poll() is not None, 10,
                 what="listen to accept connections")
        assert self.proc.poll() is None, "".join(self.err)

    @staticmethod
    def _read(stream, lines) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        for thread in self.threads:
            thread.join(5)
        return code


TOKEN, SECRET = "listen-token-8c1f", "listen-secret-4e7a9b2d41c6"
WRONG_SIGNING = "whsec_" + base64.b64encode(b"w" * 32).decode()
# (listen flags, stdin, good webhook flags/stdin, wrong webhook flags/stdin, reason shown)
AUTH_CASES = {
    "bearer": (["-t", "-"], TOKEN, (["-t", "-"], TOKEN), (["-t", "-"], "other"),
               "bearer token does not match"),
    "jwt": (["-s", "-"], SECRET, (["-s", "-"], SECRET), (["-s", "-"], "other-secret"),
            "JWT signature does not match"),
    "signed": (["--signing-secret", "-", "--json"], SIGNING, (["--signing-secret", "-"], SIGNING),
               (["--signing-secret", "-"], WRONG_SIGNING), "webhook-signature does not match"),
}


@pytest.mark.parametrize("case", sorted(AUTH_CASES))
def test_listen_receives_from_a_daemon_and_rejects_wrong_credentials(pool, case):
    listen_flags, listen_secret, good, wrong, reason = AUTH_CASES[case]
    listener = Listener(pool, *listen_flags, stdin=listen_secret + "\n")
    try:
        daemon = pool.start_daemon("node1")
        pool.set_peers()  # a one-node pool: this test is about listen, not SSH
        for path, (flags, value) in (("good", good), ("wrong", wrong)):
            run = pool.cli("webhook-add", listener.url(path), *flags, stdin=value + "\n")
            assert run.status == 0, run.out + run.err
        wait_for(lambda: daemon.log_text().count("Webhook added") == 2, 10, what="reload")
        run = pool.cli("webhook-test", listener.url("good"))
        assert run.status == 0, run.out
        run = pool.cli("webhook-test", listener.url("wrong"))
        # the test request ({}) is signed like an event: a wrong signing secret fails it too
        assert (run.status, "HTTP 401" in run.out) == (3, True)
        run = pool.cli("emit", "VOLUME_CREATE", "name=gv 1", "force=1", "--port",
                       str(daemon.port))
        assert run.status == 0, run.err
        wait_for(lambda: listener.out, 15, what="the event printed")
        wait_for(lambda: sum("REJECTED" in line for line in listener.err) >= 2, 15,
                 what="the wrong webhook's event rejected")
    finally:
        code = listener.stop()
    assert code == 0
    assert len(listener.out) == 1
    if "--json" in listen_flags:
        body = json.loads(listener.out[0])
        assert body["event"] == "VOLUME_CREATE"
        assert body["message"] == {"name": "gv 1", "force": True}
    else:
        line = listener.out[0]
        assert ' VOLUME_CREATE  force=true name="gv 1"' in line and "  node " in line
    rejected = [line for line in listener.err if "REJECTED" in line]
    assert all("/wrong" in line and reason in line and "(answered 401)" in line
               for line in rejected), listener.err
    assert any("test request" in line for line in listener.err)
    assert listener.err[-1] == "Stopped listening."
    for text in listener.out + listener.err:
        assert listen_secret not in text


def test_emit_end_to_end_with_filter_and_errors(pool, receiver):
    daemon = pool.start_daemon("node1")
    pool.set_peers()
    run = pool.cli("webhook-add", receiver.url, "--events", "QUORUM_*")
    assert run.status == 0, run.err
    wait_for(lambda: "Webhook added" in daemon.log_text(), 10, what="reload")
    port = str(daemon.port)
    assert pool.cli("emit", "VOLUME_CREATE", "name=skipped", "--port", port).status == 0
    run = pool.cli("emit", "80", "volume=gv1", "--port", port)  # QUORUM_LOST by id
    assert run.status == 0 and run.out.startswith("Sent QUORUM_LOST (id 80)")
    run = pool.cli("emit", "quorum_regained", "volume=gv1", "--port", port, "--json")
    assert run.json()["output"]["id"] == 81
    wait_for(lambda: receiver.count() == 2, 15, what="both quorum events")
    # Two requests may be in flight at once, so the receiver restores the order by sequence.
    in_order = receiver.events_by_sequence()
    assert [e["event"] for e in in_order] == ["QUORUM_LOST", "QUORUM_REGAINED"], daemon.log_text()
    assert in_order[0]["message"] == {"volume": "gv1"}

    run = pool.cli("emit", "VOLUME_CRATE")
    assert run.status == 1 and "closest: VOLUME_CREATE" in run.err
    run = pool.cli("emit", "999")
    assert run.status == 1 and "0..141" in run.err
    run = pool.cli("emit", "VOLUME_CREATE", "nameless")
    assert run.status == 1 and "key=value" in run.err
    run = pool.cli("emit", "--list")
    assert "  2 VOLUME_CREATE" in run.out.splitlines()
    daemon.stop()
    run = pool.cli("emit", "VOLUME_CREATE", "name=x", "--port", port)
    assert run.status == 1 and "not running" in run.err and "nothing was sent" in run.err
