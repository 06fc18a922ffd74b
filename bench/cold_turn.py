"""The two largest parts of a pipeline turn, warm and cold: what a turn costs once the caches are gone.

In the daemon at 2,000 events/s, bench/turn_cost.py finds the parse of a 5-event turn at about
75 us and its SQLite transaction at about 112, where the same calls in a loop take a third to
a half of that. This calls them in one thread, alone, twice: back to back (warm), and with
other work between calls that pushes the CPU's caches out (cold: 8 MB of bytes and 200,000
small Python objects touched; how much the sender, the receiver and the daemon's other
threads really touch between two turns is not known, so cold is an upper bound). Each call
is timed with the thread's own CPU clock; what the call needs is made before the clock starts.

    python -m bench.cold_turn
    python -m bench.cold_turn --events 10 --calls 500

Not a test: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from glustereventsd.base.stats import RateLimitedLog, Stats
from glustereventsd.ingest.batch import Ingest
from glustereventsd.ingest.eventlog import EventLog
from glustereventsd.models import Datagram, NewEvent, Settings
from glustereventsd.spool.records import Record
from glustereventsd.spool.writer import SpoolWriter

EVICT_BYTES = 8 << 20
EVICT_OBJECTS = 200_000
BODY = b'{"event": "VOLUME_CREATE", "message": {"name": "v1"}, "nodeid": "bench", "ts": 1700000000}'


class Evictor:
    """Touches memory the timed code does not use, to leave the caches cold."""

    def __init__(self) -> None:
        self.junk = bytearray(EVICT_BYTES)
        self.objects = [{"n": index} for index in range(EVICT_OBJECTS)]

    def __call__(self) -> None:
        junk = self.junk
        for offset in range(0, len(junk), 64):
            junk[offset] = (junk[offset] + 1) & 255
        total = 0
        for item in self.objects:
            total += item["n"]


def median_us(call: Callable[[], object], calls: int, between: Callable[[], None] | None,
              prepare: Callable[[], None] | None = None) -> float:
    """The median thread CPU of ``call`` in microseconds; ``between`` then ``prepare`` run (untimed) before each."""
    spent = []
    for _ in range(calls):
        if between is not None:
            between()
        if prepare is not None:
            prepare()
        begin = time.thread_time_ns()
        call()
        spent.append(time.thread_time_ns() - begin)
    spent.sort()
    return spent[len(spent) // 2] / 1000


Timed = tuple[Callable[[], object], Callable[[], None] | None]  # (the call, what prepares it)


def parse_call(events: int) -> Timed:
    """One turn's parse, enrich and numbering of ``events`` datagrams (events.log off: timed apart in the daemon)."""
    numbers = itertools.count(1)
    ingest = Ingest("bench", lambda: next(numbers), Stats(), EventLog(None), RateLimitedLog())
    settings = Settings(disable_events_log=True)
    batch = [Datagram(b"1700000000 2 name=v%d" % index, "127.0.0.1", time.time()) for index in range(events)]
    return (lambda: ingest.events_of(batch, settings)), None


def commit_call(folder: Path, events: int) -> Timed:
    """One turn's transaction: ``events`` appended, the previous turn's deleted, the counters updated."""
    writer = SpoolWriter(folder / "spool.db")
    writer.db.execute("INSERT INTO hooks (url) VALUES ('http://127.0.0.1:9/listen')")
    hook_id = int(writer.db.execute("SELECT hook_id FROM hooks").fetchone()[0])
    previous: list[Record] = []
    new: list[NewEvent] = []

    def prepare() -> None:
        new[:] = [NewEvent(f"msg_{writer.next_seq}_{index}", writer.take_seq(), "VOLUME_CREATE", 1700000000,
                           time.time(), BODY) for index in range(events)]
        counters = writer.count(hook_id)
        counters.delivered += len(previous)
        counters.last_success_at = time.time()

    def turn() -> None:
        nonlocal previous
        previous = writer.commit([(hook_id, event) for event in new], [r.id for r in previous], [], [], new).added

    return turn, prepare


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5, help="events per turn (the daemon's at 2,000/s: 5)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per row")
    args = parser.parse_args()
    if not 1 <= args.events <= 2000 or not 10 <= args.calls <= 100_000:
        parser.error("need 1 <= --events <= 2000 and 10 <= --calls <= 100000")
    evict = Evictor()
    print(f"# one turn of {args.events} events, median thread CPU of {args.calls} calls, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="gevcold-") as folder:
        rows = (("parse, enrich, number", parse_call(args.events)),
                ("SQLite transaction", commit_call(Path(folder), args.events)))
        for label, (call, prepare) in rows:
            warm = median_us(call, args.calls, None, prepare)
            cold = median_us(call, args.calls, evict, prepare)
            print(f"{label:24} warm {warm:6.1f} us   cold {cold:6.1f} us   ({cold / warm:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
