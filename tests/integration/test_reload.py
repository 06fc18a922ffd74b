"""Reload by signal and by file replace while events flow: nothing lost; bad files keep the last good config."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from glustereventsd.runtime import runstate
from tests.helpers import DaemonProcess, Receiver, Stream, send_lines, wait_for


def test_three_signal_reloads_and_a_file_replace_during_a_stream_lose_nothing(daemon: DaemonProcess,
                                                                               make_receiver) -> None:
    main, added = make_receiver(), make_receiver()
    daemon.write_webhooks({main.url: {"concurrency": 1}})
    daemon.start()
    stream = Stream(daemon.port, 1500, rate_per_sec=500).start()
    stream.wait_sent(200)
    daemon.reload()
    stream.wait_sent(500)
    daemon.write_config({"log-level": "DEBUG"})  # a config change through inotify
    daemon.reload()
    stream.wait_sent(800)
    count = daemon.log_text().count("Configuration reloaded")
    daemon.write_webhooks({main.url: {"concurrency": 1}, added.url: {}})  # atomic replace: inotify reload
    wait_for(lambda: daemon.log_text().count("Configuration reloaded") > count, what="inotify reload")
    stream.wait_sent(1100)
    daemon.reload()
    stream.join()
    wait_for(lambda: len(main.distinct_names()) >= 1500, timeout=20, what="all 1500 at the first webhook")
    assert main.distinct_names() == stream.names()  # nothing lost, in order (concurrency 1)
    assert added.count() > 0
    assert set(added.names()) <= set(stream.names())
    # Two changes, two reloads applied; the signals that found the files already in force
    # were handled (and confirmed) without applying anything twice.
    assert daemon.log_text().count("Configuration reloaded") == 2
    status = runstate.read_status(daemon.root / "run/glustereventsd/status.json")
    # Three signals (each waits for a generation past its own) and the awaited inotify reload of
    # webhooks.json; the config change's inotify event may be absorbed by the signal that follows it.
    assert status is not None and status.reload.generation >= 4
    assert "Webhook added url=%s" % added.url in daemon.log_text()


def test_file_replace_alone_reloads_webhooks(daemon: DaemonProcess, make_receiver) -> None:
    first, second = make_receiver(), make_receiver()
    daemon.write_webhooks({first.url: {}})
    daemon.start()
    send_lines(daemon.port, [b"1 2 name=before"])
    wait_for(lambda: first.count() == 1, what="first")
    daemon.write_webhooks({second.url: {"token": "t2"}})  # no signal
    wait_for(lambda: "Webhook removed, its queue discarded url=%s" % first.url in daemon.log_text(),
             what="inotify reload")
    send_lines(daemon.port, [b"1 2 name=after"])
    wait_for(lambda: second.count() == 1, what="second")
    assert second.names() == ["after"] and second.requests[0].headers["authorization"] == "Bearer t2"
    assert first.names() == ["before"]


def test_sighup_reloads_too(daemon: DaemonProcess, make_receiver, tmp_path: Path) -> None:
    """A change the file watcher cannot see is applied by SIGHUP, and only then.

    The file is rewritten through a hard link in another folder: inotify reports changes to
    the folder an inode was opened through, so the watch on the events folder stays silent.
    """
    first, second = make_receiver(), make_receiver()
    daemon.write_webhooks({first.url: {}})
    daemon.start()
    hidden = tmp_path / "elsewhere"
    hidden.mkdir()
    os.link(daemon.events_dir / "webhooks.json", hidden / "webhooks.json")
    count = daemon.log_text().count("Configuration reloaded")
    with open(hidden / "webhooks.json", "w", encoding="utf-8") as handle:  # same inode, in place
        json.dump({second.url: {}}, handle)
    time.sleep(1.0)
    assert daemon.log_text().count("Configuration reloaded") == count  # the watcher saw nothing
    send_lines(daemon.port, [b"1 2 name=before"])
    wait_for(lambda: first.count() == 1, what="still the first webhook")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.log_text().count("Configuration reloaded") > count, what="SIGHUP reload")
    send_lines(daemon.port, [b"1 2 name=after"])
    wait_for(lambda: second.count() == 1, what="second webhook")
    assert first.names() == ["before"] and second.names() == ["after"]


def test_corrupt_webhooks_file_keeps_last_good_config(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {"token": "good"}})
    daemon.start()
    path = daemon.events_dir / "webhooks.json"
    path.write_text('{"http://127.0.0.1:1/x": {"token": ')  # half-written, in place (IN_CLOSE_WRITE)
    wait_for(lambda: "Reload failed, keeping the last good configuration" in daemon.log_text(), what="logged")
    assert f"{path}: not valid JSON" in daemon.log_text()
    daemon.signal(signal.SIGUSR2)  # and by signal too
    wait_for(lambda: daemon.log_text().count("Reload failed, keeping the last good configuration") >= 2,
             what="second refusal")
    send_lines(daemon.port, [b"1 2 name=still-here"])
    wait_for(lambda: receiver.count() == 1, what="delivered with the last good config")
    assert receiver.requests[0].headers["authorization"] == "Bearer good"
    # A wrong-typed config value is refused the same way.
    daemon.write_config({"port": "not-a-port"})
    wait_for(lambda: "invalid value 'not-a-port' for port" in daemon.log_text(), what="bad config refused")
    send_lines(daemon.port, [b"1 2 name=still-here-2"])
    wait_for(lambda: receiver.count() == 2, what="still delivering")
    assert daemon.proc is not None and daemon.proc.poll() is None
