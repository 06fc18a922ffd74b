"""Top entries of a py-spy profile in raw (collapsed) form, per function and per thread.

bench/daemon_bench.py writes one when GEV_BENCH_PROFILE names a file (py-spy record
--threads --format raw, the daemon as a real process). Each line of such a file is one stack,
outermost frame first, the thread first of all, then a sample count:

    thread (0x7f..);run (glustereventsd/pipeline.py:95);turn (glustereventsd/committer.py:80) 12

``self``: samples whose innermost frame is the function; ``total``: samples with the function
anywhere on the stack; both in % of all samples, with the threads they fell in.

    GEV_BENCH_PROFILE=/tmp/steady.txt python -m bench.daemon_bench --only steady --spool disk
    python -m bench.profile_summary /tmp/steady.txt --top 15
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*)(?::(?P<line>\d+))?\)$")


def frame_key(frame: str) -> str:
    """``function (module)`` of a frame, its line number dropped so that a function's lines add up."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    where = match.group("file")
    for marker in ("site-packages/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1].split("/", 1)[-1] if marker == "lib/python3" else where.split(marker, 1)[1]
    if "glustereventsd/" in where:
        where = "glustereventsd/" + where.split("glustereventsd/", 1)[1]
    return f"{match.group('function')} ({where})"


def parse(lines: list[str], names: dict[str, str]) -> list[tuple[str, list[str], int]]:
    """(thread, frames outermost first, samples) per stack line; thread ids named by ``names``."""
    stacks = []
    for line in lines:
        line = line.rstrip()
        if not line or " " not in line:
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else "?"
        frames = frames[1:] if thread != "?" else frames
        thread_id = re.search(r"0x[0-9a-fA-F]+|\d+", thread)
        label = names.get(thread_id.group(0).lower(), thread) if thread_id else thread
        stacks.append((label, frames, int(count)))
    return stacks


def summarise(stacks: list[tuple[str, list[str], int]], top: int) -> str:
    total = sum(count for _, _, count in stacks) or 1
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    threads_of: dict[str, Counter[str]] = defaultdict(Counter)
    per_thread: Counter[str] = Counter()
    for thread, frames, count in stacks:
        per_thread[thread] += count
        if frames:
            leaf = frame_key(frames[-1])
            own[leaf] += count
            threads_of[leaf][thread] += count
        for key in {frame_key(frame) for frame in frames}:
            anywhere[key] += count
    out = [f"{total} samples", "", "threads:"]
    out += [f"  {100 * n / total:5.1f}%  {thread}" for thread, n in per_thread.most_common()]
    out += ["", f"top {top} by self samples (innermost frame):"]
    for key, n in own.most_common(top):
        where = ", ".join(f"{t} {100 * c / n:.0f}%" for t, c in threads_of[key].most_common(3))
        out.append(f"  {100 * n / total:5.1f}%  {key}  [{where}]")
    out += ["", f"top {top} by total samples (anywhere on the stack):"]
    out += [f"  {100 * n / total:5.1f}%  {key}" for key, n in anywhere.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", type=Path, help="py-spy record --format raw output")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--names", type=Path, help="thread id (hex or decimal) and name per line, to label threads")
    args = parser.parse_args()
    try:
        lines = args.profile.read_text().splitlines()
    except OSError as err:
        print(f"profile_summary: cannot read {args.profile}: {err.strerror or err}", file=sys.stderr)
        return 1
    names: dict[str, str] = {}
    if args.names:
        for row in args.names.read_text().splitlines():
            key, _, name = row.partition(" ")
            names[key.lower()] = name
    print(summarise(parse(lines, names), args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
