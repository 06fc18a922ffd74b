"""A real logrotate run against a live daemon: events keep landing in the new events.log."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO, DaemonProcess, Receiver, send_raw, wait_for

pytestmark = pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed (.ci/run installs it)")


def test_logrotate_moves_the_logs_and_the_daemon_writes_the_new_ones(
        daemon: DaemonProcess, receiver: Receiver, tmp_path: Path) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=before")
    wait_for(lambda: b"before" in daemon.event_log.read_bytes() if daemon.event_log.exists() else False,
             what="first event logged")
    shipped = (REPO / "etc/logrotate.d/glustereventsd").read_text()
    config = tmp_path / "logrotate.conf"
    config.write_text(shipped.replace("/var/log/glusterfs", str(daemon.root / "var/log/glusterfs")))
    config.chmod(0o644)
    result = subprocess.run(["logrotate", "--force", "--state", str(tmp_path / "state"), str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rotated = daemon.event_log.with_name("events.log.1")
    assert b"before" in rotated.read_bytes()
    send_raw(daemon.port, b"1468303352 2 name=after")
    wait_for(lambda: receiver.count() == 2, what="second event delivered")
    wait_for(lambda: daemon.event_log.exists() and b"after" in daemon.event_log.read_bytes(),
             what="second event in the new events.log")
    assert b"before" not in daemon.event_log.read_bytes()
    assert b"after" not in rotated.read_bytes()
    daemon.write_config({"disable-events-log": False})  # a change, so that the reload logs a line
    daemon.reload()  # the daemon's own log reopens too: the reload line lands in the new file
    assert "Configuration reloaded" in daemon.log_file.read_text()
    assert "Configuration reloaded" not in daemon.log_file.with_name("glustereventsd.log.1").read_text()
