"""webhooks.json forms, typed settings, and the node id (glusterd.info or generated once)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from glustereventsd.config import options as config
from glustereventsd.config import nodeid
from glustereventsd.models import Destination
from glustereventsd.base.paths import resolve_paths


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_legacy_form_url_to_token(tmp_path: Path) -> None:
    path = write(tmp_path / "webhooks.json", {"http://a.example/x": "tok-1", "http://b.example/y": ""})
    assert config.load_webhooks(path) == [Destination("http://a.example/x", token="tok-1"),
                                          Destination("http://b.example/y")]


def test_current_form_with_options(tmp_path: Path) -> None:
    path = write(tmp_path / "webhooks.json", {
        "http://a.example/x": {"token": "t", "secret": "s", "timeout-secs": 2.5, "concurrency": 1,
                               "events": ["VOLUME_*"], "unknown-future-key": 1},
        "http://b.example/y": None,
    })
    hooks = config.load_webhooks(path)
    assert hooks[0] == Destination("http://a.example/x", token="t", secret="s", timeout_secs=2.5, concurrency=1,
                               events=("VOLUME_*",))
    assert hooks[1] == Destination("http://b.example/y")


@pytest.mark.parametrize("content,reason", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"ftp://x/": {}}', "must start with http"),
    ('{"http://u:p@x/": {}}', "must not embed credentials"),
    ('{"http://x/": 5}', "must be an object or a token string"),
    ('{"http://x/": {"concurrency": "many"}}', "concurrency"),
])
def test_bad_webhooks_file_names_file_and_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path / "webhooks.json", content)
    with pytest.raises(config.ConfigFileError) as caught:
        config.load_webhooks(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert reason in str(caught.value)


def test_missing_or_empty_file_means_no_webhooks(tmp_path: Path) -> None:
    assert config.load_webhooks(tmp_path / "absent.json") == []
    assert config.load_webhooks(write(tmp_path / "empty.json", "  \n")) == []


def test_settings_layering_and_aliases(tmp_path: Path) -> None:
    defaults = write(tmp_path / "eventsconfig.json", {"log-level": "INFO", "port": 24009, "disable-events-log": False})
    overrides = write(tmp_path / "config.json", {"port": "55555", "log_level": "debug", "event-numbering": "3.9",
                                                 "spool": "memory", "retry-max-backoff-secs": 0.5,
                                                 "allowed-senders": "10.0.0.0/8, 192.168.1.7"})
    settings, warnings = config.load_settings(defaults, overrides)
    assert (settings.port, settings.log_level, settings.event_numbering, settings.spool) == (55555, "DEBUG", "3.9", "memory")
    assert settings.retry_max_backoff_secs == 0.5
    assert settings.allowed_senders == ("10.0.0.0/8", "192.168.1.7/32")
    assert warnings == []


def test_bad_config_value_refused_with_file(tmp_path: Path) -> None:
    overrides = write(tmp_path / "config.json", {"port": 70000})
    with pytest.raises(config.ConfigFileError) as caught:
        config.load_settings(tmp_path / "none.json", overrides)
    assert str(caught.value) == f"{overrides}: invalid value 70000 for port: must be an integer from 1 to 65535"


def test_unknown_key_is_a_warning(tmp_path: Path) -> None:
    overrides = write(tmp_path / "config.json", {"colour": "blue"})
    _, warnings = config.load_settings(tmp_path / "none.json", overrides)
    assert warnings == [f"{overrides}: ignoring unknown config name 'colour'"]


# -- node id ---------------------------------------------------------------------------------

def test_nodeid_from_glusterd_info(tmp_path: Path) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    wanted = "d1f5b6ee-5b5a-4a8e-b1c2-9a6d1c0f0a77"
    write(paths.glusterd_info, f"UUID={wanted}\noperating-version=31000\n")
    assert nodeid.node_id(paths) == wanted
    assert not paths.node_id_file.exists()


def test_nodeid_generated_once_and_kept(tmp_path: Path) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    first = nodeid.node_id(paths)
    assert str(uuid.UUID(first)) == first
    assert paths.node_id_file.read_text().strip() == first
    assert nodeid.node_id(paths) == first


def test_nodeid_ignores_bad_glusterd_info(tmp_path: Path) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    write(paths.glusterd_info, "UUID=not-a-uuid\n")
    generated = nodeid.node_id(paths)
    assert generated == paths.node_id_file.read_text().strip()


def test_paths_rerooted(tmp_path: Path) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    assert paths.webhooks_file == tmp_path / "var/lib/glusterd/events/webhooks.json"
    assert paths.glusterd_info == tmp_path / "var/lib/glusterd/glusterd.info"
    assert paths.spool_file == tmp_path / "var/lib/glustereventsd/spool.sqlite3"
