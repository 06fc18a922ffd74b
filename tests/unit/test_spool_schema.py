"""The spool's one table description is what a spool file really holds, and what recovery reads.

``schema.TABLES`` makes the spool (``SCHEMA``, ``create``) and gives spool recovery its row
columns and shapes (``ROW_COLUMNS``, ``ROW_SHAPES``, ``ADDED_COLUMNS``). These tests hold
the description against SQLite's own account of a fresh spool (``sqlite_master``, ``PRAGMA
table_info``), against rows written by the real writer and the CLI's request, and against
the page scan that reads a damaged file without SQLite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from glustereventsd.spool import pagescan, salvage, schema
from glustereventsd.spool.admin import request_requeue
from glustereventsd.models import NewEvent
from glustereventsd.spool.records import Record
from glustereventsd.spool.writer import SpoolWriter

URL = "http://127.0.0.1:9/hook"


def table_info(db: sqlite3.Connection, table: str) -> list[tuple[str, str, bool, Any, bool]]:
    """(name, type, not null, default as SQL text, part of the primary key) of each column, by SQLite."""
    return [(name, type_, bool(notnull), default, bool(pk))
            for _, name, type_, notnull, default, pk in db.execute(f"PRAGMA table_info({table})")]


def described(table: schema.Table) -> list[tuple[str, str, bool, Any, bool]]:
    """The same, from the description."""
    default = {column.name: None if column.default is None else str(sqlite3.connect(":memory:").execute(
        "SELECT quote(?)", (column.default,)).fetchone()[0]) for column in table.columns}
    return [(c.name, c.type if table.created else "", "NOT NULL" in c.constraints, default[c.name],
             "PRIMARY KEY" in c.constraints) for c in table.columns]


def fill(path: Path) -> None:
    """A spool with a row in every table, written as the daemon and the CLI write them."""
    writer = SpoolWriter(path)
    hook = writer.hook_id(URL)
    events = [NewEvent(f"msg_{i}", writer.take_seq(), "VOLUME_CREATE", 1700000000 + i, 1700000000.5, b"{}")
              for i in range(3)]
    down = NewEvent("msg_c", writer.take_seq(), "BRICK_DISCONNECTED", 1700000000, 1700000000.5,
                    b'{"nodeid": "n1", "ts": 1700000000, "event": "BRICK_DISCONNECTED", '
                    b'"message": {"peer": "h1", "volume": "gv0", "brick": "/b1"}}')
    # Every event of a turn may change the conditions table, queued for a webhook or not.
    added = writer.commit([(hook, event) for event in events], [], [], [], [*events, down]).added
    writer.count(hook).delivered += 1
    writer.count(hook).last_error, writer.count(hook).last_error_at = "HTTP 500", 1700000001.25
    writer.commit([], [added[0].id], [(added[1], "HTTP 410")], [])
    writer.close()
    assert request_requeue(path, URL) == 1


def test_a_fresh_spool_has_exactly_the_described_tables_columns_and_indexes(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    fill(path)
    db = sqlite3.connect(path)
    try:
        objects = {(kind, name, table) for kind, name, table in
                   db.execute("SELECT type, name, tbl_name FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%'")}
        assert objects == ({("table", t.name, t.name) for t in schema.TABLES}
                           | {("index", i.name, t.name) for t in schema.TABLES for i in t.indexes})
        for table in schema.TABLES:
            assert table_info(db, table.name) == described(table), table.name
            for index in table.indexes:
                assert tuple(row[2] for row in db.execute(f"PRAGMA index_info({index.name})")) == index.columns
        # AUTOINCREMENT: SQLite keeps the highest row id of exactly those tables.
        assert {name for (name,) in db.execute("SELECT name FROM sqlite_sequence")} == {
            t.name for t in schema.TABLES if t.autoincrement} == {"hooks", "queue", "dead"}
    finally:
        db.close()


def test_salvage_reads_the_described_rows_and_they_have_their_shapes(tmp_path: Path) -> None:
    """Every table's rows read with ROW_COLUMNS fit ROW_SHAPES, and the events are Record's columns."""
    assert (salvage.TABLES, salvage.SHAPES, salvage.ADDED_COLUMNS) == (
        schema.ROW_COLUMNS, schema.ROW_SHAPES, schema.ADDED_COLUMNS)
    assert Record._fields == schema.ROW_COLUMNS["queue"] == schema.ROW_COLUMNS["dead"][:len(Record._fields)]
    path = tmp_path / "spool.sqlite3"
    fill(path)
    db = sqlite3.connect(path)
    try:
        for table, columns in schema.ROW_COLUMNS.items():
            rows = db.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall()
            assert rows, table
            for row in rows:
                assert len(row) == len(schema.ROW_SHAPES[table])
                assert all(isinstance(v, kinds) for v, kinds in zip(row, schema.ROW_SHAPES[table])), (table, row)
    finally:
        db.close()


def test_the_page_scan_tells_each_event_and_webhook_row_by_its_shape(tmp_path: Path) -> None:
    """Recovery's page scan finds the tables' rows without SQLite; each fits its own table's shape only."""
    path = tmp_path / "spool.sqlite3"
    fill(path)
    db = sqlite3.connect(path)
    try:
        stored = {table: set(db.execute(f"SELECT {', '.join(schema.ROW_COLUMNS[table])} FROM {table}"))
                  for table in ("queue", "dead", "hooks")}
    finally:
        db.close()
    found: dict[str, set[tuple[Any, ...]]] = {table: set() for table in stored}
    for rowid, values in pagescan.scan(path):
        if not values or values[0] is not None:  # not a row whose INTEGER PRIMARY KEY is the row id
            continue
        row = (rowid, *values[1:])
        fits = [table for table in stored if len(row) == len(schema.ROW_SHAPES[table])
                and all(isinstance(v, kinds) for v, kinds in zip(row, schema.ROW_SHAPES[table]))]
        assert len(fits) == 1, row
        found[fits[0]].add(row)
    assert found == stored


def test_an_older_spool_gets_the_added_columns_with_their_defaults(tmp_path: Path) -> None:
    assert schema.ADDED_COLUMNS["hooks"] == (("duplicates", 0),)  # spools made before NATS sinks lack it
    path = tmp_path / "spool.sqlite3"
    fill(path)
    db = sqlite3.connect(path)
    for table, columns in schema.ADDED_COLUMNS.items():
        for column, _ in columns:
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")  # as a spool made before it held them
    db.close()
    SpoolWriter(path).close()
    db = sqlite3.connect(path)
    try:
        for table, columns in schema.ADDED_COLUMNS.items():
            assert table_info(db, table) == described(schema.BY_NAME[table])
            for column, default in columns:
                assert db.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall() == [(default,)]
    finally:
        db.close()
