"""Two versions of glustereventsd side by side, in one run: each workload before, then after.

The same benchmark code (this checkout's bench/daemon_bench.py) drives both daemons, one
workload at a time and alternating, so machine noise falls on both alike. Each side is a
checkout and the Python that runs it (with its dependencies):

    python -m bench.compare --before ../baseline --before-python ../baseline/.venv/bin/python \\
        --only steady,live,webhooks --quick

Prints each workload's figures for both, one line each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(tree: Path, python: str, workload: str, quick: bool, spool: str) -> list[str]:
    if os.sep in python:  # the daemon starts in ``tree``: a relative interpreter path would miss
        python = os.path.abspath(python)
    env = {**os.environ, "GEV_BENCH_TREE": str(tree), "GEV_BENCH_PYTHON": python}
    argv = [sys.executable, "-m", "bench.daemon_bench", "--only", workload, "--spool", spool]
    if quick:
        argv.append("--quick")
    result = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("#")]
    if result.returncode != 0:
        lines.append(f"FAILED ({result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="checkout of the earlier version")
    parser.add_argument("--before-python", default=sys.executable, help="interpreter for the earlier version")
    parser.add_argument("--after", type=Path, default=REPO, help="checkout of the later version (default: this)")
    parser.add_argument("--after-python", default=sys.executable, help="interpreter for the later version")
    parser.add_argument("--only", default="burst,steady,live,webhooks",
                        help="workloads (see daemon_bench --only; issue 21's: slow,degrade,shed,fast,idle)")
    parser.add_argument("--spool", default="disk")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"# before: {args.before.resolve()}  after: {args.after.resolve()}  ({os.cpu_count()} cores)")
    for workload in filter(None, args.only.split(",")):
        for label, tree, python in (("before", args.before, args.before_python),
                                    ("after ", args.after, args.after_python)):
            for line in run(tree.resolve(), python, workload, args.quick, args.spool):
                print(f"{label} {line}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
