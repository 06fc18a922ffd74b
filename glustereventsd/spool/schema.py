"""The spool's tables, described once: the CREATE statements and recovery's row shapes come from here.

``TABLES`` lists every table and index of the spool file with its columns. From it are built:

- ``SCHEMA``, the script that makes a new spool (the same text, byte for byte, as the
  spool has always been made with: SQLite keeps that text in ``sqlite_master``);
- ``create``, which also adds the columns an older spool lacks (``added`` columns);
- for spool recovery (``salvage``): ``ROW_COLUMNS`` (what is copied from a damaged file,
  the row id first), ``ROW_SHAPES`` (the Python types each value reads as, by which a page
  scan tells the tables' rows apart) and ``ADDED_COLUMNS`` (their defaults for older rows).

A change to a table is a change of the spool format: existing spools must still open. A new
column goes last, marked ``added`` with a default, so that ``create`` adds it to old files.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

NUMBER = (int, float)  # a REAL column: SQLite hands back an integral value as an int
KINDS: dict[str, tuple[type, ...]] = {"INTEGER": (int,), "TEXT": (str,), "REAL": NUMBER, "BLOB": (bytes,)}


@dataclass(frozen=True)
class Column:
    """One column: its SQL type and constraints, the default (a Python value) and a comment."""

    name: str
    type: str  # INTEGER, TEXT, REAL or BLOB: also the Python types its values read as (KINDS)
    constraints: str = "NOT NULL"
    default: Any = None  # written as DEFAULT <literal> when not None
    note: str = ""  # an SQL comment kept in the CREATE statement
    added: bool = False  # added after spools already existed: older files lack it

    @property
    def sql(self) -> str:
        """The column's definition, as in CREATE TABLE and ALTER TABLE ... ADD COLUMN."""
        text = f"{self.name} {self.type}"
        if self.constraints:
            text += f" {self.constraints}"
        if self.default is not None:
            text += f" DEFAULT {_literal(self.default)}"
        return text


@dataclass(frozen=True)
class Index:
    """An index of a table, over ``columns``."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """One table of the spool, and its indexes."""

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()
    created: bool = True  # False for SQLite's own sqlite_sequence (made by AUTOINCREMENT)

    @property
    def row_id(self) -> str:
        """The column that is the row id (an INTEGER PRIMARY KEY), else ``rowid``."""
        for column in self.columns:
            if column.type == "INTEGER" and column.constraints.startswith("PRIMARY KEY"):
                return column.name
        return "rowid"

    @property
    def autoincrement(self) -> bool:
        """True when row ids are never reused (SQLite keeps the highest in sqlite_sequence)."""
        return any("AUTOINCREMENT" in column.constraints for column in self.columns)

    def statements(self) -> list[str]:
        """CREATE TABLE and CREATE INDEX, IF NOT EXISTS (a short table on one line)."""
        if len(self.columns) <= 2:
            body = f" ({', '.join(column.sql for column in self.columns)})"
        else:
            lines = []
            for number, column in enumerate(self.columns, 1):
                line = f"    {column.sql}{',' if number < len(self.columns) else ''}"
                lines.append(f"{line}  -- {column.note}" if column.note else line)
            body = " (\n" + "\n".join(lines) + "\n)"
        return [f"CREATE TABLE IF NOT EXISTS {self.name}{body};"] + [
            f"CREATE INDEX IF NOT EXISTS {index.name} ON {self.name} ({', '.join(index.columns)});"
            for index in self.indexes]


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)


def _counter(name: str, type: str = "INTEGER", note: str = "", added: bool = False) -> Column:
    return Column(name, type, default="" if type == "TEXT" else 0, note=note, added=added)


def _event(*extra: Column) -> tuple[Column, ...]:
    """The columns of a queued event (``records.Record``'s fields), then ``extra``."""
    return (Column("id", "INTEGER", "PRIMARY KEY AUTOINCREMENT"), Column("hook_id", "INTEGER"),
            Column("event_id", "TEXT"), Column("seq", "INTEGER"), Column("name", "TEXT"), Column("ts", "INTEGER"),
            Column("received", "REAL"), Column("body", "BLOB"), *extra)


META = Table("meta", (Column("key", "TEXT", "PRIMARY KEY"), Column("value", "INTEGER")))
HOOKS = Table("hooks", (
    Column("hook_id", "INTEGER", "PRIMARY KEY AUTOINCREMENT",
           note="never reused: late results of a removed webhook"),
    Column("url", "TEXT", "NOT NULL UNIQUE"),
    _counter("delivered"), _counter("retried"), _counter("dropped"), _counter("dead"),
    _counter("last_error", "TEXT"), _counter("last_error_at", "REAL"), _counter("last_success_at", "REAL"),
    _counter("duplicates", note="deliveries the receiver already had (NATS PubAck duplicate)", added=True),
))
QUEUE = Table("queue", _event(), (Index("queue_by_hook", ("hook_id", "id")),))
DEAD = Table("dead", _event(Column("reason", "TEXT"), Column("died", "REAL")), (Index("dead_by_hook", ("hook_id", "id")),))
REQUEUE_REQUESTS = Table("requeue_requests", (Column("url", "TEXT", "PRIMARY KEY"), Column("at", "REAL")))
# Gluster conditions (eventtypes.conditions) open or recently over on this node, one row per alert
# identity; written with the events that change them (``spool.conditions``), read by the Alertmanager
# sink to post them again after a restart, and by the gauge and the CLI.
CONDITIONS = Table("conditions", (
    Column("key", "TEXT", "PRIMARY KEY", note="the alert's identity: condition_key(labels)"),
    Column("alertname", "TEXT"),
    Column("kind", "TEXT", note="condition or alarm"),
    Column("labels", "TEXT", note="JSON object, alertname and severity included"),
    Column("annotations", "TEXT", note="JSON object: summary, description"),
    Column("opened_at", "REAL", note="event time of the report that opened it"),
    Column("last_open_at", "REAL", note="event time of the latest opening report"),
    Column("closed_at", "REAL", default=0.0, note="event time of the closing report; 0: open"),
    Column("ends_at", "REAL", default=0.0, note="an alarm's end, a condition's expiry; 0: none"),
    Column("open_event", "TEXT"),
    Column("close_event", "TEXT", default=""),
    Column("nodeid", "TEXT", note="the node that reported it"),
    Column("open_id", "TEXT", default="", note="event id of the report that opened it (its webhook-id)"),
))
SQLITE_SEQUENCE = Table("sqlite_sequence", (Column("name", "TEXT", ""), Column("seq", "INTEGER", "")), created=False)

TABLES: tuple[Table, ...] = (META, HOOKS, QUEUE, DEAD, REQUEUE_REQUESTS, CONDITIONS, SQLITE_SEQUENCE)
BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}

SCHEMA = "\n" + "\n".join(statement for table in TABLES if table.created for statement in table.statements()) + "\n"



def _row(table: Table) -> tuple[Column, ...]:
    """The columns of ``table`` as recovery reads them: the row id first (``rowid`` unless a column is it)."""
    if table.row_id == "rowid":
        return (Column("rowid", "INTEGER"), *table.columns)
    return (*(c for c in table.columns if c.name == table.row_id), *(c for c in table.columns if c.name != table.row_id))


ROW_COLUMNS: dict[str, tuple[str, ...]] = {table.name: tuple(c.name for c in _row(table)) for table in TABLES}
ROW_SHAPES: dict[str, tuple[tuple[type, ...], ...]] = {table.name: tuple(KINDS[c.type] for c in _row(table))
                                                       for table in TABLES}
ADDED_COLUMNS: dict[str, tuple[tuple[str, Any], ...]] = {
    table.name: tuple((c.name, c.default) for c in table.columns if c.added)
    for table in TABLES if any(c.added for c in table.columns)}


def has_column(db: sqlite3.Connection, table: str, column: str) -> bool:
    """True when the spool open as ``db`` has ``column`` in ``table`` (an older one may lack it)."""
    return any(row[1] == column for row in db.execute(f"PRAGMA table_info({table})"))


def create(db: sqlite3.Connection) -> None:
    """Make the spool's tables where missing, and add the columns an older spool lacks."""
    db.executescript(SCHEMA)
    for table in TABLES:
        for column in table.columns:
            if column.added and not has_column(db, table.name, column.name):
                db.execute(f"ALTER TABLE {table.name} ADD COLUMN {column.sql}")
