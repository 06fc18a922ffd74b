"""Hostile state files against the daemon and the CLI as real processes (issue 10).

Each hostile file is put in place the way an editor or a bad disk would (an atomic rename,
so inotify reloads the daemon), while events flow. The daemon must keep its running
configuration, deliver every event and stay up; at start it must use the last good copy;
every CLI command must name the file and exit non-zero, never print a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import REPO, DaemonProcess, Receiver, Stream, free_udp_port, send_raw, wait_for

MIB = 2**20
HOSTILE: dict[str, Callable[[], bytes]] = {
    "deep nesting": lambda: b"[" * 100_000 + b"]" * 100_000,
    "100 MB": lambda: b"{" + b" " * (100 * MIB) + b"}",
    "invalid UTF-8": lambda: b'{"port": "\xc3\x28"}',
    "duplicate keys": lambda: b'{"log-level": "INFO", "log-level": "DEBUG"}',
    "NaN": lambda: b'{"webhook-timeout-secs": NaN}',
}
REASONS = {
    "deep nesting": "nests more than 32 levels deep",
    "100 MB": "104,857,602 bytes, over the",
    "invalid UTF-8": "not UTF-8 text (byte 0xc3 at offset 10)",
    "duplicate keys": "holds the key 'log-level' twice",
    "NaN": "holds NaN, which is not a JSON number",
}


def put(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically (a rename: what editors and the CLI do)."""
    tmp = path.with_name(f".{path.name}.hostile")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def settled_reloads(daemon: DaemonProcess) -> int:
    """Reloads that ended well: applied, or found the files byte for byte those in force."""
    text = daemon.log_text()
    return text.count("Configuration reloaded") + text.count("Configuration unchanged")


def test_hostile_files_on_reload_keep_the_running_configuration_and_lose_nothing(daemon: DaemonProcess,
                                                                                 receiver: Receiver) -> None:
    good_webhooks = {receiver.url: {"concurrency": 1}}
    daemon.write_webhooks(good_webhooks)
    daemon.write_config({"log-level": "INFO"})
    daemon.start()
    assert daemon.proc is not None
    stream = Stream(daemon.port, 3000, rate_per_sec=200).start()
    for name, make in HOSTILE.items():
        data = make()
        for file in ("webhooks.json", "config.json"):
            failures = daemon.log_text().count("Reload failed, keeping the last good configuration")
            put(daemon.events_dir / file, data)
            wait_for(lambda: daemon.log_text().count("Reload failed, keeping the last good configuration")
                     > failures, timeout=15, what=f"{name} {file} refused")
            assert f"{daemon.events_dir / file}: {REASONS[name]}" in daemon.log_text()
            reloads = settled_reloads(daemon)
            daemon.write_webhooks(good_webhooks)  # fixed: the next reload takes it
            daemon.write_config({"log-level": "INFO"})
            wait_for(lambda: settled_reloads(daemon) > reloads, timeout=15, what="reload after the fix")
        del data
    stream.join()
    wait_for(lambda: len(receiver.distinct_names()) >= 3000, timeout=60, what="every event delivered")
    assert receiver.distinct_names() == stream.names()  # nothing lost, in order
    assert daemon.proc.poll() is None, "the daemon stopped"
    assert peak_rss_mb(daemon.proc.pid) < 100, "the 100 MB file was read into memory"
    assert "Traceback" not in daemon.stderr_text()


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_at_start_uses_the_last_good_copy(daemon: DaemonProcess, receiver: Receiver,
                                                        name: str) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    daemon.stop()
    put(daemon.events_dir / "webhooks.json", HOSTILE[name]())
    daemon.start()
    log = daemon.log_text()
    assert "Starting with the last configuration that loaded" in log
    assert f"{daemon.events_dir / 'webhooks.json'}: {REASONS[name]}" in log
    send_raw(daemon.port, b"1468303352 2 name=from-last-good")
    wait_for(lambda: receiver.count() == 1, what="delivered with the last good webhooks")


@pytest.mark.parametrize("name", ["deep nesting", "100 MB", "invalid UTF-8"])
def test_hostile_file_without_a_last_good_copy_refuses_start_in_the_log_too(daemon: DaemonProcess,
                                                                           name: str) -> None:
    daemon.events_dir.mkdir(parents=True)
    put(daemon.events_dir / "config.json", HOSTILE[name]())
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(30) == 1
    stderr = daemon.stderr_text()
    expected = f"{daemon.events_dir / 'config.json'}: {REASONS[name]}"
    assert expected in stderr and "gluster-eventsapi sync" in stderr and "Traceback" not in stderr
    assert f"ERROR [glustereventsd.daemon] Cannot start: {expected}" in daemon.log_text()


def test_every_start_up_failure_reaches_the_daemon_log(daemon: DaemonProcess) -> None:
    daemon.start()
    second = DaemonProcess(daemon.root, free_udp_port())  # same pid file
    second.start(wait=False)
    assert second.proc is not None and second.proc.wait(30) == 1
    assert "Cannot start: " in daemon.log_text() and "locked by a running glustereventsd" in daemon.log_text()
    assert "stop it first" in second.stderr_text()
    second.stop()
    daemon.stop()
    blocker = daemon.root / "var/run"
    blocker.mkdir(parents=True, exist_ok=True)
    (blocker / "glustereventsd.pid").mkdir()  # the pid file cannot be created
    daemon.start(wait=False)
    assert daemon.proc is not None and daemon.proc.wait(30) == 1
    assert "Cannot start: cannot use the pid file" in daemon.log_text() and "a folder, not a regular file" in daemon.log_text()
    assert "--pid-file" in daemon.stderr_text() and "Traceback" not in daemon.stderr_text()


# -- the CLI -----------------------------------------------------------------------------------

# (command, files it reads): each hostile file must make the command fail with its name.
CLI_READS = [
    (("status",), ("webhooks.json", "config.json", "peers.json")),
    (("config-get",), ("config.json", "eventsconfig.json")),
    (("webhook-add", "http://127.0.0.1:9/new"), ("webhooks.json", "config.json", "peers.json")),
]


def run(root: Path, *argv: str, module: str = "gluster_eventsapi") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GLUSTER_EVENTS_ROOT": str(root), "PATH": "/nonexistent"}
    return subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=60,
                          env=env, cwd=REPO, stdin=subprocess.DEVNULL, check=False)


def file_path(root: Path, name: str) -> Path:
    if name == "eventsconfig.json":
        return root / "etc/glusterfs/eventsconfig.json"
    return root / "var/lib/glusterd/events" / name


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_every_cli_command_names_a_hostile_file_and_fails(tmp_path: Path, hostile: str) -> None:
    data = HOSTILE[hostile]() if hostile != "100 MB" else b""
    for argv, files in CLI_READS:
        for name in files:
            root = tmp_path / f"{argv[0]}-{name}"
            (root / "var/lib/glusterd/events").mkdir(parents=True)
            (root / "etc/glusterfs").mkdir(parents=True)
            file_path(root, "peers.json").write_text("{}")
            put(file_path(root, name), data)
            if hostile == "100 MB":  # sparse, for ten files: its size is what the reader refuses
                with open(file_path(root, name), "wb") as handle:
                    handle.write(b"{")
                    handle.truncate(100 * MIB + 2)
            done = run(root, *argv)
            shown = done.stdout + done.stderr
            assert done.returncode != 0, (argv, name, shown)
            assert str(file_path(root, name)) in shown and "Traceback" not in shown, (argv, name, shown)
            if name != "peers.json":  # peers.json entries are checked as peers, after JSON
                assert REASONS[hostile].split(" (")[0] in shown, (argv, name, shown)


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
def test_check_config_names_a_hostile_file_and_fails(tmp_path: Path, hostile: str) -> None:
    for name in ("webhooks.json", "config.json", "eventsconfig.json"):
        root = tmp_path / name
        file_path(root, name).parent.mkdir(parents=True)
        put(file_path(root, name), HOSTILE[hostile]())
        done = run(root, "--check-config", module="glustereventsd")
        assert done.returncode == 1, done
        assert f"{file_path(root, name)}: {REASONS[hostile]}" in done.stderr and "Traceback" not in done.stderr
        assert "the daemon would not start (no last good copy yet)" in done.stderr


def test_check_config_says_whether_the_last_good_copy_would_start(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    daemon.stop()  # the last good copies are kept
    put(daemon.events_dir / "webhooks.json", HOSTILE["duplicate keys"]())
    done = run(daemon.root, "--check-config", module="glustereventsd")
    assert done.returncode == 1 and "the daemon would start with the last copies that loaded" in done.stderr
    daemon.write_webhooks({receiver.url: {}})
    eventsconfig = file_path(daemon.root, "eventsconfig.json")
    eventsconfig.parent.mkdir(parents=True, exist_ok=True)
    put(eventsconfig, b'{"port": 24009, "port": 1}')  # no copy is kept of the package's file
    done = run(daemon.root, "--check-config", module="glustereventsd")
    assert done.returncode == 1 and "the daemon would not start (no last good copy covers it)" in done.stderr
    eventsconfig.unlink()
