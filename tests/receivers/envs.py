"""The receivers' own environments: a venv per Python set of frameworks, node_modules for Express.

Each is built once from the files beside this module (requirements-*.txt, apps/package.json
and its lock) into ``.envs/<name>-<digest>`` and reused while those files and the
interpreter are unchanged; a failed build is removed. ``.ci/run``
builds them first (``python3 -m tests.receivers.envs``) so that a broken install fails
there, with pip's or npm's own message; the fixtures build whatever is still missing.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

HERE = Path(__file__).resolve().parent
APPS = HERE / "apps"
ENVS = HERE / ".envs"
INSTALL_TIMEOUT_SECS = 600


class EnvUnavailable(RuntimeError):
    """A receiver environment cannot be built on this machine; the message says what is missing."""


@dataclass(frozen=True)
class PythonEnv:
    """A venv holding one set of frameworks."""

    name: str
    requirements: Path
    interpreter: str

    def path(self) -> Path:
        version = subprocess.run([self.interpreter, "-c", "import sys; print(sys.version)"], capture_output=True,
                                 text=True, check=True, timeout=30).stdout
        digest = hashlib.sha256(self.requirements.read_bytes() + version.encode()).hexdigest()[:12]
        return ENVS / f"{self.name}-{digest}"

    def python(self) -> str:
        return str(self.path() / "bin/python")

    def script(self, name: str) -> str:
        return str(self.path() / "bin" / name)

    def build(self) -> Path:
        def install(target: Path) -> None:
            _run([self.interpreter, "-m", "venv", str(target)], f"{self.name}: python -m venv")
            _run([str(target / "bin/python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                  "-r", str(self.requirements)], f"{self.name}: pip install -r {self.requirements.name}")
        return _built(self.path(), install)


def oldest_python() -> Optional[str]:
    """A Python 3.9 interpreter ($GLUSTER_EVENTS_PYTHON39, python3.9 on PATH, or pyenv's), or None."""
    candidates = [os.environ.get("GLUSTER_EVENTS_PYTHON39", ""),
                  *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3"))),
                  shutil.which("python3.9") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK) and subprocess.run(
                [candidate, "-c", "import sys; assert sys.version_info[:2] == (3, 9)"], capture_output=True,
                timeout=30, check=False).returncode == 0:
            return candidate
    return None  # (a pyenv shim for a version that is not installed fails the check)


def current_env() -> PythonEnv:
    """Flask, gunicorn, FastAPI, uvicorn and aiohttp, current releases, on this interpreter."""
    return PythonEnv("current", HERE / "requirements-current.txt", sys.executable)


def oldest_flask_env() -> PythonEnv:
    """Flask 0.10.1 on Python 3.9; EnvUnavailable where no Python 3.9 is installed."""
    python = oldest_python()
    if python is None:
        raise EnvUnavailable("no Python 3.9 (give it as $GLUSTER_EVENTS_PYTHON39, or install it with pyenv)")
    return PythonEnv("oldest-flask", HERE / "requirements-oldest-flask.txt", python)


def node_modules() -> Path:
    """Express 5 and Express 4 (as ``express4``) from apps/package-lock.json, with npm ci."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise EnvUnavailable("node and npm are not installed (apt-get install nodejs npm; bash .ci/run does)")
    manifest, lock = APPS / "package.json", APPS / "package-lock.json"
    digest = hashlib.sha256(manifest.read_bytes() + lock.read_bytes()).hexdigest()[:12]

    def install(target: Path) -> None:
        target.mkdir(parents=True)
        shutil.copy(manifest, target)
        shutil.copy(lock, target)
        _run([npm, "ci", "--no-audit", "--no-fund", "--silent"], "npm ci", cwd=target)
    return _built(ENVS / f"node-{digest}", install) / "node_modules"


def _run(argv: list[str], what: str, cwd: Optional[Path] = None) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECS, cwd=cwd,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EnvUnavailable(f"{what}: {err}") from None
    if done.returncode != 0:
        raise EnvUnavailable(f"{what} failed (exit {done.returncode}): {(done.stderr or done.stdout)[-2000:]}")


def _built(path: Path, install: Callable[[Path], None]) -> Path:
    """``path`` once ``install`` has filled it, under a lock; ``.complete`` marks a finished build.

    Built in place (venv scripts name their interpreter by its full path, so a venv cannot
    be moved); a build that fails is removed.
    """
    ENVS.mkdir(parents=True, exist_ok=True)
    done = path / ".complete"
    with open(ENVS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return path
        for stale in glob.glob(f"{path.parent / path.name.rsplit('-', 1)[0]}-*"):
            shutil.rmtree(stale, ignore_errors=True)  # an older or unfinished build of the same environment
        try:
            install(path)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        done.touch()
        return path


def build_all() -> list[str]:
    """Build every environment; the problems of those that could not be built (empty: all built)."""
    problems = []
    for build in (lambda: current_env().build(), lambda: oldest_flask_env().build(), node_modules):
        try:
            build()
        except EnvUnavailable as err:
            problems.append(str(err))
    return problems


if __name__ == "__main__":
    found = build_all()
    for problem in found:
        print(f"tests/receivers: {problem}", file=sys.stderr)
    sys.exit(1 if found else 0)
