"""The status file's schema and digest, the reload verdict, and the watcher's two backends."""

from __future__ import annotations

import json
import os
import queue
import time
from pathlib import Path

import pytest

from glustereventsd.runtime import reloader
from glustereventsd.runtime import runstate
from glustereventsd.base.paths import resolve_paths
from glustereventsd.runtime.watch import FileWatcher, put_reload


def test_status_round_trips_and_keeps_sections_it_does_not_know(tmp_path: Path) -> None:
    state = runstate.RunState(123, 1000.5, sections={"webhooks": [{"url": "x", "queued": 3}]})
    state.record_reload(runstate.APPLIED, "sha256:aa")
    state.record_reload(runstate.UNCHANGED, "sha256:aa")
    state.record_reload(runstate.FAILED, "sha256:bb", "bad file")
    path = tmp_path / "run/glustereventsd/status.json"
    runstate.write_status(path, state)
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    data = json.loads(path.read_text())
    assert data["schema"] == 1 and data["webhooks"] == [{"url": "x", "queued": 3}]
    back = runstate.read_status(path)
    assert back is not None
    assert (back.pid, back.config.digest, back.config.generation) == (123, "sha256:aa", 1)
    assert (back.reload.generation, back.reload.outcome, back.reload.error) == (3, "failed", "bad file")
    assert back.sections == {"webhooks": [{"url": "x", "queued": 3}]}
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temporary file left


@pytest.mark.parametrize("text", ["", "{", "[]", '{"schema": 2, "pid": 1, "started_at": 1}',
                                  '{"schema": 1, "pid": "1", "started_at": 1}', '{"schema": 1, "pid": true}'])
def test_a_file_that_is_not_a_status_of_this_schema_reads_as_none(text: str) -> None:
    assert runstate.parse_status(text) is None


def test_wrongly_typed_fields_fall_back_to_their_defaults() -> None:
    state = runstate.parse_status('{"schema": 1, "pid": 7, "started_at": 1, "config": {"digest": 5, '
                                  '"generation": "x"}, "reload": "nope", "watch": {"watching": 1}}')
    assert state is not None
    assert (state.config.digest, state.config.generation) == ("", 0)
    assert state.reload == runstate.ReloadState() and state.watch.watching is False


def test_the_digest_covers_each_file_and_the_ca_bundles_named(tmp_path: Path) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    seen = {runstate.config_digest(paths)}
    paths.events_dir.mkdir(parents=True)
    paths.webhooks_file.write_text("")  # empty is not missing
    seen.add(runstate.config_digest(paths))
    bundle = tmp_path / "ca.pem"
    bundle.write_text("one")
    paths.webhooks_file.write_text(json.dumps({"https://h/x": {"ca-bundle": str(bundle)}}))
    seen.add(runstate.config_digest(paths))
    bundle.write_text("two")  # the same webhooks.json, another CA bundle content
    seen.add(runstate.config_digest(paths))
    paths.config_file.write_text("{}")
    seen.add(runstate.config_digest(paths))
    paths.defaults_file.parent.mkdir(parents=True)
    paths.defaults_file.write_text("{}")
    seen.add(runstate.config_digest(paths))
    assert len(seen) == 6
    assert runstate.config_digest(paths) == runstate.config_digest(paths)


def _status(pid: int, generation: int, in_force: str, outcome: str = runstate.APPLIED,
            tried: str = "", error: str = "") -> runstate.RunState:
    state = runstate.RunState(pid, 1.0)
    state.config = runstate.ConfigState(in_force, generation)
    state.reload = runstate.ReloadState(generation, outcome, tried or in_force, error)
    return state


def test_the_verdict_needs_a_request_handled_after_the_signal_and_the_disk_in_force() -> None:
    verdict = reloader._verdict  # noqa: SLF001 - the decision, without processes
    assert verdict(None, 5, 1, "d") is None
    assert verdict(_status(6, 2, "d"), 5, 1, "d") is None  # another daemon's status
    assert verdict(_status(5, 1, "d"), 5, 1, "d") is None  # our request not handled yet
    assert verdict(_status(5, 2, "d"), 5, 1, "d").applied  # type: ignore[union-attr]
    assert verdict(_status(5, 2, "old"), 5, 1, "new") is None  # handled, but the files changed since
    assert verdict(_status(5, 2, ""), 5, 1, "") is None  # nothing known to be in force
    refused = verdict(_status(5, 2, "old", runstate.FAILED, "new", "bad port"), 5, 1, "new")
    assert refused is not None and refused.state == reloader.REFUSED and "bad port" in refused.detail
    # Refused files that are no longer on disk say nothing about the ones that are.
    assert verdict(_status(5, 2, "old", runstate.FAILED, "newer", "bad"), 5, 1, "new") is None


def test_request_reload_reports_a_daemon_that_is_not_running(tmp_path: Path) -> None:
    outcome = reloader.request_reload(resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)}), 1)
    assert outcome.state == reloader.NOT_RUNNING and not outcome.applied


def test_request_reload_does_not_signal_a_daemon_that_has_no_status_yet(tmp_path: Path) -> None:
    paths = resolve_paths({"GLUSTER_EVENTS_ROOT": str(tmp_path)})
    clock = iter([0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    # Our own pid stands for a daemon still starting: a SIGUSR2 would kill it (default action).
    outcome = reloader.request_reload(paths, 2, pid=os.getpid(), clock=lambda: next(clock), sleep=lambda s: None)
    assert outcome.state == reloader.NOT_CONFIRMED and "it was not signalled" in outcome.detail


def test_poll_watch_reports_edits_replaces_and_removals(tmp_path: Path) -> None:
    changes: list[str] = []
    watcher = FileWatcher(tmp_path, ["webhooks.json", "config.json"], changes.append, "poll", poll_secs=1)
    watcher.start(0.0)
    assert watcher.status().backend == "poll" and watcher.status().watching
    (tmp_path / "webhooks.json").write_text("{}")
    watcher.tick(0.5)
    assert changes == []  # not due yet
    watcher.tick(1.0)
    assert changes == ["webhooks.json"]
    (tmp_path / "other.json").write_text("{}")  # not watched
    watcher.tick(2.0)
    assert changes == ["webhooks.json"]
    os.replace(tmp_path / "other.json", tmp_path / "config.json")
    (tmp_path / "webhooks.json").unlink()
    watcher.tick(3.0)
    assert sorted(changes[1:]) == ["config.json", "webhooks.json"]


def test_inotify_watch_of_a_missing_folder_is_retried_and_then_reports(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    control: queue.Queue[str] = queue.Queue(maxsize=4)
    watcher = FileWatcher(folder, ["webhooks.json"], put_reload(control), "inotify", retry_secs=5)
    try:
        watcher.start(0.0)
        status = watcher.status()
        assert (status.backend, status.watching, status.problem) == ("inotify", False, "the folder does not exist")
        folder.mkdir()
        watcher.tick(4.0)
        assert not watcher.status().watching  # not due yet
        watcher.tick(5.0)
        assert watcher.status().watching
        assert control.get(timeout=1) == "reload"  # what was written meanwhile is read
        (folder / "webhooks.json").write_text("{}")
        assert control.get(timeout=5) == "reload"  # from pyinotify's thread
        (folder / "webhooks.json").unlink()
        folder.rmdir()
        deadline = time.monotonic() + 5
        while watcher.status().watching and time.monotonic() < deadline:
            watcher.tick(10.0)
            time.sleep(0.01)
        assert watcher.status().problem in ("the folder was removed or moved", "the folder does not exist")
    finally:
        watcher.stop()
