"""Real systemd to run the unit under: Debian 11, 12 and 13 booted with systemd-nspawn.

- ``cached_root(release)`` builds a minimal root of a Debian release with ``mmdebstrap`` (its
  ``packages``), once: it is kept under ``CACHE`` in a folder named by a hash of what it is
  built from, and rebuilt when that changes. ``CACHE`` defaults to
  ``/var/cache/gluster-eventsapi-nspawn``: outside the checkout and ``/tmp``, so a later run
  (CI included) on the same machine reuses it. ``GLUSTER_EVENTS_NSPAWN_CACHE=off`` builds
  roots in a temporary folder that is removed afterwards.
- ``wheelhouse()`` makes the wheels of the project and of its dependencies on the host, with
  the host's own pip configuration, for a booted container, which has no network.
- ``build()`` runs a command (the README's package build) in a root that is not booted, with
  the host's network (pip fetches from PyPI) and its CA bundle, through an overlay.
- ``Machine`` boots a root through an overlay (the cached root is never written) with
  ``systemd-nspawn -b --register=no --keep-unit --private-network``, runs commands inside
  with ``nsenter`` into its init, and powers it off (by the nspawn pid) at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MIRROR = "http://deb.debian.org/debian"
CACHE = Path(os.environ.get("GLUSTER_EVENTS_NSPAWN_CACHE") or "/var/cache/gluster-eventsapi-nspawn")
BUILD_TIMEOUT_SECS = 600  # three roots of about 700 MB each, cold, on a shared 2-core machine


@dataclass(frozen=True)
class Release:
    """A Debian release to boot, and what its root holds."""

    suite: str  # bullseye, bookworm, trixie
    flavor: str  # names the package list: roots of several lists of one suite live side by side
    packages: tuple[str, ...]

    @property
    def number(self) -> int:
        return {"bullseye": 11, "bookworm": 12, "trixie": 13}[self.suite]


# A node without Gluster that installs from wheels (pip comes from the wheelhouse, the venv
# module from python3-venv).
PLAIN = Release("bookworm", "plain", ("systemd", "systemd-sysv", "python3", "python3-venv"))
# A Gluster node that also builds the Debian package: the README's build dependencies, the
# release's glusterfs-server, iproute2 for the node's address, logrotate to check the rule.
GLUSTER_PACKAGES = ("systemd", "systemd-sysv", "python3", "python3-venv", "glusterfs-server",
                    "build-essential", "debhelper", "dh-virtualenv", "ca-certificates", "iproute2",
                    "logrotate")
GLUSTER_RELEASES = tuple(Release(suite, "gluster", GLUSTER_PACKAGES) for suite in ("bullseye", "bookworm", "trixie"))
PATH_INSIDE = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Unavailable(Exception):
    """This machine cannot boot a container (not root, no namespaces): the reason."""


def check_machine() -> None:
    """Raise Unavailable when root or namespaces are missing; fail loudly when tools are."""
    if os.geteuid() != 0:
        raise Unavailable("needs root (systemd-nspawn boots a container)")
    probe = subprocess.run(["unshare", "--pid", "--mount", "--uts", "--ipc", "--net", "--fork", "true"],
                           capture_output=True, timeout=10, check=False)
    if probe.returncode != 0:
        raise Unavailable(f"cannot create namespaces here: {probe.stderr.decode(errors='replace').strip()}")
    missing = [tool for tool in ("systemd-nspawn", "mmdebstrap", "nsenter") if shutil.which(tool) is None]
    if missing:
        raise AssertionError(f"{', '.join(missing)} missing: apt-get install systemd-container mmdebstrap "
                             "(bash .ci/run installs them)")


def root_key(release: Release) -> str:
    """What the root is built from, hashed: its folder's name."""
    text = "\n".join([release.suite, MIRROR, "minbase", *release.packages])
    # The flavor first: a run of an older tree, whose roots were "<suite>-<hash>" and which
    # removes every other "<suite>-*", leaves these alone.
    return f"{release.flavor}-{release.suite}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _build(release: Release, target: Path) -> None:
    command = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(release.packages)}",
               "--skip=check/empty", release.suite, str(target), MIRROR]
    done = subprocess.run(command, capture_output=True, timeout=BUILD_TIMEOUT_SECS, check=False,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"mmdebstrap failed ({done.returncode}): "
                             f"{done.stderr.decode(errors='replace')[-2000:]}")


@contextlib.contextmanager
def cached_root(release: Release = PLAIN) -> Iterator[Path]:
    """The release's root, built now or reused from the cache; a built-only-for-now one is removed."""
    if str(CACHE) == "off":
        with tempfile.TemporaryDirectory(prefix="gev-nspawn-root-") as folder:
            target = Path(folder) / "root"
            _build(release, target)
            yield target
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    target = CACHE / root_key(release)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once: one builds, the other waits
        if not target.is_dir():  # renamed into place only once complete (Debian 11's systemd is in /lib)
            building = CACHE / f".{target.name}.{os.getpid()}"
            shutil.rmtree(building, ignore_errors=True)
            try:
                _build(release, building)
                shutil.rmtree(target, ignore_errors=True)
                os.rename(building, target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
            for old in CACHE.glob(f"{release.flavor}-{release.suite}-*"):  # package lists no longer used
                if old != target:
                    shutil.rmtree(old, ignore_errors=True)
    yield target


def source_copy(folder: Path) -> Path:
    """The project's files (what a clone has), copied to ``folder``/src."""
    target = folder / "src"
    ignore = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", ".hypothesis", "demo")
    shutil.copytree(REPO, target, ignore=ignore)
    return target


def wheelhouse(source: Path, folder: Path) -> Path:
    """Wheels of the project, its dependencies, and what pip needs to build it, made with this host's pip."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                           "--wheel-dir", str(folder), str(source), "pip", "setuptools", "wheel"],
                          capture_output=True, timeout=180, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"pip wheel failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return folder


def pip_cache(release: Release) -> Path:
    """pip's download cache for the package builds of ``release``, kept with the roots."""
    folder = (Path(tempfile.gettempdir()) / "gev-nspawn-pip" if str(CACHE) == "off" else CACHE / "pip") / release.suite
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def build(root: Path, work: Path, release: Release, folder: Path, script: str, cwd: Path | None = None,
          timeout: float = 900) -> Ran:
    """Run ``script`` (sh -e) in ``root``, not booted, with ``folder`` bound at the same path, in ``cwd``.

    The container shares the host's network, so pip reaches PyPI (and the host's CA bundle,
    which may hold a proxy's CA, is bound over the container's); the root is seen through an
    overlay under ``work`` and never written.
    """
    for name in ("upper", "ovl-work", "merged"):
        (work / name).mkdir(parents=True, exist_ok=True)
    merged = work / "merged"
    options = f"lowerdir={root},upperdir={work / 'upper'},workdir={work / 'ovl-work'}"
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(merged)],
                   check=True, capture_output=True, timeout=30)
    command = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit", "-D", str(merged),
               f"--bind={folder}", f"--bind={pip_cache(release)}:/root/.cache/pip", f"--chdir={cwd or folder}",
               "--setenv=HOME=/root", "--setenv=LANG=C.UTF-8", f"--setenv=PATH={PATH_INSIDE}"]
    for bundle in ("/etc/ssl/certs/ca-certificates.crt",):
        if Path(bundle).is_file():
            command.append(f"--bind-ro={bundle}")
    start = time.monotonic()
    try:
        done = subprocess.run([*command, "--", "sh", "-e", "-x", "-c", script], capture_output=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run(["umount", str(merged)], check=False, capture_output=True, timeout=30)
        for name in ("upper", "ovl-work"):
            shutil.rmtree(work / name, ignore_errors=True)
    return Ran(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"),
               time.monotonic() - start)


@dataclass
class Ran:
    """One command run inside the container."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class Machine:
    """A booted container; ``run()`` executes inside it as root."""

    root: Path  # the read-only lower root
    work: Path  # holds the overlay's upper and work folders, the merged root and the log
    name: str
    binds: Sequence[tuple[Path, str]] = ()
    merged: Path = field(init=False)
    leader: int = 0
    process: subprocess.Popen[bytes] | None = None
    _mounted: bool = False

    def __post_init__(self) -> None:
        self.merged = self.work / "merged"

    @property
    def log(self) -> Path:
        return self.work / "nspawn.log"

    def boot(self, timeout: float = 60) -> None:
        """Mount the overlay, start systemd-nspawn, wait for the container's systemd to be up."""
        for name in ("upper", "ovl-work", "merged"):
            (self.work / name).mkdir(parents=True, exist_ok=True)
        options = f"lowerdir={self.root},upperdir={self.work / 'upper'},workdir={self.work / 'ovl-work'}"
        subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, str(self.merged)],
                       check=True, capture_output=True, timeout=30)
        self._mounted = True
        command = ["systemd-nspawn", "--quiet", "-D", str(self.merged), "-b", "--register=no", "--keep-unit",
                   "--private-network", f"--machine={self.name}", "--console=passive"]
        command += [f"--bind-ro={host}:{inside}" for host, inside in self.binds]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.leader:
            if self.process.poll() is not None:
                raise AssertionError(f"systemd-nspawn exited {self.process.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the container's init did not appear: {self._log_tail()}")
            self.leader = _container_init(self.process.pid)
            time.sleep(0.02)
        # Until systemd listens on its private socket, systemctl inside cannot reach it
        # ("Failed to connect to bus", or "offline").
        while True:
            state = self.run(["systemctl", "is-system-running", "--wait"],
                             timeout=max(5.0, deadline - time.monotonic()))
            if state.stdout.strip() not in ("", "offline") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if state.stdout.strip() not in ("running", "degraded"):
            failed = self.run(["systemctl", "--failed", "--no-pager"]).stdout
            raise AssertionError(f"the container did not boot: {state.stdout.strip()} {state.stderr.strip()} {failed}")

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` as run inside: every namespace of the container's init, a clean environment."""
        return ["nsenter", "-t", str(self.leader), "-a", "--", "env", "-i", f"PATH={PATH_INSIDE}",
                "HOME=/root", "LANG=C.UTF-8", *command]

    def run(self, command: Sequence[str], timeout: float = 30, check: bool = False,
            stdin: str = "") -> Ran:
        """Run ``command`` inside the container and wait for it."""
        start = time.monotonic()
        done = subprocess.run(self.argv(command), input=stdin.encode(), capture_output=True,
                              timeout=timeout, check=False)
        ran = Ran(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"),
                  time.monotonic() - start)
        if check and ran.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited {ran.returncode}: {ran.stdout}{ran.stderr}")
        return ran

    def path(self, inside: str) -> Path:
        """A path of the container's root file system, as the host sees it (not /run, /tmp)."""
        return self.merged / inside.lstrip("/")

    def shutdown(self, timeout: float = 20) -> None:
        """Power the container off (SIGTERM to nspawn, SIGKILL after ``timeout``), unmount, remove."""
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)  # nspawn asks the container's systemd to power off
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.process = None
        if self._mounted:
            subprocess.run(["umount", str(self.merged)], check=False, capture_output=True, timeout=30)
            self._mounted = False
        for name in ("upper", "ovl-work"):
            shutil.rmtree(self.work / name, ignore_errors=True)


def _is_systemd(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "systemd"
    except OSError:
        return False


def _container_init(nspawn_pid: int) -> int:
    """The host pid of the container's pid 1 (a descendant of nspawn whose NSpid ends in 1), or 0."""
    pending = [nspawn_pid]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                if len(ids) > 1 and ids[-1] == "1" and _is_systemd(pid):
                    return pid
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pending += [int(child) for child in task.read_text().split()]
    return 0
