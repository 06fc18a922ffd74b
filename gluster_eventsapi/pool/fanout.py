"""Run one hidden ``node-*`` command on every node of the pool, in parallel, over SSH.

The local node runs in-process; every peer runs through the OpenSSH client, non-interactive
(BatchMode), with a connect timeout and an overall timeout, the request (and any file
contents) on the session's stdin and one JSON line back on stdout. Failures become rows with
a reason an administrator can act on; nothing here raises for a bad peer.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from glustereventsd.base import filereader

from gluster_eventsapi.results import PROTOCOL, NodeResult

LOCAL_NAME = "localhost"


@dataclass(frozen=True)
class Peer:
    """One node of the pool and how to reach it (None: take the pool-wide setting)."""

    name: str
    host: str = ""
    local: bool = False
    connected: bool = True  # False: the gluster pool reports it disconnected
    user: str | None = None
    port: int | None = None
    identity: str | None = None


@dataclass(frozen=True)
class SshSettings:
    """Pool-wide SSH options (config keys ``ssh-*``); None means "leave it to ssh_config"."""

    user: str | None = None
    port: int | None = None
    identity: str | None = None
    config_file: str | None = None
    connect_timeout_secs: int = 5
    command_timeout_secs: int = 30
    parallel: int = 64
    host_key_checking: str = "accept-new"
    remote_command: str = "gluster-eventsapi"


@dataclass(frozen=True)
class Completed:
    """What one ssh process did; ``returncode`` None means it was killed at the timeout."""

    returncode: int | None
    stdout: bytes
    stderr: bytes


class Runner(Protocol):
    """Runs ``argv`` with ``stdin`` and a timeout (the seam tests could replace)."""

    def __call__(self, argv: Sequence[str], stdin: bytes, timeout: float) -> Completed: ...


def subprocess_runner(argv: Sequence[str], stdin: bytes, timeout: float) -> Completed:
    """Run a command as a subprocess; kill it after ``timeout`` seconds."""
    try:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as err:
        return Completed(None, err.stdout or b"", err.stderr or b"")
    except OSError as err:  # ssh itself missing or not executable
        return Completed(-1, b"", f"cannot run {argv[0]}: {err.strerror or err}".encode())
    return Completed(done.returncode, done.stdout, done.stderr)


LocalHandler = Callable[[str, Mapping[str, object]], Mapping[str, object]]


def ssh_argv(peer: Peer, settings: SshSettings, command: str) -> list[str]:
    """The ssh command line that runs ``command`` (a hidden subcommand) on ``peer``."""
    argv = ["ssh", "-T", "-x", "-a",
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={settings.connect_timeout_secs}",
            "-o", f"StrictHostKeyChecking={settings.host_key_checking}",
            "-o", "LogLevel=ERROR"]
    if settings.config_file:
        argv += ["-F", settings.config_file]
    user = peer.user or settings.user
    if user:
        argv += ["-l", user]
    port = peer.port or settings.port
    if port:
        argv += ["-p", str(port)]
    identity = peer.identity or settings.identity
    if identity:
        argv += ["-i", identity]
    argv += ["--", peer.host or peer.name, f"{settings.remote_command} {command}"]
    return argv


def _last_line(data: bytes, limit: int | None = 200) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line]
    return lines[-1][:limit] if lines else ""


def _ssh_failure(stderr: str, settings: SshSettings) -> str:
    """Turn ssh's own error (exit 255) into a reason an administrator can act on."""
    text = stderr.lower()
    if "permission denied" in text:
        return "SSH authentication refused (check ssh-user, ssh-identity and the peer's authorized_keys)"
    if "connection refused" in text:
        return "SSH connection refused (is sshd running on the peer, is ssh-port right?)"
    if "timed out" in text:
        return f"SSH connection timed out after {settings.connect_timeout_secs}s"
    if "host key verification failed" in text or "identification has changed" in text:
        return "SSH host key verification failed (check known_hosts or ssh-host-key-checking)"
    if "could not resolve" in text or "name or service not known" in text:
        return "cannot resolve the peer's host name"
    if "no route to host" in text or "network is unreachable" in text:
        return "no route to the peer"
    if "closed by remote host" in text or "connection reset" in text or "connection closed" in text:
        return "SSH connection closed by the peer"
    return f"ssh failed: {stderr or 'no message'}"


UPSTREAM_ONLY = ("only Gluster's own gluster-eventsapi (glusterfs-server's) is installed there{reported}, "
                 "and it cannot answer this CLI: install this gluster-eventsapi on that node (the same "
                 "package as here) and let its glustereventsd replace Gluster's own (see the README, "
                 "'Install on a Gluster node'), then run 'gluster-eventsapi sync'")


def upstream_only(reported: str = "") -> str:
    """The row's reason when a peer runs only Gluster's own CLI (``reported``: what it said)."""
    return UPSTREAM_ONLY.format(reported=f" (it reports glustereventsd {reported})" if reported else "")


def is_upstream_answer(answer: Mapping[str, object]) -> bool:
    """True for the JSON line of Gluster's own CLI: ``ok`` and ``nodeid`` but no ``protocol``."""
    return "protocol" not in answer and "nodeid" in answer and isinstance(answer.get("ok"), bool)


UPSTREAM_WEBHOOK_TEST_ARGS = "the following arguments are required: url, bearer_token, secret"


def is_upstream_usage_error(stderr: str) -> bool:
    """True for argparse's refusal by Gluster's own CLI: its node commands without ours, or
    its node-webhook-test, which takes arguments where ours reads stdin."""
    if "invalid choice" in stderr:
        choices = stderr.rpartition("(choose from")[2]
        return "'node-reload'" in choices and "'node-sync'" not in choices
    return UPSTREAM_WEBHOOK_TEST_ARGS in stderr


def answer_to_result(name: str, answer: Mapping[str, object]) -> NodeResult:
    """Check a node's JSON answer and turn it into a row."""
    if is_upstream_answer(answer):
        output = answer.get("output")
        return NodeResult(name, up=True, ok=False,
                          error=upstream_only(output if isinstance(output, str) and output in ("UP", "DOWN") else ""),
                          nodeid=str(answer.get("nodeid") or ""))
    if answer.get("protocol") != PROTOCOL or not isinstance(answer.get("ok"), bool):
        return NodeResult(name, up=True, ok=False,
                          error=f"version mismatch: the peer answers protocol "
                                f"{answer.get('protocol')!r}, this node speaks {PROTOCOL}; "
                                "install the same gluster-eventsapi on every node")
    failed = answer.get("failed") or ()
    return NodeResult(
        name, up=True, ok=bool(answer["ok"]),
        value=str(answer.get("output") or "OK"),
        error=str(answer.get("error") or ("" if answer["ok"] else "failed")),
        warning=str(answer.get("warning") or ""),
        failed=tuple(str(f) for f in failed) if isinstance(failed, list) else (),
        nodeid=str(answer.get("nodeid") or ""),
        data=answer.get("data"),
    )


def classify(name: str, command: str, done: Completed, settings: SshSettings) -> NodeResult:
    """Turn one ssh run into a row: parse the answer or explain why there is none."""
    stderr = _last_line(done.stderr)
    if done.returncode is None:
        total = settings.connect_timeout_secs + settings.command_timeout_secs
        return NodeResult(name, up=False, ok=False, error=f"no answer within {total}s (timed out)")
    if done.returncode == 255 or done.returncode < 0:
        return NodeResult(name, up=False, ok=False, error=_ssh_failure(stderr, settings))
    if done.returncode == 127 or "command not found" in stderr.lower():
        return NodeResult(name, up=True, ok=False,
                          error=f"command not found on the peer: '{settings.remote_command}' "
                                "(install gluster-eventsapi there or set ssh-remote-command)")
    if done.returncode == 126:
        return NodeResult(name, up=True, ok=False,
                          error=f"cannot execute '{settings.remote_command}' on the peer: {stderr}")
    line = _last_line(done.stdout, None)
    if done.returncode == 2 and is_upstream_usage_error(done.stderr.decode("utf-8", "replace")):
        return NodeResult(name, up=True, ok=False, error=upstream_only())
    if done.returncode == 2 and "invalid choice" in stderr:
        return NodeResult(name, up=True, ok=False,
                          error=f"version mismatch: the peer's gluster-eventsapi does not know "
                                f"'{command}'; install the same version on every node")
    try:
        answer = filereader.loads(line) if line else None
    except ValueError:  # not JSON, or JSON we refuse (deep nesting, duplicate keys, NaN)
        answer = None
    if not isinstance(answer, dict):
        shown = line or stderr or f"exit status {done.returncode}, no output"
        return NodeResult(name, up=True, ok=False,
                          error=f"bad answer from the peer (version mismatch?): {shown[:120]}")
    return answer_to_result(name, answer)


def run_on_pool(peers: Sequence[Peer], command: str, request: Mapping[str, object],
                settings: SshSettings, runner: Runner, local: LocalHandler) -> list[NodeResult]:
    """Run ``command`` on every peer at once (bounded by ``settings.parallel``).

    Returns one row per peer, in the order of ``peers``.
    """
    payload = (json.dumps({**request, "protocol": PROTOCOL}) + "\n").encode("utf-8")
    timeout = settings.connect_timeout_secs + settings.command_timeout_secs + 1.0

    def one(peer: Peer) -> NodeResult:
        if not peer.connected:
            return NodeResult(peer.name, up=False, ok=False,
                              error="peer is disconnected from the gluster pool")
        if peer.local:
            try:
                return answer_to_result(peer.name, local(command, request))
            except Exception as err:  # noqa: BLE001 - a row, never a traceback
                return NodeResult(peer.name, up=True, ok=False, error=f"local error: {err}")
        done = runner(ssh_argv(peer, settings, command), payload, timeout)
        return classify(peer.name, command, done, settings)

    workers = max(1, min(settings.parallel, len(peers)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, peers))
