"""An installed wheel carries what runs from package data: the page of ``listen --web``."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import REPO

IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "tests",
                                 "demo", ".pytest_cache", ".hypothesis")
PAGE_FILES = ("index.html", "app.js", "style.css", "favicon.svg")


def test_wheel_installs_the_web_page_and_serves_it(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=IGNORED)  # build a copy: never write into the checkout
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "--disable-pip-version-check", "-w", str(wheels), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("gluster_eventsapi-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in PAGE_FILES:
        assert f"gluster_eventsapi/listen/webpage/{name}" in names, sorted(names)
    assert any(n.endswith("etc/prometheus/glustereventsd-alerts.yml") for n in names), sorted(names)

    target = tmp_path / "installed"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                                "--disable-pip-version-check", "--target", str(target), str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # Run from elsewhere with only the installed copy importable: the files come from it.
    check = ("import gluster_eventsapi, sys; from gluster_eventsapi.listen import web as webserve; "
             "assets = webserve.load_assets(); "
             "print(gluster_eventsapi.__path__[0]); print(sorted(assets)); "
             "print(b'app.js' in assets['index.html'] and b'EventSource' in assets['app.js'])")
    ran = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(target)!r}); {check}"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    where, assets, linked = ran.stdout.splitlines()
    assert Path(where) == target / "gluster_eventsapi"
    assert assets == str(sorted(PAGE_FILES))
    assert linked == "True"
