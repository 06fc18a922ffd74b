"""The spool's group commit acknowledges deliveries by runs of row ids."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from glustereventsd.models import Destination
from glustereventsd.spool.reader import SpoolReader
from glustereventsd.models import NewEvent
from glustereventsd.spool.writer import SpoolWriter, id_runs
from glustereventsd.sinks.outlet import Outlet


def test_id_runs() -> None:
    assert id_runs([]) == []
    assert id_runs([5, 3, 4, 0, 9, 10, 12]) == [(3, 5), (9, 10), (12, 12)]
    assert id_runs([7, 7, 8]) == [(7, 8)]


def test_acks_delete_exactly_the_delivered_rows_of_interleaved_webhooks(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "spool.sqlite3")
    first, second = writer.hook_id("http://a/"), writer.hook_id("http://b/")
    appends = []
    for i in range(10):
        event = NewEvent(f"msg_{i}", writer.take_seq(), "VOLUME_CREATE", 1, 1.5, b'{"n": %d}' % i)
        appends += [(first, event), (second, event)]
    added = writer.commit(appends, [], [], []).added
    delivered = [r.id for r in added if r.hook_id == first and r.seq % 3 != 0]
    writer.commit([], delivered, [], [])
    reader = SpoolReader(writer.path)
    left_first = reader.load(first, 0, 100)
    left_second = reader.load(second, 0, 100)
    reader.close()
    assert [r.id for r in left_first] == [r.id for r in added if r.hook_id == first and r.seq % 3 == 0]
    assert len(left_second) == 10  # the other webhook's rows, interleaved with the acked ones, stay
    assert left_second[0].body == b'{"n": 0}' and isinstance(left_second[0].received, float)


def event(i: int, writer: SpoolWriter) -> NewEvent:
    return NewEvent(f"msg_{i}", writer.take_seq(), "VOLUME_CREATE", 1, 1.5, b"{}")


def test_row_ids_keep_increasing_across_rows_numbered_by_sql(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite3"
    writer = SpoolWriter(path)
    hook = writer.hook_id("http://a/")
    first = writer.commit([(hook, event(1, writer))], [], [], []).added[0].id
    # Another connection inserts (as the CLI re-queuing dead letters while the daemon starts).
    other = sqlite3.connect(path)
    with other:
        other.execute("INSERT INTO queue (hook_id, event_id, seq, name, ts, received, body) "
                      "VALUES (?, 'x', 0, 'VOLUME_CREATE', 1, 1.0, x'7b7d')", (hook,))
    other.close()
    with pytest.raises(sqlite3.IntegrityError):
        writer.commit([(hook, event(2, writer))], [], [], [])
    again = writer.commit([(hook, event(3, writer))], [], [], []).added[0].id
    assert again == first + 2
    writer.close()
    restarted = SpoolWriter(path)
    assert restarted.commit([(hook, event(4, restarted))], [], [], []).added[0].id == again + 1


def test_a_trimmed_record_given_back_counts_as_memory_only(tmp_path: Path) -> None:
    """Trimmed while the delivery loop held it, then given back (stop): only memory has it now."""
    writer = SpoolWriter(tmp_path / "spool.sqlite3")
    hook_id = writer.hook_id("http://a/")
    added = writer.commit([(hook_id, event(i, writer)) for i in range(3)], [], [], []).added
    outlet = Outlet(Destination(url="http://a/"), hook_id, True, 100, 100)
    reader = SpoolReader(writer.path)
    outlet.offer(added)
    held = outlet.take(reader)
    assert held is not None
    assert outlet.forget([added[0].id, added[1].id]) == 1  # the held one is not dropped...
    outlet.give_back([held])
    assert outlet.memory_only() == 1  # ...but if the daemon stops now, it is counted as lost
    outlet.close()
    reader.close()
