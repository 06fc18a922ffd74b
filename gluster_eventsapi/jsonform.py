"""The ``--json`` form of per-node results, as data (dicts and lists), before it becomes text.

``render`` prints these rows inside the JSON envelope. The page of ``listen --web --pool``
shows ``webhook-status``'s rows from here too, so the page carries exactly what ``--json``
prints without going through rendered text, and ``listen/`` stays clear of ``render``.
"""

from __future__ import annotations

from typing import Any

from gluster_eventsapi.results import HookStatusTable, NodeResult


def _json_key(column: str) -> str:
    return column.lower().replace(" ", "_")


def node_row(column: str, row: NodeResult, status_value: object) -> dict[str, object]:
    """One node's JSON row: ``node``, ``node_status``, the column (``sync_status``...), ``error``, ``warning``."""
    data: dict[str, object] = {
        "node": row.node,
        "node_status": "UP" if row.up else "DOWN",
        _json_key(column): status_value,
        "error": "" if row.ok else row.error,
    }
    if row.warning:
        data["warning"] = row.warning
    return data


def hooks_of(row: NodeResult) -> list[dict[str, object]]:
    """The per-webhook objects of a node's ``webhook-status`` answer (anything else dropped)."""
    data = row.data if isinstance(row.data, list) else []
    return [hook for hook in data if isinstance(hook, dict)]


def hook_status_rows(result: HookStatusTable) -> list[dict[str, Any]]:
    """The rows of ``webhook-status --json``: one per node, with its webhooks in each.

    New objects, so callers may add to them (the page of ``listen --web --pool`` does).
    """
    rows = []
    for row in result.rows:
        data = node_row("WEBHOOK STATUS", row, "OK" if row.ok else "NOT OK")
        data["webhooks"] = [{**hook, "insecure_tls": hook.get("url") in result.insecure_tls}
                            for hook in hooks_of(row)]
        rows.append(data)
    return rows
