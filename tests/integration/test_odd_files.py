"""A folder, a FIFO or a device where one of the daemon's files belongs (issue 10, hostile review).

A FIFO is the worst of them: a plain ``open`` waits for a reader or a writer that never
comes, so one FIFO put in a file's place could hold a thread for ever. Every file the
daemon or the CLI opens is refused at once when it is not a regular file, and the message
says which file and what it is.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import REPO, DaemonProcess, Receiver, send_raw, wait_for


def fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)
    return path


def stop_promptly(daemon: DaemonProcess) -> float:
    """SIGTERM, and how long the daemon took to exit (it must not be held in an open())."""
    assert daemon.proc is not None
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    daemon.proc.wait(20)
    return time.monotonic() - started


@pytest.mark.parametrize("name", ["webhooks.json", "config.json"])
def test_a_folder_in_place_of_a_config_file_is_refused_on_reload_and_at_start(
        daemon: DaemonProcess, receiver: Receiver, name: str) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.write_config({"log-level": "INFO"})
    daemon.start()
    target = daemon.events_dir / name
    target.unlink()
    target.mkdir()  # inotify sees the file go and a folder come
    wait_for(lambda: f"{target}: a folder, not a file" in daemon.log_text(), timeout=15, what="the folder refused")
    send_raw(daemon.port, b"1468303352 2 name=while-a-folder")
    wait_for(lambda: "while-a-folder" in receiver.names(), what="delivered with the running configuration")
    assert daemon.proc is not None and daemon.proc.poll() is None
    daemon.stop()
    daemon.start()  # the folder is still there: the last good copy is used
    assert "Starting with the last configuration that loaded" in daemon.log_text()
    send_raw(daemon.port, b"1468303352 2 name=after-restart")
    wait_for(lambda: "after-restart" in receiver.names(), what="delivered after the restart")
    assert "Traceback" not in daemon.stderr_text()


def test_a_fifo_as_one_webhooks_ca_bundle_fails_that_webhook_only(daemon: DaemonProcess, receiver: Receiver,
                                                                  tmp_path: Path) -> None:
    bundle = fifo(tmp_path / "ca.pem")
    daemon.write_webhooks({receiver.url: {}, "https://127.0.0.1:9/odd": {"ca-bundle": str(bundle)}})
    daemon.start()
    for i in range(5):
        send_raw(daemon.port, f"1468303352 2 name=v{i}".encode())
    wait_for(lambda: len(set(receiver.names())) == 5, what="the healthy webhook's 5 events")
    wait_for(lambda: f"cannot load the CA bundle {bundle}: a FIFO, socket or device, not a regular file"
             in daemon.log_text(), what="the FIFO named in the log")
    assert stop_promptly(daemon) < 5


def test_a_fifo_as_a_nats_credentials_file_never_holds_the_nats_loop(daemon: DaemonProcess, receiver: Receiver,
                                                                      tmp_path: Path) -> None:
    creds = fifo(tmp_path / "user.creds")
    daemon.write_webhooks({receiver.url: {}, "nats://127.0.0.1:9/gluster.events": {"nats-creds": str(creds)}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=with-a-fifo-creds")
    wait_for(lambda: "with-a-fifo-creds" in receiver.names(), what="the webhook's event")
    wait_for(lambda: "a FIFO, socket or device, not a regular file" in daemon.log_text(),
             what="the FIFO named in the log")
    assert stop_promptly(daemon) < 5


def test_fifos_in_place_of_the_logs_never_hold_the_daemon(daemon: DaemonProcess, receiver: Receiver) -> None:
    fifo(daemon.log_file)  # before the first line: a blocking open would never return
    try:
        daemon.write_webhooks({receiver.url: {}})
        daemon.start(wait=False)
        wait_for(lambda: "glustereventsd started" in daemon.stderr_text(), timeout=15,
                 what="the daemon's lines on stderr instead")
        assert f"cannot write the daemon log ({daemon.log_file}: a FIFO, socket or device" in daemon.stderr_text()
        send_raw(daemon.port, b"1468303352 2 name=first")
        wait_for(lambda: "first" in receiver.names(), what="delivered with the log a FIFO")
        fifo(daemon.event_log)  # while running: the next append must not wait for a reader
        send_raw(daemon.port, b"1468303352 2 name=second")
        wait_for(lambda: "second" in receiver.names(), what="delivered with events.log a FIFO")
        wait_for(lambda: "Cannot write the events log" in daemon.stderr_text(), what="the events log refused")
        assert stop_promptly(daemon) < 5
    finally:  # the fixture reads the log for tracebacks: a FIFO would hold that read
        for path in (daemon.log_file, daemon.event_log):
            if path.exists() and not path.is_file():
                path.unlink()


def run(root: Path, *argv: str, module: str = "gluster_eventsapi") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(root), "PATH": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=30,
                          env=env, cwd=REPO, stdin=subprocess.DEVNULL, check=False)


@pytest.mark.parametrize("odd", ["fifo", "deep nesting"])
def test_odd_pid_status_and_spool_files_never_hang_the_cli(tmp_path: Path, odd: str) -> None:
    """No daemon; its pid file, status file and spool are FIFOs (or the status file nests deep)."""
    events = tmp_path / "var/lib/glusterd/events"
    events.mkdir(parents=True)
    (events / "webhooks.json").write_text('{"http://127.0.0.1:9/x": {}}')
    (events / "peers.json").write_text("{}")
    status = tmp_path / "run/glustereventsd/status.json"
    if odd == "fifo":
        fifo(tmp_path / "var/run/glustereventsd.pid")
        fifo(status)
        fifo(tmp_path / "var/lib/glustereventsd/spool.sqlite3")
    else:
        status.parent.mkdir(parents=True)
        status.write_text("[" * 100_000)
    for argv, module in ((("webhook-status",), "gluster_eventsapi"), (("status",), "gluster_eventsapi"),
                         (("webhook-redeliver", "--list", "http://127.0.0.1:9/x"), "gluster_eventsapi"),
                         (("--reload", "--timeout", "2"), "glustereventsd")):
        done = run(tmp_path, *argv, module=module)  # a hang is the TimeoutExpired of run()
        shown = done.stdout + done.stderr
        assert "Traceback" not in shown and "recursion" not in shown, (argv, shown)
        if argv[0] == "--reload":
            assert done.returncode != 0 and "not running" in shown, shown
    if odd == "fifo":
        done = run(tmp_path, "webhook-status")
        assert "a FIFO, socket or device, not a regular file" in done.stdout + done.stderr


def test_a_folder_where_a_recovery_puts_its_result_does_not_stop_the_start(daemon: DaemonProcess,
                                                                           receiver: Receiver) -> None:
    state = daemon.root / "var/lib/glustereventsd"
    state.mkdir(parents=True)
    (state / "spool.sqlite3").write_bytes(b"garbage, not an SQLite header" * 100)
    (state / "spool.sqlite3.recovered").mkdir()
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_raw(daemon.port, b"1468303352 2 name=after-recovery")
    wait_for(lambda: "after-recovery" in receiver.names(), what="delivered from the fresh spool")
    moved = [p.name for p in state.iterdir() if p.name.startswith("spool.sqlite3.recovered.unknown-")]
    assert moved, sorted(p.name for p in state.iterdir())
    shutil.rmtree(state / moved[0])

