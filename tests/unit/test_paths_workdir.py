"""Where the glusterd working directory is: ``gluster system:: getwd``, then glusterd.vol, then the default.

The real command against a real glusterd (with a non-default workdir) is exercised in
tests/gluster/test_single_node.py; here stand-in ``gluster`` scripts check the fallbacks
that a live glusterd cannot be made to produce on demand (a hang, garbage output).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from glustereventsd.base import paths


@pytest.fixture(autouse=True)
def _fresh_cache():
    paths.glusterd_workdir.cache_clear()
    yield
    paths.glusterd_workdir.cache_clear()


def _stand_in(tmp_path: Path, body: str) -> str:
    script = tmp_path / "bin" / "gluster"
    script.parent.mkdir(exist_ok=True)
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def volfile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "glusterd.vol"
    path.write_text("volume management\n    type mgmt/glusterd\n"
                    "    option working-directory /srv/glusterd-from-volfile\n"
                    "    option transport-type socket\nend-volume\n")
    monkeypatch.setattr(paths, "GLUSTERD_VOLFILE", str(path))
    return path


def test_getwd_answer_is_the_workdir(tmp_path: Path, volfile: Path) -> None:
    gluster = _stand_in(tmp_path, 'test "$*" = "--mode=script system:: getwd" && echo /srv/gd && exit 0; exit 9')
    assert paths.glusterd_workdir(gluster) == "/srv/gd"
    found = paths.resolve_paths({"PATH": str(Path(gluster).parent)})
    assert found.webhooks_file == Path("/srv/gd/events/webhooks.json")
    assert found.glusterd_info == Path("/srv/gd/glusterd.info")


def test_answer_is_cached_per_process(tmp_path: Path, volfile: Path) -> None:
    counter = tmp_path / "calls"
    gluster = _stand_in(tmp_path, f'echo x >> {counter}; echo /srv/gd')
    for _ in range(3):
        paths.resolve_paths({"PATH": str(Path(gluster).parent)})
    assert counter.read_text().count("x") == 1


@pytest.mark.parametrize("body", ["echo 'Connection failed. Please check if gluster daemon is operational.'; exit 1",
                                  "echo relative/dir", "printf '/a\\n/b\\n'", "exit 0"])
def test_glusterd_not_answering_falls_back_to_the_volfile(tmp_path: Path, volfile: Path, body: str) -> None:
    assert paths.glusterd_workdir(_stand_in(tmp_path, body)) == "/srv/glusterd-from-volfile"


def test_a_hung_gluster_is_bounded(tmp_path: Path, volfile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "GETWD_TIMEOUT_SECS", 0.5)
    begin = time.monotonic()
    assert paths.glusterd_workdir(_stand_in(tmp_path, "exec sleep 30")) == "/srv/glusterd-from-volfile"
    assert time.monotonic() - begin < 5


def test_no_volfile_or_no_option_means_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(paths, "GLUSTERD_VOLFILE", str(tmp_path / "missing.vol"))
    assert paths.configured_workdir() == "/var/lib/glusterd"
    (tmp_path / "other.vol").write_text("volume management\n    option transport-type socket\nend-volume\n")
    assert paths.configured_workdir(str(tmp_path / "other.vol")) == "/var/lib/glusterd"


def test_no_gluster_command_means_the_default_without_running_anything(tmp_path: Path) -> None:
    assert paths.glusterd_workdir(None) == "/var/lib/glusterd"
    assert paths.resolve_paths({"PATH": str(tmp_path)}).glusterd_workdir == Path("/var/lib/glusterd")


def test_gluster_events_root_never_asks_glusterd(tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    gluster = _stand_in(tmp_path, f"echo x >> {counter}; echo /srv/gd")
    found = paths.resolve_paths({"PATH": str(Path(gluster).parent), "GLUSTER_EVENTS_ROOT": str(tmp_path / "r")})
    assert found.glusterd_workdir == tmp_path / "r/var/lib/glusterd" and not counter.exists()
