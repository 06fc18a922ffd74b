"""One real Gluster node in namespaces of its own: glusterd, bricks and the daemons, never the host's.

``GlusterNode`` starts ``tests/gluster/holder.py`` as PID 1 of new mount, network, UTS and
PID namespaces, then runs commands in them with ``nsenter``. Long-running programs
(glusterd, the daemons, the recorder, the capture) are stopped by their pid; when the
node closes, its PID 1 exits and the kernel kills whatever is left (bricks, quotad, bitd),
and its mounts vanish with its mount namespace.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tests import glusterpkg
from tests.gluster import holder

REPO = Path(__file__).resolve().parents[2]
GLUSTERD = "/usr/sbin/glusterd"
UPSTREAM_DAEMON = "/usr/sbin/glustereventsd"
UPSTREAM_CLI = "/usr/sbin/gluster-eventsapi"
BIN = str(Path(sys.executable).parent)  # this interpreter's scripts: our glustereventsd, gluster-eventsapi
PATH = f"/usr/sbin:/usr/bin:/sbin:/bin:{BIN}"  # /usr/sbin first: 'gluster-eventsapi' there is upstream's


def skip_reason() -> str | None:
    """Why this machine cannot run a real glusterd in namespaces, or None when it can."""
    if os.geteuid() != 0:
        return "needs root: glusterd and the namespaces it runs in"
    for program, package in ((GLUSTERD, "glusterfs-server"), (UPSTREAM_DAEMON, "glusterfs-server"),
                             ("/usr/bin/unshare", "util-linux"), ("/usr/bin/nsenter", "util-linux"),
                             ("/usr/sbin/ip", "iproute2")):
        if not (os.path.exists(program) or shutil.which(os.path.basename(program))):
            return f"{program} is missing: install {package} (bash .ci/run does)"
    probe = subprocess.run(["unshare", "--mount", "--net", "--uts", "--pid", "--fork", "--mount-proc",
                            "true"], capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        return f"this machine cannot create namespaces: {probe.stderr.strip() or probe.returncode}"
    return None


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment for programs on the node (nothing of the test's own, like GLUSTER_EVENTS_ROOT)."""
    return {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1", **(extra or {})}


@dataclass
class NodeProcess:
    """A program running on the node: ``pid`` is its pid on the host (nsenter forks it)."""

    name: str
    popen: subprocess.Popen[bytes]
    pid: int

    def alive(self) -> bool:
        return self.popen.poll() is None


@dataclass
class GlusterNode:
    """See the module docstring. ``folder`` holds the node's state and every log."""

    folder: Path
    holder: subprocess.Popen[str] | None = None
    processes: list[NodeProcess] = field(default_factory=list)

    @property
    def state(self) -> Path:
        return self.folder / "state"

    @property
    def logs(self) -> Path:
        """The node's /var/log/glusterfs, readable from the host."""
        return self.state / "log"

    def start(self, timeout: float = 30) -> GlusterNode:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.state.mkdir()
        # Gluster's files as the package ships them, never the host's (tests/glusterpkg.py).
        glusterpkg.install_package_files(self.state / "pkg-etc", self.state / "pkg-workdir")
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private",
             sys.executable, "-m", "tests.gluster.holder", str(self.state)],
            cwd=REPO, env=environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        assert self.holder.stdout is not None
        line = _readline(self.holder.stdout, timeout)
        if line.strip() != "ready":
            rest = self.holder.stdout.read() if self.holder.poll() is not None else ""
            self.close()
            raise RuntimeError(f"the node's namespaces did not come up: {line}{rest}")
        return self

    def _ns_pid(self) -> int:
        """The host pid of the holder's child, PID 1 of the node (unshare --fork runs it)."""
        assert self.holder is not None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = _children(self.holder.pid)
            if children:
                return children[0]
            time.sleep(0.01)
        raise RuntimeError("the node's PID 1 did not appear")

    def argv(self, argv: list[str]) -> list[str]:
        return ["nsenter", f"--target={self._ns_pid()}", "--mount", "--net", "--uts", "--pid",
                f"--wd={REPO}", "--", *argv]

    def run(self, argv: list[str], timeout: float = 60, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command on the node to its end (never raises for a non-zero status)."""
        return subprocess.run(self.argv(argv), capture_output=True, text=True, timeout=timeout,
                              env=environment(env), input=input, check=False)

    def gluster(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """The real ``gluster`` CLI, non-interactive."""
        return self.run(["gluster", "--mode=script", *args], timeout=timeout)

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None,
              stdout: IO[Any] | int | None = None) -> NodeProcess:
        """Start a long-running program on the node; its output goes to ``<name>.out`` by default."""
        out = stdout if stdout is not None else open(self.folder / f"{name}.out", "ab")
        try:
            popen = subprocess.Popen(self.argv(argv), env=environment(env), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT if stdout is None else None)
        finally:
            if stdout is None:
                out.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + 10
        while True:
            children = _children(popen.pid)
            if children:
                break
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start on the node: {self.output_of(name)[-2000:]}")
            time.sleep(0.005)
        process = NodeProcess(name, popen, children[0])
        self.processes.append(process)
        return process

    def output_of(self, name: str) -> str:
        try:
            return (self.folder / f"{name}.out").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, process: NodeProcess, signum: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Stop one program by its pid: ``signum``, then SIGKILL after ``timeout``."""
        if process.alive():
            try:
                os.kill(process.pid, signum)
            except ProcessLookupError:
                pass
            try:
                process.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.kill(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.popen.wait(10)
        if process in self.processes:
            self.processes.remove(process)
        return process.popen.returncode

    def close(self) -> None:
        """Stop every program started here (by pid), then end the namespaces."""
        for process in reversed(list(self.processes)):
            self.stop(process, timeout=10)
        if self.holder is None:
            return
        if self.holder.stdin is not None:
            try:
                self.holder.stdin.close()  # the holder exits at EOF: the kernel kills what is left
            except OSError:
                pass
        try:
            self.holder.wait(15)
        except subprocess.TimeoutExpired:
            for pid in _children(self.holder.pid):
                os.kill(pid, signal.SIGKILL)
            self.holder.wait(10)
        if self.holder.stdout is not None:
            self.holder.stdout.close()
        self.holder = None


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return []


def _readline(stream: IO[str], timeout: float) -> str:
    """One line from a pipe, or "" after ``timeout`` seconds."""
    import selectors

    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return stream.readline()


def wait_until(condition: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``condition`` until truthy; AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def holder_constants() -> tuple[str, str, str]:
    """The node's address, hostname and glusterd workdir (set up by the holder)."""
    return holder.NODE_ADDRESS, holder.HOSTNAME, holder.WORKDIR
