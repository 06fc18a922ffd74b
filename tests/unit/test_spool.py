"""The spool's group commit acknowledges deliveries by runs of row ids."""

from __future__ import annotations

from pathlib import Path

from glustereventsd.spool import NewEvent, SpoolReader, SpoolWriter, id_runs


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
