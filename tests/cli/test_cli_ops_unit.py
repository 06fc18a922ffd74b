"""Local (one-node, no SSH) tests of config-get defaults, webhook settings flags and helpers."""

from __future__ import annotations

import io
import json

import pytest

from glustereventsd.config import OPTIONS
from gluster_eventsapi.__main__ import main
from gluster_eventsapi.commands import SHIPPED_DEFAULTS
from gluster_eventsapi.context import Context
from tests.cli.sshpool import REPO


@pytest.fixture
def one_node(tmp_path):
    """A one-node pool under tmp_path WITHOUT a shipped defaults file; run in-process."""
    root = tmp_path / "root"
    (root / "var/lib/glusterd/events").mkdir(parents=True)
    (root / "var/lib/glusterd/events/peers.json").write_text("{}")

    def run(*argv, stdin=""):
        out, err = io.StringIO(), io.StringIO()
        ctx = Context(environ={"GLUSTER_EVENTS_ROOT": str(root), "PATH": "/nonexistent"},
                      stdin=io.StringIO(stdin), stdout=out, stderr=err)
        return main(list(argv), ctx), out.getvalue(), err.getvalue()

    run.root = root  # type: ignore[attr-defined]
    run.events = root / "var/lib/glusterd/events"  # type: ignore[attr-defined]
    return run


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
    status, out, _ = one_node("config-get", "--json")
    assert json.loads(out)["output"] == {"log_level": "INFO", "port": 24009,
                                         "disable_events_log": False}
    (one_node.events / "config.json").write_text('{"spool-max-events": 500}')
    status, out, _ = one_node("config-get", "--json")
    assert json.loads(out)["output"]["spool_max_events"] == 500


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_config_get_name_works_for_every_key(one_node, name):
    status, out, err = one_node("config-get", "--name", name, "--json")
    assert status == 0, err
    value = OPTIONS[name].default
    assert json.loads(out)["output"] == {OPTIONS[name].field: value}
