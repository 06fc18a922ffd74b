"""Local (one-node, no SSH) tests of config-get defaults, webhook settings flags and helpers."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess

import pytest

from glustereventsd.config.options import OPTIONS
from gluster_eventsapi.commands.config import SHIPPED_DEFAULTS
from tests.cli.conftest import local_cli
from tests.cli.sshpool import REPO


@pytest.fixture
def one_node(tmp_path):
    """A one-node pool under tmp_path WITHOUT a shipped defaults file; run in-process."""
    return local_cli(tmp_path / "root", shipped_defaults=False)


def test_builtin_shipped_defaults_match_spec_and_etc():
    assert dict(SHIPPED_DEFAULTS) == json.loads((REPO / "etc/eventsconfig.json").read_text())
    assert all(OPTIONS[name].default == value for name, value in SHIPPED_DEFAULTS.items())


def test_config_get_without_shipped_file_shows_the_shipped_keys(one_node):
    status, out, err = one_node("config-get")
    assert status == 0, err
    assert out.splitlines() == [
        "+--------------------+-------+",
        "|        NAME        | VALUE |",
        "+--------------------+-------+",
        "|     log_level      | INFO  |",
        "|        port        | 24009 |",
        "| disable_events_log | false |",
        "+--------------------+-------+",
    ]
    # --json carries the files' own key names, as Gluster's own CLI prints them (issue 11)
    status, out, _ = one_node("config-get", "--json")
    assert json.loads(out)["output"] == {"log-level": "INFO", "port": 24009,
                                         "disable-events-log": False}
    (one_node.events / "config.json").write_text('{"spool_max_events": 500}')
    status, out, _ = one_node("config-get", "--json")
    assert json.loads(out)["output"]["spool-max-events"] == 500


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_config_get_name_works_for_every_key(one_node, name):
    status, out, err = one_node("config-get", "--name", name, "--json")
    assert status == 0, err
    value = OPTIONS[name].default
    assert json.loads(out)["output"] == {name: value}
    status, out, err = one_node("config-get", "--name", OPTIONS[name].field, "--json")
    assert status == 0 and json.loads(out)["output"] == {name: value}, err


SIGNING = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def ca_file(tmp_path):
    """A real self-signed CA certificate (PEM), made with openssl."""
    key, cert = tmp_path / "ca.key", tmp_path / "ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=test-ca", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert


def hooks_file(run):
    return json.loads((run.events / "webhooks.json").read_text())


def test_webhook_add_with_every_setting(one_node, ca_file):
    url = "https://h.example/x"
    status, out, err = one_node(
        "webhook-add", url, "-t", "-", "--signing-secret", "-", "--timeout-secs", "2.5",
        "--concurrency", "1", "--ca-bundle", str(ca_file), "--events", "volume_*, QUORUM_LOST",
        stdin=f"tok\n{SIGNING}\n")
    assert status == 0, err
    bundle = f"ca/{hashlib.sha256(ca_file.read_bytes()).hexdigest()[:16]}.pem"
    assert hooks_file(one_node) == {url: {
        "token": "tok", "secret": "", "signing-secret": SIGNING, "timeout-secs": 2.5,
        "concurrency": 1, "ca-bundle": bundle, "events": ["VOLUME_*", "QUORUM_LOST"]}}
    assert (one_node.events / bundle).read_bytes() == ca_file.read_bytes()  # the copy sync sends
    assert "must exist at that path on every node" not in out
    assert SIGNING not in out + err


def test_webhook_mod_changes_only_what_is_given(one_node):
    url = "https://h.example/x"
    assert one_node("webhook-add", url, "-s", "sec", "--concurrency", "4", "--events",
                    "VOLUME_CREATE")[0] == 0
    status, out, err = one_node("webhook-mod", url, "--insecure-tls", "--timeout-secs", "3")
    assert status == 0, err
    assert "will NOT be verified" in out
    assert hooks_file(one_node)[url] == {"token": "", "secret": "sec", "concurrency": 4,
                                         "events": ["VOLUME_CREATE"], "insecure-tls": True,
                                         "timeout-secs": 3.0}
    status, out, _ = one_node("status")
    assert f"{url} (insecure TLS: certificate not verified)" in out.splitlines()
    status, out, err = one_node("status", "--json")
    assert set(json.loads(out)["output"]) == {"webhooks", "data"}  # SPEC's shape, nothing added
    assert f"Note: {url} has insecure TLS" in err
    status, _, err = one_node("webhook-mod", url, "--verify-tls", "--concurrency", "0",
                              "--events", "", "--timeout-secs", "0")
    assert status == 0, err
    assert hooks_file(one_node)[url] == {"token": "", "secret": "sec"}
    assert "insecure" not in one_node("status")[1]


def test_old_entries_keep_working_with_new_flags(one_node):
    (one_node.events / "webhooks.json").write_text('{"http://old/": "oldtoken"}')
    status, _, err = one_node("webhook-mod", "http://old/", "--concurrency", "2")
    assert status == 0, err
    assert hooks_file(one_node) == {"http://old/": {"token": "oldtoken", "secret": "",
                                                    "concurrency": 2}}


@pytest.mark.parametrize("argv, stdin, words", [
    (("--events", "VOLUME_CREAT"), "", ["matches no event name", "VOLUME_CREATE"]),
    (("--events", "VOLUME_*,BRIK_*"), "", ["'BRIK_*'", "matches no event name"]),
    (("--timeout-secs", "soon"), "", ["--timeout-secs 'soon'", "0.1 to 600"]),
    (("--concurrency", "100"), "", ["--concurrency '100'", "0 to 64"]),
    (("--signing-secret", "-"), "whsec_notbase64!!\n", ["--signing-secret", "whsec_"]),
    (("--ca-bundle", "/nonexistent/ca.pem"), "", ["/nonexistent/ca.pem does not exist"]),
])
def test_invalid_settings_exit_7_and_write_nothing(one_node, argv, stdin, words):
    status, out, err = one_node("webhook-add", "https://h.example/x", *argv, stdin=stdin)
    assert status == 7, (out, err)
    assert all(word in err for word in words), err
    assert "notbase64" not in err
    assert not (one_node.events / "webhooks.json").exists()


def test_ca_bundle_that_is_not_pem_is_refused(one_node, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    status, _, err = one_node("webhook-add", "https://h.example/x", "--ca-bundle", str(bad))
    assert status == 7 and "cannot load CA certificates" in err


def test_insecure_and_verify_tls_are_exclusive(one_node):
    status, _, err = one_node("webhook-add", "https://h/x", "--insecure-tls", "--verify-tls")
    assert status == 2 and "not allowed with" in err


def test_webhook_mod_without_changes_lists_the_flags(one_node):
    assert one_node("webhook-add", "http://h/x")[0] == 0
    status, _, err = one_node("webhook-mod", "http://h/x")
    assert status == 1 and "--events" in err and "--signing-secret" in err


@pytest.mark.parametrize("secs, shown", [(None, "never"), (0.4, "0s"), (59, "59s"),
                                         (192, "3m12s"), (7500, "2h05m"), (273600, "3d04h")])
def test_age(secs, shown):
    from gluster_eventsapi.render import age

    assert age(secs) == shown


def test_webhook_status_of_a_node_where_the_daemon_never_ran(one_node):
    assert one_node("webhook-add", "https://h/x", "--insecure-tls")[0] == 0
    status, out, err = one_node("webhook-status")
    assert status == 0, err
    row = [c.strip() for c in out.splitlines()[3].split("|")[1:-1]]
    assert row == ["localhost", "https://h/x (insecure TLS)", "0", "0", "0", "0", "-", "-",
                   "never", "-"]  # IN FLIGHT: only a running daemon knows it
    status, out, _ = one_node("webhook-redeliver", "https://h/x", "--list")
    assert status == 0 and "No dead letters for https://h/x." in out
    status, out, _ = one_node("webhook-redeliver", "https://h/x", "--json")
    assert status == 0 and json.loads(out)["output"][0]["requeued"] == 0
    assert not (one_node.root / "var/lib/glustereventsd/spool.sqlite3").exists()


def test_jwt_verification_checks_alg_signature_and_expiry():
    from glustereventsd.sinks.http.auth import jwt_hs256
    from gluster_eventsapi.listen.server import AuthFailure, verify_jwt

    token = jwt_hs256("k" * 20, "VOLUME_CREATE", 100, 1000)
    assert verify_jwt(token, "k" * 20, 1000)["sub"] == "VOLUME_CREATE"
    with pytest.raises(AuthFailure, match="signature does not match"):
        verify_jwt(token, "x" * 20, 1000)
    with pytest.raises(AuthFailure, match="expired"):
        verify_jwt(token, "k" * 20, 2000)
    head, claims, _ = token.split(".")
    none = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(AuthFailure, match="'none' refused"):
        verify_jwt(f"{none}.{claims}.", "k" * 20, 1000)


def test_listen_on_a_busy_port_is_a_clear_error(one_node):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        status, _, err = one_node("listen", "--port", str(port))
    assert status == 1 and f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_webhook_format_cloudevents_is_stored_shown_and_refused_for_nats(one_node):
    url = "https://h.example/ce"
    status, _, err = one_node("webhook-add", url, "--format", "cloudevents")
    assert status == 0, err
    assert hooks_file(one_node)[url] == {"token": "", "secret": "", "format": "cloudevents"}
    status, out, _ = one_node("status")
    assert f"{url} (format cloudevents)" in out.splitlines()
    assert one_node("webhook-mod", url, "--format", "gluster")[0] == 0
    assert "format" not in hooks_file(one_node)[url]  # the default is not written
    status, _, err = one_node("webhook-add", "nats://127.0.0.1:4222/gluster", "--format", "cloudevents")
    assert status != 0 and "--format: not used by a NATS sink" in err
    (one_node.events / "webhooks.json").write_text(json.dumps({url: {"format": "xml"}}))
    status, _, err = one_node("status")
    assert status != 0 and "format" in err and "gluster, cloudevents" in err
