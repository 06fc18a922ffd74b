"""NATS sinks without a server: URLs and subjects, PubAck classification, credential files, the CLI's flags.

The subject matcher is checked against a regular-expression translation of NATS's rules
(a separate implementation); the servers' own matching is exercised by tests/integration/test_nats.py.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.msg import Msg

from glustereventsd.sinks.nats import creds as natscreds
from glustereventsd.sinks.nats import url as natsurl
from glustereventsd.config.options import ConfigError, webhook_from_entry
from glustereventsd.models import OutcomeKind, Destination
from glustereventsd.sinks import kinds, urls
from glustereventsd.sinks.nats.ack import outcome_of_ack
from glustereventsd.sinks.urltext import UrlError
from gluster_eventsapi.files import tlsfiles
from gluster_eventsapi.errors import CliError
from tests import nats as natstest
from tests import secrets
from tests.cli.conftest import local_cli

# -- URLs and subjects ----------------------------------------------------------------------------


def test_servers_then_the_subject_prefix() -> None:
    url = natsurl.parse("nats://nats1:4222,NATS2,[fd00::5]:4300/gluster.events")
    assert url.servers == (("nats1", 4222), ("nats2", 4222), ("fd00::5", 4300))
    assert url.server_urls == ["nats://nats1:4222", "nats://nats2:4222", "nats://[fd00::5]:4300"]
    assert url.prefix == "gluster.events" and not url.tls_required
    assert url.subject("95cd599c-5d87", "BRICK_DISCONNECTED") == "gluster.events.95cd599c-5d87.BRICK_DISCONNECTED"
    assert natsurl.parse("tls://bücher.example/g").servers == (("xn--bcher-kva.example", 4222),)
    assert natsurl.parse("TLS://h/g").tls_required
    assert kinds.is_nats("nats://h/x") and kinds.is_nats(" tls://h/x") and not kinds.is_nats("https://h/x")


@pytest.mark.parametrize("url, words", [
    ("nats://h:4222", "no subject prefix"),
    ("nats://h:4222/", "no subject prefix"),
    ("nats://h/gluster.*", "wildcards"),
    ("nats://h/gluster.>", "wildcards"),
    ("nats://h/gluster..events", "empty token"),
    ("nats://h/gluster.events.", "empty token"),
    ("nats://h/glu ster", "printable ASCII without spaces"),
    ("nats://user:pw@h/g", "must not embed credentials"),
    ("nats://h:0/g", "invalid port"),
    ("nats://h:99999/g", "invalid port"),
    ("nats://h:x/g", "invalid port"),
    ("nats://h/g?token=1", "query or fragment"),
    ("nats://h/g\r\nX", "control characters"),
    ("nats://h,h/g", "twice"),
    ("nats:///g", "no server"),
    ("nats://h,,k/g", "is not host or host:port"),
    ("nats://h%20x/g", "delimiter in the host"),
])
def test_bad_urls_say_what_is_wrong(url: str, words: str) -> None:
    with pytest.raises(UrlError, match=re.escape(words)):
        natsurl.parse(url)


def test_shown_urls_hold_no_credentials_and_no_raw_control_characters() -> None:
    assert natsurl.display("nats://a:1,user:pw@b:2/g.e?x=1") == "nats://a:1,b:2/g.e"
    assert natsurl.display("nats://a/g\x1b[31m") == "nats://a/g\\x1b[31m"
    assert natsurl.display("nats://h:4222?token=S3CRET") == "nats://h:4222"  # no path: the query still goes
    assert natsurl.display("nats://h#S3CRET") == "nats://h"
    assert urls.display("nats://a:4222,b:4222/gluster.events") == "nats://a:4222,b:4222/gluster.events"


def test_subject_tokens_are_made_safe() -> None:
    assert natsurl.subject_token("node.1 *>") == "node_1___"
    assert natsurl.subject_token("") == "_"
    assert natsurl.subject_token("95cd599c-5d87-43c1") == "95cd599c-5d87-43c1"


def _reference(pattern: str, subject: str) -> bool:
    """NATS's matching by regular expression: ``*`` one token, ``>`` one or more trailing tokens."""
    parts = []
    for token in pattern.split("."):
        parts.append(r"[^.]+" if token == "*" else r"[^.]+(\.[^.]+)*" if token == ">" else re.escape(token))
    return re.fullmatch(r"\.".join(parts), subject) is not None


tokens = st.sampled_from(["a", "b", "gluster", "events", "X1"])


@given(st.lists(st.one_of(tokens, st.just("*")), min_size=1, max_size=5), st.booleans(),
       st.lists(tokens, min_size=1, max_size=6))
def test_covers_matches_the_reference_for_concrete_subjects(pattern: list[str], tail: bool, subject: list[str]) -> None:
    text = ".".join(pattern + ([">"] if tail else []))
    assert natsurl.covers(text, ".".join(subject)) == _reference(text, ".".join(subject))


def test_covers_for_patterns() -> None:
    assert natsurl.covers("gluster.>", "gluster.events.>")
    assert natsurl.covers("gluster.events.>", "gluster.events.>")
    assert not natsurl.covers("gluster.events.*", "gluster.events.>")
    assert natsurl.covers("gluster.*.*", "gluster.*.VOLUME_CREATE")
    assert not natsurl.covers("gluster.events.*.BRICK_DISCONNECTED", "gluster.events.>")


# -- PubAck --------------------------------------------------------------------------------------

def _msg(data: bytes, headers: dict[str, str] | None = None) -> Msg:
    return Msg(_client=None, subject="_INBOX.x.1", data=data, headers=headers)  # type: ignore[arg-type]


def test_puback_classification() -> None:
    delivered, duplicate = outcome_of_ack(_msg(b'{"stream":"G","seq":7}'), "s", "nats://h/g")
    assert delivered.kind is OutcomeKind.DELIVERED and not duplicate
    _, duplicate = outcome_of_ack(_msg(b'{"stream":"G","seq":7,"duplicate":true}'), "s", "nats://h/g")
    assert duplicate
    missing, _ = outcome_of_ack(_msg(b"", {"Status": "503"}), "gluster.events.n.VOLUME_CREATE", "nats://h/g")
    assert missing.kind is OutcomeKind.RETRY and missing.reason == "no_stream"
    assert "gluster.events.n.VOLUME_CREATE" in missing.detail and "nats-stream-add nats://h/g" in missing.detail
    big = b'{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}'
    rejected, _ = outcome_of_ack(_msg(big), "s", "u")
    assert rejected.kind is OutcomeKind.REJECT and "message size exceeds maximum allowed" in rejected.detail
    full = b'{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}'
    assert outcome_of_ack(_msg(full), "s", "u")[0].kind is OutcomeKind.RETRY
    for junk in (b"not json", b"[1]", b'{"seq":1}'):
        assert outcome_of_ack(_msg(junk), "s", "u")[0].kind is OutcomeKind.RETRY


# -- credential files ----------------------------------------------------------------------------

def test_seed_checks_never_quote_the_seed() -> None:
    assert natscreds.seed_problem(secrets.NKEY_SEED + "\n") == ""
    account_seed = natstest.new_keypair(0).seed.decode()
    problems = [natscreds.seed_problem(account_seed), natscreds.seed_problem("hello"),
                natscreds.seed_problem(secrets.NKEY_SEED[:-3]), natscreds.seed_problem(""),
                natscreds.seed_problem(secrets.NKEY_SEED + "\n" + secrets.NKEY_SEED)]
    assert all(problems)
    assert "not a user seed" in problems[0] and "does not decode" in problems[2]
    assert not any(secrets.NKEY_SEED[:8] in problem or account_seed[:8] in problem for problem in problems)


def test_creds_checks() -> None:
    _, creds = natstest.operator_mode(secrets.CREDS_SEED)
    assert natscreds.creds_problem(creds) == ""
    assert "BEGIN NATS USER JWT" in natscreds.creds_problem(creds.split("************")[-1])
    assert "seed block" in natscreds.creds_problem(creds.replace(secrets.CREDS_SEED, "SUAXXXX"))
    assert "not ASCII" in natscreds.text_problem("é".encode(), "creds")


def test_credential_files_are_kept_0600_synced_and_pruned(tmp_path: Path) -> None:
    _, creds = natstest.operator_mode(secrets.CREDS_SEED)
    sender, peer = tmp_path / "sender", tmp_path / "peer"
    pending = tlsfiles.PendingFiles(sender)
    seed_name = pending.add(tlsfiles.NATS_NKEY, (secrets.NKEY_SEED + "\n").encode())
    creds_name = pending.add(tlsfiles.NATS_CREDS, creds.encode())
    pending.install()
    assert re.fullmatch(r"nats/[0-9a-f]{16}\.nk", seed_name) and re.fullmatch(r"nats/[0-9a-f]{16}\.creds", creds_name)
    assert all((sender / name).stat().st_mode & 0o777 == 0o600 for name in (seed_name, creds_name))
    webhooks = {"nats://h/g": {"nats-nkey": seed_name}, "nats://k/g": {"nats-creds": creds_name}}
    sent = tlsfiles.payload(sender, webhooks)
    assert set(sent) == {seed_name, creds_name}
    for name, encoded in sent.items():
        tlsfiles.install_received(peer, name, encoded)
        assert (peer / name).read_bytes() == (sender / name).read_bytes()
        assert (peer / name).stat().st_mode & 0o777 == 0o600
    garbage = base64.b64encode(b"not a seed\n").decode()
    garbage_name = tlsfiles.managed_name(tlsfiles.NATS_NKEY, b"not a seed\n")
    with pytest.raises(CliError, match="not usable") as refused:
        tlsfiles.install_received(peer, garbage_name, garbage)
    assert "not a seed" not in str(refused.value)
    tlsfiles.prune(peer, {creds_name})
    assert not (peer / seed_name).exists() and (peer / creds_name).exists()


def test_a_sink_authenticates_one_way_only(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="one way only"):
        webhook_from_entry("nats://h/g", {"nats-token": "t", "nats-creds": "nats/0123456789abcdef.creds"})
    with pytest.raises(ConfigError, match="go together"):
        webhook_from_entry("nats://h/g", {"nats-user": "u"})
    hook = webhook_from_entry("nats://h/g", {"nats-nkey": "nats/0123456789abcdef.nk"}, tmp_path)
    assert hook.nats_nkey == str(tmp_path / "nats/0123456789abcdef.nk") and hook.describe_auth() == "nats-nkey"
    assert "nats_password" not in repr(Destination(url="nats://h/g", nats_user="u", nats_password="p"))


# -- the CLI's flags (one node, in-process) --------------------------------------------------------

@pytest.fixture
def one_node(tmp_path: Path):  # type: ignore[no-untyped-def]
    return local_cli(tmp_path / "root", shipped_defaults=False)


def _entry(one_node, url: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return json.loads((one_node.events / "webhooks.json").read_text())[url]


def test_secrets_come_from_stdin_or_a_file_and_one_method_replaces_another(one_node, tmp_path: Path) -> None:
    url = "nats://127.0.0.1:9/gluster.events"
    status, out, err = one_node("webhook-add", url, "--nats-token", "-", stdin=secrets.NATS_TOKEN + "\n")
    assert status == 0, out + err
    assert _entry(one_node, url)["nats-token"] == secrets.NATS_TOKEN
    assert "nats-stream-add" in out
    # A value on the command line is a file name, never the secret itself.
    status, _, err = one_node("webhook-mod", url, "--nats-token", "not-a-file")
    assert status == 7 and "cannot read" in err and "stdin" in err
    password = tmp_path / "nats-password"
    password.write_text(secrets.NATS_PASSWORD + "\n")
    status, out, err = one_node("webhook-mod", url, "--nats-user", "gluster", "--nats-password", str(password))
    assert status == 0, out + err
    entry = _entry(one_node, url)
    assert entry["nats-user"] == "gluster" and entry["nats-password"] == secrets.NATS_PASSWORD
    assert "nats-token" not in entry
    seed = tmp_path / "user.nk"
    seed.write_text(secrets.NKEY_SEED + "\n")
    assert one_node("webhook-mod", url, "--nats-nkey", str(seed))[0] == 0
    entry = _entry(one_node, url)
    assert "nats-user" not in entry and "nats-password" not in entry
    kept = one_node.events / str(entry["nats-nkey"])
    assert kept.read_text().strip() == secrets.NKEY_SEED and kept.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("argv, stdin, words", [
    (("--nats-user", "gluster"), "", ["nats-user and nats-password go together"]),
    (("--nats-nkey", "/nonexistent/user.nk"), "", ["--nats-nkey", "does not exist"]),
    (("--nats-token", "-", "--nats-user", "u", "--nats-password", "-"), "a\nb\n", ["one way only"]),
    (("--nats-token", "-"), "\n", ["the NATS token is empty"]),
    (("--bearer_token", "t"), "", ["not used by a NATS sink"]),
    (("--proxy", "none"), "", ["not used by a NATS sink"]),
])
def test_bad_nats_flags_exit_7_and_write_nothing(one_node, argv: tuple[str, ...], stdin: str, words: list[str]) -> None:
    status, out, err = one_node("webhook-add", "nats://h/gluster.events", *argv, stdin=stdin)
    assert status == 7, (out, err)
    assert all(word in err for word in words), err
    assert not (one_node.events / "webhooks.json").exists()


def test_nats_flags_on_a_webhook_are_refused(one_node) -> None:
    status, _, err = one_node("webhook-add", "http://h/x", "--nats-user", "u")
    assert status == 7 and "only for NATS sinks" in err


def test_a_seed_file_that_is_not_a_seed_is_refused_without_quoting_it(one_node, tmp_path: Path) -> None:
    seed = tmp_path / "wrong.nk"
    seed.write_text(secrets.NKEY_SEED[:-4] + "\n")
    status, out, err = one_node("webhook-add", "nats://h/g", "--nats-nkey", str(seed))
    assert status == 7 and "does not decode" in err
    assert secrets.NKEY_SEED[:10] not in out + err


def test_nats_stream_add_needs_a_registered_sink(one_node) -> None:
    status, _, err = one_node("nats-stream-add", "nats://h/g")
    assert status == 6 and "webhook-add nats://h/g" in err
    status, _, err = one_node("nats-stream-add", "http://h/x")
    assert status == 7 and "not a NATS sink" in err
