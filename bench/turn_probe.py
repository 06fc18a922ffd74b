"""Runs inside the daemon under test (bench/daemon_bench.py execs it when GEV_BENCH_TURNS names a file).

It times the pipeline thread's own CPU (``time.thread_time``: user + system of that thread
alone, so a wait costs only what waking up costs) in each part of a turn, counts the turns
that carried datagrams and the datagrams they carried, and writes it all as JSON to the file
when the pipeline ends (the daemon's stop). What it adds is about 0.7 us per timed call (two
clock reads, each a system call, and the wrapper), some 5 us a turn: an outer part carries the
wrappers of the parts inside it, and the thread's total carries them all.

Not a part of the daemon: nothing in glustereventsd imports it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import glustereventsd.ingest.batch as ingest_batch
import glustereventsd.ingest.eventlog as eventlog
import glustereventsd.pipeline.commit as commit
import glustereventsd.pipeline.thread as pipeline_thread
import glustereventsd.spool.writer as writer

OUTPUT = os.environ.get("GEV_BENCH_TURNS", "")
# part -> [CPU seconds, calls]; written by the pipeline thread only (every wrapped call runs there)
spent: dict[str, list[float]] = {}
batches = {"turns": 0, "datagrams": 0}


def timed(cls: type, method: str, part: str, after: Callable[[Any], None] | None = None) -> None:
    """Count the CPU of ``cls.method`` under ``part``; ``after`` sees each call's result."""
    original = getattr(cls, method)
    row = spent.setdefault(part, [0.0, 0])

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        begin = time.thread_time()
        try:
            result = original(*args, **kwargs)
        finally:
            row[0] += time.thread_time() - begin
            row[1] += 1
        if after is not None:
            after(result)
        return result

    setattr(cls, method, wrapper)


def count_batch(batch: list[object]) -> None:
    if batch:
        batches["turns"] += 1
        batches["datagrams"] += len(batch)


def install() -> None:
    """Wrap the pipeline's parts; fail at the daemon's start, not its stop, when OUTPUT cannot be written."""
    with open(OUTPUT, "w", encoding="utf-8"):
        pass
    timed(pipeline_thread.Pipeline, "_next_batch", "wait", count_batch)
    timed(ingest_batch.Ingest, "events_of", "ingest")
    timed(eventlog.EventLog, "write", "events.log")
    timed(commit.Committer, "turn", "turn")
    timed(writer.SpoolWriter, "commit", "sqlite")
    timed(commit.Committer, "_hand_over", "hand_over")
    run = pipeline_thread.Pipeline.run

    def recorded_run(self: pipeline_thread.Pipeline) -> None:
        begin = time.thread_time()
        try:
            run(self)
        finally:
            document = {"thread_cpu_s": time.thread_time() - begin, **batches,
                        "parts": {part: {"cpu_s": cpu, "calls": calls} for part, (cpu, calls) in spent.items()}}
            try:
                with open(OUTPUT, "w", encoding="utf-8") as out:
                    json.dump(document, out)
            except OSError as err:  # the daemon still stops as it would; the bench then says no costs came
                print(f"turn_probe: cannot write {OUTPUT}: {err}", file=sys.stderr)

    pipeline_thread.Pipeline.run = recorded_run  # type: ignore[method-assign]


if OUTPUT:
    install()
