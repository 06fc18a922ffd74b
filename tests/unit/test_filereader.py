"""The one file reader (issue 10): hostile bytes give a ConfigFileError naming the file, never another exception.

A hypothesis property per kind of file runs the real loader of that file (the daemon's and
the CLI's) over arbitrary bytes and over JSON-like bytes with webhook-shaped keys and
values, mutated: the answer is always the parsed content or the project's own error.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glustereventsd.config import options as config
from glustereventsd.base import filereader
from glustereventsd.config import nodeid
from glustereventsd.errors import ConfigFileError
from glustereventsd.config.lastgood import LastGood
from glustereventsd.models import Settings
from glustereventsd.base.paths import resolve_paths
from gluster_eventsapi.pool import node
from gluster_eventsapi.pool import peers
from gluster_eventsapi.files import tlsfiles
from gluster_eventsapi.errors import CliError

HOSTILE = {
    "deep nesting": ("[" * 100_000 + "]" * 100_000).encode(),
    "deep objects": ('{"a": ' * 5_000 + "1" + "}" * 5_000).encode(),
    "33 levels": ('{"http://x/": {"events": ' + "[" * 40 + "]" * 40 + "}}").encode(),
    "invalid UTF-8": b'{"http://x/": {"token": "\xff\xfe"}}',
    "duplicate keys": b'{"http://x/?token=k1": {}, "http://x/?token=k1": {"token": "t"}}',
    "NaN": b'{"http://x/": {"timeout-secs": NaN}}',
    "Infinity": b'{"http://x/": {"timeout-secs": -Infinity}}',
    "overflowing float": b'{"http://x/": {"timeout-secs": 1e999}}',
    "5000-digit integer": b'{"http://x/": {"concurrency": ' + b"9" * 5000 + b"}}",
    "unpaired surrogate": b'{"http://x/\\ud800": {}}',
    "a list": b"[1, 2]",
    "truncated": b'{"http://x/": {"tok',
}
REASONS = {
    "deep nesting": "nests more than 32 levels deep",
    "deep objects": "nests more than 32 levels deep",
    "33 levels": "nests more than 32 levels deep",
    "invalid UTF-8": f"not UTF-8 text (byte 0xff at offset {HOSTILE['invalid UTF-8'].index(0xff)})",
    "duplicate keys": "holds the key 'http://x/' twice",
    "NaN": "holds NaN",
    "Infinity": "holds -Infinity",
    "overflowing float": "holds the number 1e999, too large",
    "5000-digit integer": "holds an integer of more than",
    "unpaired surrogate": "unpaired surrogate",
    "a list": "must hold a JSON object ({...}), not a list",
    "truncated": "not valid JSON (line 1 column",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_hostile_webhooks_file_is_a_clear_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "webhooks.json"
    path.write_bytes(HOSTILE[name])
    with pytest.raises(config.ConfigFileError) as caught:
        config.load_webhooks(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert REASONS[name] in message, message
    assert "gluster-eventsapi sync" in message  # what to do
    assert "k1" not in message  # a key's query string may hold a token


def test_blank_and_bom_files_are_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.json"
    for blank in (b"", b"  \n\t", "\ufeff\n".encode()):
        path.write_bytes(blank)
        assert config.load_webhooks(path) == []
    path.write_bytes('\ufeff{"http://x/": "tok"}'.encode())  # a BOM from a Windows editor
    assert [hook.token for hook in config.load_webhooks(path)] == ["tok"]
    assert config.load_webhooks(tmp_path / "absent.json") == []


def test_a_100_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    with open(path, "wb") as handle:
        handle.write(b"{" + b" " * (100 * 2**20) + b"}")
    tracemalloc.start()
    try:
        with pytest.raises(ConfigFileError, match=r"104,857,602 bytes, over the 1 MiB this file may hold"):
            config.load_settings(tmp_path / "none.json", path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20, f"{peak} bytes allocated to refuse it: the file was read"


def test_a_file_that_grows_past_its_limit_while_read_is_refused(tmp_path: Path) -> None:
    # /proc files say size 0 and hold more: the reader must stop at the limit, not trust fstat.
    with pytest.raises(ConfigFileError, match="over the 16 bytes this file may hold"):
        filereader.read_bytes(Path("/proc/self/maps"), 16, "fix it")


def test_folders_fifos_and_unreadable_files_are_named(tmp_path: Path) -> None:
    folder = tmp_path / "webhooks.json"
    folder.mkdir()
    with pytest.raises(ConfigFileError, match="a folder, not a file"):
        config.load_webhooks(folder)
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)  # opening it must not wait for a writer
    with pytest.raises(ConfigFileError, match="not a regular file"):
        config.load_settings(tmp_path / "none.json", fifo)
    with pytest.raises(ConfigFileError, match="file not found"):
        filereader.read_json_object(tmp_path / "absent.json", missing_ok=False)


def test_each_file_kind_has_its_documented_limit() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for name, kind in filereader.LIMITS.items():
        size = f"{kind.max_bytes // 2**20} MiB" if kind.max_bytes >= 2**20 else f"{kind.max_bytes // 1024} KiB"
        assert f"| `{name}` | {size} |" in readme, f"README does not give the limit of {name}"


# -- hypothesis: any bytes, per file ---------------------------------------------------------

KEYS = st.sampled_from(["http://h.example/x", "https://[::1]:8443/p", "http://[::1", "ftp://x/", "http://u:p@h/",
                        "token", "secret", "timeout-secs", "concurrency", "events", "ca-bundle", "insecure-tls",
                        "port", "log-level", "allowed-senders", "spool", "ssh-port", "ssh-user", "node2", "-oX",
                        "UUID", "x\u0000y", ""]) | st.text(max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=20) | KEYS)
JSON_VALUES = st.recursive(SCALARS, lambda children: st.lists(children, max_size=4)
                           | st.dictionaries(KEYS, children, max_size=4), max_leaves=20)


@st.composite
def file_bytes(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or JSON objects shaped like our files, sometimes mutated or deepened."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    data = json.dumps(draw(st.dictionaries(KEYS, JSON_VALUES, max_size=5))).encode()
    mutation = draw(st.sampled_from(["none", "insert", "cut", "deepen", "duplicate", "constant"]))
    where = draw(st.integers(0, len(data)))
    if mutation == "insert":
        data = data[:where] + draw(st.binary(min_size=1, max_size=8)) + data[where:]
    elif mutation == "cut":
        data = data[:where]
    elif mutation == "deepen":
        depth = draw(st.integers(20, 3000))
        data = b'{"k": ' + b"[" * depth + b"]" * depth + b"}"
    elif mutation == "duplicate" and len(data) > 2:
        data = b'{"k": 1, ' + data[1:-1] + (b', "k": 2}' if data != b"{}" else b'"k": 2}')
    elif mutation == "constant":
        data = data[:where] + draw(st.sampled_from([b"NaN", b"Infinity", b"1e400", b"-0", b"\\ud83d"])) + data[where:]
    return data


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="i10-files-") as folder:
        yield Path(folder)


PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(data=file_bytes())
def test_webhooks_json_gives_webhooks_or_a_config_file_error(scratch: Path, data: bytes) -> None:
    path = scratch / "webhooks.json"
    path.write_bytes(data)
    try:
        hooks = config.load_webhooks(path)
    except config.ConfigFileError as err:
        assert str(err).startswith(f"{path}: ")
        return
    for hook in hooks:
        config.validate_url(hook.url)
        json.dumps({"token": hook.token, "secret": hook.secret, "events": list(hook.events)})  # JSON-able


@PROPERTY
@given(defaults=file_bytes(), overrides=file_bytes())
def test_config_and_eventsconfig_give_settings_or_a_config_file_error(scratch: Path, defaults: bytes,
                                                                      overrides: bytes) -> None:
    (scratch / "eventsconfig.json").write_bytes(defaults)
    (scratch / "config.json").write_bytes(overrides)
    try:
        got, _ = config.load_settings(scratch / "eventsconfig.json", scratch / "config.json")
    except config.ConfigFileError as err:
        assert err.path.name in ("eventsconfig.json", "config.json")
        return
    assert isinstance(got, Settings)


@PROPERTY
@given(data=file_bytes())
def test_peers_json_gives_peers_or_a_cli_error(scratch: Path, data: bytes) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(scratch / "peers-root")})
    paths.peers_file.parent.mkdir(parents=True, exist_ok=True)
    paths.peers_file.write_bytes(data)
    try:
        pool = peers.pool(paths, {"PATH": "/nonexistent"})
    except CliError as err:
        assert str(paths.peers_file) in err.message
        return
    assert all(not peer.name.startswith("-") for peer in pool)


@PROPERTY
@given(data=file_bytes() | st.binary(max_size=80).map(lambda b: b"UUID=" + b))
def test_glusterd_info_gives_a_uuid_or_none(scratch: Path, data: bytes) -> None:
    path = scratch / "glusterd.info"
    path.write_bytes(data)
    found = nodeid.read_glusterd_uuid(path)
    assert found is None or str(uuid.UUID(found)) == found


@PROPERTY
@given(data=file_bytes())
def test_node_id_file_always_gives_a_uuid(scratch: Path, data: bytes) -> None:
    root = scratch / f"node-{uuid.uuid4().hex}"
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(root)})
    paths.node_id_file.parent.mkdir(parents=True)
    paths.node_id_file.write_bytes(data)
    got = nodeid.node_id(paths)
    assert str(uuid.UUID(got)) == got
    assert nodeid.node_id(paths) == got  # kept: a bad file is replaced once, not at every call


@PROPERTY
@given(webhooks=file_bytes(), overrides=file_bytes())
def test_last_good_copies_only_files_that_parse(scratch: Path, webhooks: bytes, overrides: bytes) -> None:
    sources = (scratch / "webhooks.json", scratch / "config.json")
    sources[0].write_bytes(webhooks)
    sources[1].write_bytes(overrides)
    kept = LastGood(scratch / "last-good", sources)
    kept.remember()
    for source in sources:
        copy = kept.copy_of(source)
        if copy.exists():
            filereader.read_json_object(copy)  # never raises: only what parsed was copied


@PROPERTY
@given(data=file_bytes() | st.binary(max_size=300).map(lambda b: b"-----BEGIN CERTIFICATE-----\n" + b)
      | st.binary(max_size=300).map(lambda b: b"-----BEGIN PRIVATE KEY-----\n" + b))
def test_tls_files_give_pem_or_a_cli_error(scratch: Path, data: bytes) -> None:
    path = scratch / "bundle.pem"
    path.write_bytes(data)
    for kind in (tlsfiles.CA_BUNDLE, tlsfiles.CLIENT_CERT, tlsfiles.CLIENT_KEY):
        try:
            assert tlsfiles.read_file(kind, path) == data
        except CliError as err:
            assert str(path) in err.message and err.status == 7
    try:
        assert filereader.read_pem(path) == data
    except ConfigFileError as err:
        assert err.path == path and "PEM block" in err.reason


@PROPERTY
@given(data=file_bytes())
def test_received_sync_content_gives_an_answer(scratch: Path, data: bytes) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(scratch / "sync-root")})
    text = data.decode("utf-8", "replace")
    answer = node.handle("node-sync", {"webhooks": text, "config": text}, paths, time.time())
    assert isinstance(answer["ok"], bool)
    request = node.handle("node-status", {}, paths, 0)
    assert request["ok"] is True
    try:
        node.read_request(text)
    except CliError as err:
        assert err.message.startswith("bad request on stdin: ")
