"""Turn a command's result into what the user sees: a seed-style table or the JSON envelope.

The only importer of prettytable, and the one place that decides the exit status of a
pool-wide command from its rows (all OK, some, none).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glustereventsd.sinks.urltext import printable

from gluster_eventsapi.errors import SYNC_TEXTS, UPSTREAM_TEXTS, ExitStatus
from gluster_eventsapi.jsonform import hook_status_rows, hooks_of, node_row
from gluster_eventsapi.results import (
    DeadLetterReport,
    ConditionsReport,
    HookStatusTable,
    Message,
    NameValues,
    NodeResult,
    NodeTable,
    PeerRows,
    Result,
    StatusReport,
)


if TYPE_CHECKING:
    from prettytable import PrettyTable


def _table(columns: list[str]) -> PrettyTable:
    # Imported on first use: the hidden node-* commands run on every peer for every command
    # and never draw a table, so they should not pay for importing prettytable.
    from prettytable import PrettyTable

    return PrettyTable(columns)


@dataclass(frozen=True)
class Rendered:
    """Text for stdout and stderr, and the exit status."""

    stdout: str
    stderr: str
    status: ExitStatus


def exit_status(rows: Sequence[NodeResult]) -> ExitStatus:
    """The exit status of a pool-wide command, from its rows.

    A file that a reachable node could not write is the most specific failure (8, 9);
    then no node OK (3), some not OK (4), else 0.
    """
    if any("webhooks" in row.failed for row in rows):
        return ExitStatus.WEBHOOKS_SYNC_FAILED
    if any("config" in row.failed for row in rows):
        return ExitStatus.CONFIG_SYNC_FAILED
    ok = sum(1 for row in rows if row.ok)
    if ok == len(rows):
        return ExitStatus.OK
    return ExitStatus.NO_NODE_OK if ok == 0 else ExitStatus.SOME_NODES_NOT_OK


def envelope(output: object, error: str = "") -> str:
    """The JSON envelope every ``--json`` run prints: ``{"output": ..., "error": ...}``."""
    return json.dumps({"output": output, "error": error}) + "\n"


def _ljust_column(values: Sequence[str], header: str) -> list[str]:
    # prettytable centres headers and cells alike; padding the cells to the column width
    # left-aligns them under a centred header, as the seed shows ("| node2     |").
    width = max([len(header)] + [len(v) for v in values])
    return [v.ljust(width) for v in values]


def node_table(column: str, rows: Sequence[NodeResult], cell: list[str]) -> str:
    """``NODE | NODE STATUS | <column>`` with the two status columns right-aligned."""
    table = _table(["NODE", "NODE STATUS", column])
    table.align["NODE STATUS"] = "r"
    table.align[column] = "r"
    names = _ljust_column([row.node for row in rows], "NODE")
    for name, row, value in zip(names, rows, cell):
        table.add_row([name, "UP" if row.up else "DOWN", value])
    return table.get_string()


def _cell(row: NodeResult) -> str:
    return row.value if row.ok else f"NOT OK: {row.error}"


def _warnings(rows: Sequence[NodeResult]) -> list[str]:
    return [f"Note: {row.node}: {row.warning}" for row in rows if row.warning]


def _json_value(result: NodeTable, row: NodeResult) -> object:
    if not row.ok:
        return "NOT OK"
    if result.json_value:
        return int(row.value) if row.value.isdigit() else row.value
    return "OK"


def render_node_table(result: NodeTable, as_json: bool) -> Rendered:
    """A SYNC / WEBHOOK / RELOAD STATUS table and its exit status."""
    status = exit_status(result.rows)
    notes = list(result.notes)
    failed = _sync_failure(status, result.rows)
    if as_json:
        rows = [node_row(result.column, row, _json_value(result, row)) for row in result.rows]
        return Rendered(envelope(rows, failed), "".join(f"{n}\n" for n in notes), status)
    text = node_table(result.column, result.rows, [_cell(row) for row in result.rows])
    tail = "".join(f"{line}\n" for line in _warnings(result.rows) + notes)
    return Rendered(text + "\n" + tail, f"{failed}\n" if failed else "", status)


def _sync_failure(status: ExitStatus, rows: Sequence[NodeResult]) -> str:
    """For exit 8 or 9: upstream's words and the nodes that could not write the file ('' otherwise)."""
    prefix = SYNC_TEXTS.get(status)
    if not prefix:
        return ""
    which = "webhooks" if status is ExitStatus.WEBHOOKS_SYNC_FAILED else "config"
    return f"{prefix}: " + "; ".join(f"{row.node}: {row.error}" for row in rows if which in row.failed)


INSECURE_NOTE = "(insecure TLS: certificate not verified)"


def _webhook_line(url: str, insecure: Sequence[str], formats: Sequence[tuple[str, str]] = ()) -> str:
    """A registered URL as a table shows it: control characters escaped, never printed raw; its format if not plain."""
    text = f"{printable(url)} {INSECURE_NOTE}" if url in insecure else printable(url)
    shown = dict(formats).get(url)
    return f"{text} (format {shown})" if shown else text


def render_status(result: StatusReport, as_json: bool) -> Rendered:
    """``Webhooks:`` and the GLUSTEREVENTSD STATUS table, as in the seed."""
    status = exit_status(result.rows)
    column = "GLUSTEREVENTSD STATUS"
    if as_json:
        rows = [node_row(column, row, row.value if row.ok else "NOT OK") for row in result.rows]
        # SPEC fixes this shape ({"webhooks", "data"}); insecure TLS is noted on stderr instead.
        note = "".join(f"Note: {url} has insecure TLS: its certificate is not verified\n"
                       for url in result.webhooks if url in result.insecure_tls)
        return Rendered(envelope({"webhooks": list(result.webhooks), "data": rows}), note, status)
    head = "Webhooks:\n" + "".join(f"{_webhook_line(url, result.insecure_tls, result.formats)}\n"
                                    for url in result.webhooks or ("None",)) + "\n"
    table = node_table(column, result.rows, [_cell(row) for row in result.rows])
    return Rendered(head + table + "\n", "", status)


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def render_name_values(result: NameValues, as_json: bool) -> Rendered:
    """The ``NAME | VALUE`` table of config-get."""
    if as_json:
        keys = result.keys or tuple(name for name, _ in result.items)
        return Rendered(envelope({key: value for key, (_, value) in zip(keys, result.items)}), "",
                        ExitStatus.OK)
    table = _table(["NAME", "VALUE"])
    values = _ljust_column([_show(value) for _, value in result.items], "VALUE")
    for (name, _), value in zip(result.items, values):
        table.add_row([name, value])
    return Rendered(table.get_string() + "\n", "", ExitStatus.OK)


def render_peers(result: PeerRows, as_json: bool) -> Rendered:
    """The peer-list table."""
    if as_json:
        return Rendered(envelope({"source": result.source, "peers": list(result.peers)}), "",
                        ExitStatus.OK)
    columns = ["NODE", "CONNECTED", "SSH USER", "SSH PORT", "SSH IDENTITY"]
    keys = ["node", "connected", "ssh-user", "ssh-port", "ssh-identity"]
    table = _table(columns)
    table.align = "l"
    for peer in result.peers:
        table.add_row(["yes" if v is True else "no" if v is False else str(v)
                       for v in (peer[k] for k in keys)])
    head = f"Peers from {result.source}:\n"
    if not result.peers:
        return Rendered(head + "None\n", "", ExitStatus.OK)
    return Rendered(head + table.get_string() + "\n", "", ExitStatus.OK)


def age(secs: float | None) -> str:
    """A short age: ``45s``, ``3m12s``, ``2h05m``, ``3d04h``."""
    if secs is None:
        return "never"
    whole = int(secs)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _short(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


HOOK_COLUMNS = ["NODE", "WEBHOOK", "QUEUED", "DELIVERED", "RETRIED", "DEAD LETTERS", "OLDEST",
                "LAST ERROR", "LAST SUCCESS", "IN FLIGHT"]


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None


def render_hook_status(result: HookStatusTable, as_json: bool) -> Rendered:
    """``webhook-status``: one row per node and webhook."""
    status = exit_status(result.rows)
    if as_json:
        return Rendered(envelope(hook_status_rows(result)), "", status)
    table = _table(HOOK_COLUMNS)
    table.align = "l"
    for column in ("QUEUED", "DELIVERED", "RETRIED", "DEAD LETTERS", "OLDEST"):
        table.align[column] = "r"
    for row in result.rows:
        if not row.ok:
            table.add_row([row.node, f"NOT OK: {row.error}"] + [""] * (len(HOOK_COLUMNS) - 2))
            continue
        for hook in hooks_of(row):
            url = str(hook.get("url", ""))
            error = str(hook.get("last_error") or "")
            queued = int(str(hook.get("queued", 0)))
            held = int(str(hook.get("memory_only", 0) or 0))  # not in the spool: lost if the daemon stops
            table.add_row([
                row.node,
                f"{printable(url)} (insecure TLS)" if url in result.insecure_tls else printable(url),
                f"{queued} + {held} in memory" if held else queued, _delivered(hook), hook.get("retried", 0),
                hook.get("dead_letters", 0),
                age(_num(hook.get("oldest_age_secs"))) if queued or held else "-",
                f"{_short(error)} ({age(_num(hook.get('last_error_age_secs')))} ago)"
                if error else "-",
                _ago(_num(hook.get("last_success_age_secs"))),
                _in_flight(hook),
            ])
    tail = "".join(f"Note: {row.node}: {row.warning}\n" for row in result.rows if row.warning)
    return Rendered(table.get_string() + "\n" + tail, "", status)


def _delivered(hook: dict[str, object]) -> str:
    """The DELIVERED cell: with ``(N dup)`` when a NATS stream already held N of them (a retry stored once)."""
    delivered, duplicates = hook.get("delivered", 0), hook.get("duplicates", 0)
    return f"{delivered} ({duplicates} dup)" if duplicates else str(delivered)


def _in_flight(hook: dict[str, object]) -> str:
    """The IN FLIGHT cell: the adaptive limit and why (``12 growing``, ``3 rtt rose``); ``-`` with no daemon."""
    limit = hook.get("concurrency_limit")
    if not isinstance(limit, int):
        return "-"
    return f"{limit} {printable(str(hook.get('concurrency_reason') or ''))}".strip()


def _ago(secs: float | None) -> str:
    return "never" if secs is None else f"{age(secs)} ago"


def render_dead_letters(result: DeadLetterReport, as_json: bool) -> Rendered:
    """``webhook-redeliver --list``: each node's count and its newest dead letters."""
    status = exit_status(result.rows)
    if as_json:
        rows = []
        for row in result.rows:
            data = node_row("DEAD LETTERS", row, "OK" if row.ok else "NOT OK")
            found = row.data if isinstance(row.data, dict) else {}
            data["dead_letters"] = found.get("count", 0)
            data["newest"] = found.get("newest", [])
            rows.append(data)
        return Rendered(envelope(rows), "", status)
    table = _table(["NODE", "DEAD LETTERS", "EVENT", "SEQ", "DIED", "REASON"])
    table.align = "l"
    table.align["DEAD LETTERS"] = "r"
    table.align["SEQ"] = "r"
    total = 0
    for row in result.rows:
        if not row.ok:
            table.add_row([row.node, f"NOT OK: {row.error}", "", "", "", ""])
            continue
        found = row.data if isinstance(row.data, dict) else {}
        count = int(str(found.get("count", 0)))
        total += count
        newest = [d for d in found.get("newest", []) if isinstance(d, dict)]
        if not newest:
            table.add_row([row.node, count, "-", "", "", ""])
        for index, dead in enumerate(newest):
            table.add_row([row.node if index == 0 else "", count if index == 0 else "",
                           dead.get("event", ""), dead.get("seq", ""),
                           _ago(_num(dead.get("age_secs"))), _short(str(dead.get("reason", "")))])
    if total:
        tail = (f"{total} dead letter(s) of {result.url} (newest first, at most "
                f"{NEWEST_SHOWN} per node). Re-queue them on every node with: "
                f"gluster-eventsapi webhook-redeliver {result.url}\n")
    else:
        tail = f"No dead letters for {result.url}.\n"
    return Rendered(table.get_string() + "\n" + tail, "", status)


NEWEST_SHOWN = 5


def render_conditions(result: ConditionsReport, as_json: bool) -> Rendered:
    """``conditions``: one row per alert identity, open first (most severe, oldest first)."""
    status = exit_status(result.rows) if result.rows else ExitStatus.OK
    unreachable = "".join(f"Note: {row.node}: {row.error or 'not reached'}; its conditions are not shown\n"
                          for row in result.rows if not row.ok)
    if as_json:
        return Rendered(envelope({"conditions": list(result.conditions),
                                  "nodes": [node_row("CONDITIONS", row, row.value if row.ok else "NOT OK")
                                            for row in result.rows]}), unreachable, status)
    if not result.conditions:
        return Rendered("No Gluster condition is open on any node.\n", unreachable, status)
    table = _table(["CONDITION", "SEVERITY", "LABELS", "STATE", "SINCE", "NODES", "SUMMARY"])
    table.align = "l"
    now = time.time()
    for entry in result.conditions:
        labels = {k: v for k, v in dict(entry.get("labels") or {}).items() if k not in ("alertname", "severity")}
        if entry.get("state") == "open":
            state, since, nodes = "open", age(now - float(entry.get("since") or now)) + " ago", entry["open_on"]
        else:
            closed = float(entry.get("closed_at") or now)
            state, since, nodes = f"over {age(now - closed)} ago", f"({entry.get('close_event') or 'ended'})", \
                entry["over_on"]
        table.add_row([printable(str(entry.get("alertname", ""))), printable(str(dict(entry["labels"]).get(
            "severity", ""))), printable(", ".join(f"{k}={v}" for k, v in sorted(labels.items()))), state, since,
            printable(", ".join(nodes)), printable(_short(str(entry.get("summary", "")), 60))])
    return Rendered(table.get_string() + "\n", unreachable, status)


def render(result: Result, as_json: bool) -> Rendered:
    """Render any command result."""
    if isinstance(result, ConditionsReport):
        return render_conditions(result, as_json)
    if isinstance(result, HookStatusTable):
        return render_hook_status(result, as_json)
    if isinstance(result, DeadLetterReport):
        return render_dead_letters(result, as_json)
    if isinstance(result, NodeTable):
        return render_node_table(result, as_json)
    if isinstance(result, StatusReport):
        return render_status(result, as_json)
    if isinstance(result, NameValues):
        return render_name_values(result, as_json)
    if isinstance(result, PeerRows):
        return render_peers(result, as_json)
    if isinstance(result, Message):
        if result.quiet:
            return Rendered("", "", ExitStatus.OK)
        if as_json:
            return Rendered(envelope(result.data if result.data is not None else result.text),
                            "", ExitStatus.OK)
        return Rendered(result.text + "\n", "", ExitStatus.OK)
    raise TypeError(f"cannot render {type(result).__name__}")


def render_error(message: str, status: ExitStatus, as_json: bool) -> Rendered:
    """An error: ``gluster-eventsapi: error: ...`` on stderr, or the JSON envelope.

    A failure that Gluster's own CLI also reports starts with its words, alone at the start
    of stderr as it prints them (``UPSTREAM_TEXTS``); exit 8 and 9 always say which file.
    """
    prefix = SYNC_TEXTS.get(status)
    if prefix and not message.startswith(prefix):
        message = f"{prefix}: {message}"
    if as_json:
        return Rendered(envelope("", message), "", status)
    if message.startswith(UPSTREAM_TEXTS):
        return Rendered("", f"{message}\n", status)
    return Rendered("", f"gluster-eventsapi: error: {message}\n", status)
