"""Linux namespaces for the tests that need a machine of their own: a held namespace set,
commands run inside it, and every process started inside it found and stopped by pid.

A ``Holder`` is one ``sleep`` process that owns a private mount namespace (and optionally a
UTS namespace, inside a named network namespace). Commands enter it with ``nsenter -t PID``.
Every process the tests start in it shares its mount namespace, so ``pids_inside`` finds them
all (also those that daemonised), and nothing outside is ever signalled.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import select
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
T = TypeVar("T")


class NamespaceUnavailable(RuntimeError):
    """This machine cannot give the tests namespaces (not root, or the kernel refuses)."""


def unavailable_reason() -> str:
    """Why namespaces cannot be used here, or "" when they can."""
    if os.geteuid() != 0:
        return "needs root (network and mount namespaces)"
    for tool in ("ip", "unshare", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (iproute2 / util-linux)"
    probe = subprocess.run(["unshare", "--mount", "--uts", "--net", "true"], capture_output=True,
                           text=True, timeout=20, stdin=subprocess.DEVNULL)
    if probe.returncode != 0:
        return f"cannot create namespaces here: {probe.stderr.strip() or probe.returncode}"
    return ""


def ip(*argv: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip [-n NETNS] argv``; raise with ip's message when it fails and ``check``."""
    prefix = ["ip"] + (["-n", netns] if netns else [])
    done = subprocess.run(prefix + list(argv), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(prefix + list(argv))}: {done.stderr.strip()}")
    return done


def delete_netns(name: str) -> None:
    """Delete a named network namespace (no error if it is gone)."""
    if (NETNS_DIR / name).exists():
        ip("netns", "del", name, check=False)


def mount_ns_inode(pid: int) -> int | None:
    """The inode of ``pid``'s mount namespace, or None when the process is gone."""
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino
    except OSError:
        return None


def run_in_netns(name: str, call: Callable[[], T]) -> T:
    """Run ``call`` on a thread that has entered network namespace ``name``.

    Sockets made by ``call`` stay in that namespace for good, whichever thread uses them
    later (and threads ``call`` starts are in it too); the calling thread is untouched.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    box: dict[str, Any] = {}

    def target() -> None:
        fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                box["error"] = OSError(ctypes.get_errno(), f"setns into {name} failed")
                return
        finally:
            os.close(fd)
        try:
            box["value"] = call()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller
            box["error"] = err

    thread = threading.Thread(target=target, name=f"in-{name}", daemon=True)
    thread.start()
    thread.join(60)
    if "error" in box:
        raise box["error"]
    if thread.is_alive() or "value" not in box:
        raise RuntimeError(f"call in network namespace {name} did not finish")
    return box["value"]  # type: ignore[no-any-return]


class Holder:
    """A ``sleep`` process holding a private mount namespace (+ UTS, + a named netns)."""

    def __init__(self, netns: str | None = None, uts: bool = False) -> None:
        self.netns = netns
        self.uts = uts
        argv = ["unshare", "--mount", "--propagation", "private"] + (["--uts"] if uts else [])
        # The holder says "ready" only once every unshare is done: before that, its pid passes
        # through the namespaces of ``ip netns exec`` and would be entered too early.
        argv += ["sh", "-c", "echo ready; exec sleep infinity"]
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv  # ip and unshare exec: one pid throughout
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        self.pid = self.process.pid
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        line = self.process.stdout.readline() if ready else b""
        self.mnt_ns = mount_ns_inode(self.pid)
        if line.strip() != b"ready" or self.mnt_ns in (None, mount_ns_inode(os.getpid())):
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
            raise NamespaceUnavailable(f"cannot create a mount namespace: "
                                       f"{err.decode(errors='replace').strip() or 'no ready line'}")

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` wrapped in nsenter to run inside this holder's namespaces."""
        flags = ["-m"] + (["-u"] if self.uts else []) + (["-n"] if self.netns else [])
        return ["nsenter", "-t", str(self.pid), *flags, "--wd=/", "--", *command]

    def run(self, command: Sequence[str], timeout: float = 60, check: bool = True,
            env: dict[str, str] | None = None, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        """Run ``command`` inside and wait for it (bounded by ``timeout``)."""
        done = subprocess.run(self.argv(command), capture_output=True, timeout=timeout, env=env,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): "
                               f"{done.stderr.decode(errors='replace').strip()[-2000:]}")
        return done

    def sh(self, script: str, timeout: float = 60) -> str:
        """Run a shell script inside; return its stdout."""
        return self.run(["sh", "-ec", script], timeout=timeout).stdout.decode()

    def popen(self, command: Sequence[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start ``command`` inside, its output appended to ``log`` (nsenter execs it: same pid)."""
        with open(log, "ab") as out:
            return subprocess.Popen(self.argv(command), stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, env=env)

    def pids_inside(self) -> list[int]:
        """Every live process in this holder's mount namespace except the holder itself."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != self.pid and mount_ns_inode(int(entry)) == self.mnt_ns:
                found.append(int(entry))
        return found

    def stop_all(self, timeout: float = 15) -> list[int]:
        """SIGTERM, then SIGKILL, every process inside; return the pids that were still running."""
        leftovers = self.pids_inside()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids_inside():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            while self.pids_inside() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.pids_inside():
                break
        return leftovers

    def stop(self) -> None:
        """Stop everything inside, then the holder: the namespaces (and their mounts) go away."""
        self.stop_all()
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
