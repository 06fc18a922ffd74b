"""An outlet's memory is bounded by bytes as well as by records: large events cannot blow the budget."""

from __future__ import annotations

import time

from glustereventsd.models import Destination
from glustereventsd.sinks.outlet import RECORD_OVERHEAD_BYTES, Limit, Outlet
from glustereventsd.pipeline.supervisor import MemoryBudget
from glustereventsd.spool.records import Record

BIG = b"x" * 8000


def records(first: int, count: int, body: bytes = BIG, spooled: bool = True) -> list[Record]:
    return [Record(index if spooled else 0, 1, f"msg_{index}", index, "VOLUME_CREATE", 1, time.time(), body)
            for index in range(first, first + count)]


class Spool:
    def __init__(self, rows: list[Record]) -> None:
        self.rows = rows

    def load(self, hook_id: int, after_id: int, limit: int) -> list[Record]:
        return [row for row in self.rows if row.id > after_id][:limit]


def test_a_refill_stops_at_the_byte_bound_and_pages_the_rest_in_later() -> None:
    rows = records(1, 100)
    outlet = Outlet(Destination(url="http://h/"), 1, True, Limit(1000, 10 * (len(BIG) + RECORD_OVERHEAD_BYTES)), 1000)
    spool = Spool(rows)
    taken = [outlet.take(spool)]  # type: ignore[arg-type]
    assert outlet.waiting() == 9  # 10 fit the byte bound, not the 100 the record bound allows
    while (record := outlet.take(spool)) is not None:  # type: ignore[arg-type]
        taken.append(record)
    assert [r.seq for r in taken if r] == list(range(1, 101))  # all of them, in order, a window at a time


def test_records_the_spool_could_not_take_are_bounded_by_bytes_oldest_dropped() -> None:
    outlet = Outlet(Destination(url="http://h/"), 1, True, 1000, Limit(10_000, 5 * (len(BIG) + RECORD_OVERHEAD_BYTES)))
    dropped = outlet.offer(records(1, 20, spooled=False))
    assert dropped == 15 and outlet.memory_only() == 5


def test_the_budget_gives_each_webhook_bytes_as_well_as_records() -> None:
    window, memory = MemoryBudget().shares(50, 1_000_000)
    assert window.records == 400 and window.size == (16 << 20) // 50
    assert memory.records == 2000 and memory.size == (64 << 20) // 50
    window, _ = MemoryBudget().shares(1000, 1_000_000)
    assert window.size == 256 << 10  # the floor
