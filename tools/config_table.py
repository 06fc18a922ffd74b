"""Write the README's table of config keys from the option table in glustereventsd/config/options.py.

    python -m tools.config_table          # rewrite the table between the README's markers
    python -m tools.config_table --check  # exit 1 if the README's table is out of date
"""

from __future__ import annotations

import argparse
import sys

from tools.manpages import REPO

README = REPO / "README.md"
START, END = "<!-- config-table:start -->", "<!-- config-table:end -->"


def table() -> str:
    """The markdown table: key, default, whether a change needs a restart, and what it does."""
    from glustereventsd.config.options import OPTIONS

    lines = ["| key | default | applies on | what it does |", "| --- | --- | --- | --- |"]
    for option in OPTIONS.values():
        default = option.default
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        if default in ("", []):
            shown = "(empty)"
        lines.append(f"| `{option.name}` | {shown} | {'restart' if option.needs_restart else 'reload'} "
                     f"| {option.help} |")
    return "\n".join(lines)


def render(readme: str) -> str:
    """``readme`` with the text between the markers replaced by the current table."""
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{table()}\n{END}{after}"


def main(argv: list[str] | None = None) -> int:
    """Write or check the README's table."""
    parser = argparse.ArgumentParser(prog="python -m tools.config_table")
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 on a difference")
    args = parser.parse_args(argv)
    current = README.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if current != wanted:
            print("README.md's config table is out of date; run: python -m tools.config_table", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
