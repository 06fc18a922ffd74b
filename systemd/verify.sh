#!/usr/bin/env bash
# Checks the unit with systemd-analyze and fails on any warning. ExecStart names the path
# that a root `pip install .` uses; here it is pointed at wherever this machine has it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
daemon="$(command -v glustereventsd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/glustereventsd|$daemon|g" "$here/glustereventsd.service" > "$work/glustereventsd.service"
output="$(systemd-analyze verify --man=no "$work/glustereventsd.service" 2>&1 || true)"
if [ -n "$output" ]; then
    printf 'systemd-analyze verify found problems in glustereventsd.service:\n%s\n' "$output" >&2
    exit 1
fi
echo "systemd unit OK: systemd-analyze verify --man=no printed nothing"
