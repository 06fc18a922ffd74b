"""Turn a command's result into what the user sees: a seed-style table or the JSON envelope.

The only importer of prettytable, and the one place that decides the exit status of a
pool-wide command from its rows (all OK, some, none).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gluster_eventsapi.errors import ExitStatus
from gluster_eventsapi.results import (
    Message,
    NameValues,
    NodeAnswer,
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


def _json_key(column: str) -> str:
    return column.lower().replace(" ", "_")


def _json_row(column: str, row: NodeResult, status_value: str) -> dict[str, object]:
    data: dict[str, object] = {
        "node": row.node,
        "node_status": "UP" if row.up else "DOWN",
        _json_key(column): status_value,
        "error": "" if row.ok else row.error,
    }
    if row.warning:
        data["warning"] = row.warning
    return data


def _warnings(rows: Sequence[NodeResult]) -> list[str]:
    return [f"Note: {row.node}: {row.warning}" for row in rows if row.warning]


def render_node_table(result: NodeTable, as_json: bool) -> Rendered:
    """A SYNC / WEBHOOK / RELOAD STATUS table and its exit status."""
    status = exit_status(result.rows)
    notes = list(result.notes)
    if as_json:
        rows = [_json_row(result.column, row, "OK" if row.ok else "NOT OK") for row in result.rows]
        return Rendered(envelope(rows), "".join(f"{n}\n" for n in notes), status)
    text = node_table(result.column, result.rows, [_cell(row) for row in result.rows])
    tail = "".join(f"{line}\n" for line in _warnings(result.rows) + notes)
    return Rendered(text + "\n" + tail, "", status)


INSECURE_NOTE = "(insecure TLS: certificate not verified)"


def _webhook_line(url: str, insecure: Sequence[str]) -> str:
    return f"{url} {INSECURE_NOTE}" if url in insecure else url


def render_status(result: StatusReport, as_json: bool) -> Rendered:
    """``Webhooks:`` and the GLUSTEREVENTSD STATUS table, as in the seed."""
    status = exit_status(result.rows)
    column = "GLUSTEREVENTSD STATUS"
    if as_json:
        rows = [_json_row(column, row, row.value if row.ok else "NOT OK") for row in result.rows]
        return Rendered(envelope({"webhooks": list(result.webhooks), "data": rows,
                                  "insecure_tls": list(result.insecure_tls)}), "", status)
    head = "Webhooks:\n" + "".join(f"{_webhook_line(url, result.insecure_tls)}\n"
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
        return Rendered(envelope(dict(result.items)), "", ExitStatus.OK)
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


def render(result: Result, as_json: bool) -> Rendered:
    """Render any command result."""
    if isinstance(result, NodeTable):
        return render_node_table(result, as_json)
    if isinstance(result, StatusReport):
        return render_status(result, as_json)
    if isinstance(result, NameValues):
        return render_name_values(result, as_json)
    if isinstance(result, PeerRows):
        return render_peers(result, as_json)
    if isinstance(result, NodeAnswer):
        return Rendered(json.dumps(dict(result.answer), sort_keys=True) + "\n", "", ExitStatus.OK)
    if isinstance(result, Message):
        if as_json:
            return Rendered(envelope(result.data if result.data is not None else result.text),
                            "", ExitStatus.OK)
        return Rendered(result.text + "\n", "", ExitStatus.OK)
    raise TypeError(f"cannot render {type(result).__name__}")


def render_error(message: str, status: ExitStatus, as_json: bool) -> Rendered:
    """An error: ``gluster-eventsapi: error: ...`` on stderr, or the JSON envelope."""
    if as_json:
        return Rendered(envelope("", message), "", status)
    return Rendered("", f"gluster-eventsapi: error: {message}\n", status)
