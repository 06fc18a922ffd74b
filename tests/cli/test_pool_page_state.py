"""The pool state of ``listen --web --pool``: ``webhook-status --json``'s rows, taken as data.

The page used to get them by rendering ``webhook-status`` to JSON text and parsing it back;
now the watcher is handed ``pool.hookstatus.webhook_status`` and builds the rows itself. The
oracle here is the CLI's own ``webhook-status --json`` output, run as a user runs it, on a
one-node pool plus a peer whose SSH port refuses (a real ssh client, a DOWN row).
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from typing import Any

from glustereventsd.base.paths import resolve_paths
from glustereventsd.config.nodeid import node_id
from glustereventsd.config.options import display_url
from gluster_eventsapi.context import Context
from gluster_eventsapi.listen import poolwatch
from gluster_eventsapi.pool.hookstatus import webhook_status
from gluster_eventsapi.results import HookStatusTable
from tests.cli.conftest import local_cli

URL = "https://receiver.example/hook?token=query-secret#frag"  # a query often holds a token
PLAIN = "http://127.0.0.1:9/plain"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def context(root: Path) -> Context:
    return Context(environ={"GLUSTER_EVENTS_ROOT": str(root), "PATH": "/nonexistent"},
                   stdin=io.StringIO(), stdout=io.StringIO(), stderr=io.StringIO())


def old_page_state(cli_rows: list[dict[str, Any]], nodeids: list[str]) -> dict[str, Any]:
    """What the watcher built before: the parsed --json rows, node ids, URLs shown safely, health."""
    for row, nodeid in zip(cli_rows, nodeids):
        row["nodeid"] = nodeid
        for hook in row["webhooks"]:
            hook["url"] = display_url(hook["url"])
    return {"ok": True, "error": "", "nodes": cli_rows, **poolwatch.annotate(cli_rows)}


def test_the_page_gets_exactly_the_json_rows_of_webhook_status(tmp_path: Path) -> None:
    run = local_cli(tmp_path / "root", shipped_defaults=True)
    assert run("webhook-add", URL, "--insecure-tls")[0] == 0
    assert run("webhook-add", PLAIN)[0] == 0
    (run.events / "peers.json").write_text(json.dumps({"127.0.0.1": {"ssh-port": closed_port()}}))

    status, out, err = run("webhook-status", "--json")
    assert status == 4, out + err  # one node OK, one DOWN
    cli_rows = json.loads(out)["output"]
    assert [row["node_status"] for row in cli_rows] == ["UP", "DOWN"]
    assert {hook["url"]: hook["insecure_tls"] for hook in cli_rows[0]["webhooks"]} == {URL: True, PLAIN: False}

    ctx = context(run.root)
    result = webhook_status(ctx)
    assert isinstance(result, HookStatusTable)
    state = poolwatch.page_state(lambda: result)
    expected = old_page_state(cli_rows, [node_id(resolve_paths(ctx.environ)), ""])
    assert json.dumps(state) == json.dumps(expected)  # same keys, same order, same values
    assert state["health"] == "unreachable" and state["failing_nodes"] == ["127.0.0.1"]

    page = json.dumps(state)
    assert "query-secret" not in page and "#frag" not in page and "receiver.example/hook" in page
    # The rows were built afresh: the result itself still holds the registered URL, and a
    # second page built from it is the same.
    assert URL in [hook["url"] for hook in result.rows[0].data]  # type: ignore[union-attr]
    assert json.dumps(poolwatch.page_state(lambda: result)) == page


def test_no_webhooks_and_an_unreadable_file_reach_the_page_as_the_cli_says_them(tmp_path: Path) -> None:
    run = local_cli(tmp_path / "root", shipped_defaults=True)
    ctx = context(run.root)
    status, out, _ = run("webhook-status")
    assert status == 0
    state = poolwatch.page_fetch(lambda: webhook_status(ctx))()
    assert state == {"ok": True, "error": "", "message": out.strip(), "nodes": [], "health": "ok",
                     "failing_nodes": []}

    (run.events / "webhooks.json").write_text("{not json")
    status, out, _ = run("webhook-status", "--json")
    assert status == 1
    error = json.loads(out)["error"]
    assert "webhooks.json" in error
    state = poolwatch.page_state(lambda: webhook_status(ctx))
    assert state == {"ok": False, "error": error, "nodes": [], "health": "unreachable",
                     "failing_nodes": []}
