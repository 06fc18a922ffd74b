"""What a pipeline turn costs, what an event costs, and what it would take to meet a CPU target.

The daemon commits what arrived in one SQLite transaction per turn, then hands it to the
delivery thread. Part of its CPU is paid once per turn whatever the turn carries (waking up,
the transaction, events.log, the hand-over, waking the delivery thread, and the first event's
trip through code that has gone cold), the rest once per event (parse, JSON, one POST). This runs bench/daemon_bench.py's steady workload
(2,000 events/s, disk spool) twice: with the daemon as shipped, and with a longer gathering
wait (the setting ``batch-wait-ms``, 0.7 as shipped) that makes its turns carry about twice as many
events. bench/turn_probe.py times each part of the pipeline thread's turns inside the
daemon. From the two runs' CPU per 1,000 events and events per turn it solves

    CPU per 1,000 events = 1,000 x per_event + (1,000 / events_per_turn) x per_turn

for the two unknowns (to about +-10 us per turn: the CPU figures come in 10 ms clock ticks
and are rounded to 0.001 s per 1,000), then says what a CPU target needs: how cheap a turn must become at
the shipped batch size, or how many events a turn must carry at today's turn cost, and
what the measured latency of the larger turns was.

    python -m bench.turn_cost                    # one round: shipped, then larger turns
    python -m bench.turn_cost --rounds 3         # alternating, to see the spread
    python -m bench.turn_cost --target 0.08 --secs 10 --larger 3

Not a test: it asserts nothing, it measures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import daemon_bench

RATE = 2000
# How the pipeline thread's CPU per turn is shown, from bench/turn_probe.py's parts.
ROWS = (("wait for datagrams (wake-ups, gathering)", "wait"), ("parse, enrich, number", "parse"),
        ("events.log", "events.log"), ("SQLite transaction", "sqlite"), ("hand-over to the outlets", "hand_over"),
        ("results, counters, trims", "accounting"), ("the loop itself", "loop"))


def one_run(gather_ms: float | None, secs: float) -> dict[str, Any]:
    """The steady workload with batch-wait-ms ``gather_ms`` (None: as shipped) and the pipeline's turn costs."""
    with tempfile.TemporaryDirectory(prefix="gevturns-") as folder:
        output = Path(folder) / "turns.json"
        probe_before = os.environ.get("GEV_BENCH_TURNS")
        os.environ["GEV_BENCH_TURNS"] = str(output)
        extra = None if gather_ms is None else {"batch-wait-ms": gather_ms}
        try:
            figures = daemon_bench.bench_steady("disk", RATE, secs, extra)
        finally:
            if probe_before is None:
                del os.environ["GEV_BENCH_TURNS"]
            else:
                os.environ["GEV_BENCH_TURNS"] = probe_before
        try:
            turns = json.loads(output.read_text())
        except (OSError, ValueError) as err:
            raise SystemExit(f"the daemon left no readable turn costs in {output} ({err}): did it start "
                             "and stop cleanly? Its log is in the benchmark's temp folder") from None
    if not turns.get("turns"):
        raise SystemExit("the daemon ran no turn with datagrams: nothing reached it (is the port free?)")
    return {"gather": gather_ms, "figures": figures, "turns": turns}


def parts_per_turn(turns: dict[str, Any]) -> dict[str, float]:
    """The pipeline thread's CPU over the whole run, by part, divided by the turns that carried
    datagrams, in microseconds. The run also holds the start, turns with only delivery results
    and the stop (whose last commit counts under "sqlite"): a few turns in thousands."""
    parts = {name: row["cpu_s"] for name, row in turns["parts"].items()}
    count = turns["turns"]
    shown = {
        "wait": parts.get("wait", 0.0),
        "parse": parts.get("ingest", 0.0) - parts.get("events.log", 0.0),
        "events.log": parts.get("events.log", 0.0),
        "sqlite": parts.get("sqlite", 0.0),
        "hand_over": parts.get("hand_over", 0.0),
        "accounting": parts.get("turn", 0.0) - parts.get("sqlite", 0.0) - parts.get("hand_over", 0.0),
    }
    shown["loop"] = turns["thread_cpu_s"] - parts.get("wait", 0.0) - parts.get("ingest", 0.0) - parts.get("turn", 0.0)
    return {name: value / count * 1e6 for name, value in shown.items()}


def solve(runs: list[dict[str, Any]]) -> tuple[float, float] | None:
    """(per event, per turn) in seconds of the whole daemon's CPU, from two runs of different batch sizes."""
    (cpu1, batch1), (cpu2, batch2) = ((r["figures"]["cpu_s_per_1000"] / 1000,
                                       r["turns"]["datagrams"] / r["turns"]["turns"]) for r in runs)
    inverse1, inverse2 = 1 / batch1, 1 / batch2
    if abs(inverse1 - inverse2) < 0.3 * max(inverse1, inverse2):
        return None  # the batches differ by less than 30%: noise would decide the split
    per_turn = (cpu1 - cpu2) / (inverse1 - inverse2)
    per_event = cpu1 - per_turn * inverse1
    if per_turn <= 0 or per_event <= 0:
        return None  # the larger turns cost more per event: noise, or the machine changed between runs
    return per_event, per_turn


def describe(run: dict[str, Any]) -> str:
    figures, turns = run["figures"], run["turns"]
    gather = "as shipped" if run["gather"] is None else f"batch-wait-ms {run['gather']:g}"
    threads = figures.get("cpu_s_per_1000_per_thread", {})
    return (f"{gather:>20}: {turns['datagrams'] / turns['turns']:.1f} events/turn, "
            f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, lost {figures['lost']}, "
            f"CPU {figures['cpu_s_per_1000']:.3f} s/1000 (pipeline {threads.get('gev-pipeline', 0):.3f}, "
            f"deliver {threads.get('gev-deliver', 0):.3f}, udp {threads.get('gev-udp-v4', 0):.3f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=1, help="shipped and larger turns, alternating, this many times")
    parser.add_argument("--secs", type=float, default=10.0, help="length of each run at 2,000 events/s")
    parser.add_argument("--larger", type=float, default=3.0,
                        help="batch-wait-ms of the larger turns: past the sender's 2 ms tick, about "
                             "twice the events per turn")
    parser.add_argument("--target", type=float, default=0.08, help="CPU seconds per 1,000 events to meet")
    args = parser.parse_args()
    if (args.rounds < 1 or not 1 <= args.secs <= 120 or not 0 < args.larger <= 50
            or not (math.isfinite(args.target) and args.target > 0)):
        parser.error("need --rounds >= 1, 1 <= --secs <= 120, 0 < --larger <= 50 and a --target above 0")
    print(f"# pipeline turn costs at {RATE} events/s, disk spool, on {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}")
    for round_number in range(1, args.rounds + 1):
        runs = [one_run(None, args.secs), one_run(args.larger, args.secs)]
        print(f"round {round_number}:")
        for run in runs:
            print("  " + describe(run))
        print("  pipeline thread CPU per turn, us (shipped | larger turns):")
        costs = [parts_per_turn(run["turns"]) for run in runs]
        for label, key in ROWS:
            print(f"    {label:42} {costs[0][key]:7.1f} | {costs[1][key]:7.1f}")
        print(f"    {'all':42} {sum(costs[0].values()):7.1f} | {sum(costs[1].values()):7.1f}")
        solved = solve(runs)
        if solved is None:
            print("  no split into per-turn and per-event costs: the turns' sizes differ by under 30%, or the "
                  "figures contradict each other (noise); try a larger --larger, or more --rounds")
            continue
        per_event, per_turn = solved
        batch = runs[0]["turns"]["datagrams"] / runs[0]["turns"]["turns"]
        print(f"  whole daemon: {per_turn * 1e6:.0f} us per turn (all threads) + {per_event * 1e6:.1f} us per event")
        room = args.target / 1000 - per_event
        if room <= 0:
            print(f"  {args.target} s/1000 cannot be met by larger turns: the per-event cost alone is "
                  f"{per_event * 1e6:.1f} us")
            continue
        print(f"  {args.target} s/1000 needs, at {batch:.1f} events per turn, at most {room * batch * 1e6:.0f} us "
              f"per turn (now {per_turn * 1e6:.0f}); or, at today's turn cost, {per_turn / room:.1f} events per turn "
              f"(the larger turns carried {runs[1]['turns']['datagrams'] / runs[1]['turns']['turns']:.1f}, "
              f"at p99 {runs[1]['figures']['p99_ms']} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
