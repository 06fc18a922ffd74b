"""TLS files kept by the CLI and synced to the peers: names, digests, content checks, modes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from gluster_eventsapi.files import tlsfiles
from gluster_eventsapi.files.tlsfiles import CA_BUNDLE
from gluster_eventsapi.errors import CliError
from tests.tls import make_certificates


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_certificates(tmp_path_factory.mktemp("ca"))["ca"].read_bytes()


def test_a_crlf_bundle_reaches_a_peer_byte_for_byte(tmp_path: Path, ca_pem: bytes) -> None:
    crlf = ca_pem.replace(b"\n", b"\r\n")
    sender, peer = tmp_path / "sender", tmp_path / "peer"
    pending = tlsfiles.PendingFiles(sender)
    name = pending.add(CA_BUNDLE, crlf)
    pending.install()
    sent = tlsfiles.payload(sender, {"https://h/x": {"ca-bundle": name}})
    tlsfiles.install_received(peer, name, sent[name])
    assert (peer / name).read_bytes() == crlf == (sender / name).read_bytes()


def test_a_bundle_that_does_not_match_its_name_is_refused(tmp_path: Path, ca_pem: bytes) -> None:
    name = tlsfiles.managed_name(CA_BUNDLE, ca_pem)
    changed = base64.b64encode(ca_pem + b"\n# edited by hand\n").decode()
    with pytest.raises(CliError, match="does not match its name"):
        tlsfiles.install_received(tmp_path, name, changed)
    with pytest.raises(CliError, match="not of the form"):
        tlsfiles.install_received(tmp_path, "../../etc/passwd", base64.b64encode(ca_pem).decode())
    assert not (tmp_path / "ca").exists()


def test_comments_around_the_certificates_are_fine_even_non_ascii(tmp_path: Path, ca_pem: bytes) -> None:
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes("# Főtanúsítvány (system bundle comment)\n".encode() + ca_pem)
    assert tlsfiles.read_file(CA_BUNDLE, bundle) == bundle.read_bytes()
    bundle.write_bytes(b"# no certificate here\n")
    with pytest.raises(CliError, match="no -----BEGIN CERTIFICATE----- block"):
        tlsfiles.read_file(CA_BUNDLE, bundle)


def test_prune_keeps_what_is_referenced(tmp_path: Path, ca_pem: bytes) -> None:
    pending = tlsfiles.PendingFiles(tmp_path)
    kept, dropped = pending.add(CA_BUNDLE, ca_pem), pending.add(CA_BUNDLE, ca_pem + b"\n")
    pending.install()
    (tmp_path / "ca" / "notes.txt").write_text("not ours")
    tlsfiles.prune(tmp_path, tlsfiles.referenced({"a": {"ca-bundle": kept}, "b": {"ca-bundle": kept}}))
    assert (tmp_path / kept).exists() and not (tmp_path / dropped).exists()
    assert (tmp_path / "ca" / "notes.txt").exists()
