"""The receivers people run, each from its own package: ``webhook-test`` is OK and events arrive intact.

Every receiver is the seed's example webhook ("Example Webhook written in python"), either
verbatim (apps/seed_example.py, under Flask's own server with today's Flask and with the
oldest Flask on Python 3.9, and under gunicorn) or written the same way for FastAPI on
uvicorn, aiohttp, Node's Express 5 and 4 with ``express.json()``, and Python's http.server.
One real daemon delivers one real event to all of them, with a JWT; the real CLI runs
``webhook-test`` against each. Each receiver records what its framework handed the
application (apps/record.py, or a WSGI middleware around the verbatim example).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import jwt
import pytest

from tests import secrets
from tests.helpers import REPO, DaemonProcess, Receiver, free_udp_port, send_raw, wait_for
from tests.receivers.conftest import APPS, Envs, RunningReceiver

pytestmark = pytest.mark.timeout(180)

EVENT_NAME = "gv-receivers"
SEED_TEXTS = (REPO.parent / "shared/seed", Path("/work/shared/seed"))


@dataclass(frozen=True)
class Kind:
    """One receiver of the matrix: the environment it needs and its command line."""

    env: str  # "current", "oldest_flask" or "node_modules"
    argv: Callable[[Envs, str, int], list[str]]
    prints_python: bool = True  # prints the event as a Python dict (the seed's print)


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _express(module: str) -> Callable[[Envs, str, int], list[str]]:
    return lambda e, h, p: ["node", str(APPS / "express_app.js"), h, str(p), module]


KINDS = {
    "seed-flask-current": Kind("current", lambda e, h, p: [e.current.python(), str(APPS / "seed_wsgi.py"), h, str(p)]),
    "seed-flask-0.10.1-py3.9": Kind("oldest_flask",
                                    lambda e, h, p: [e.oldest_flask.python(), str(APPS / "seed_wsgi.py"), h, str(p)]),
    "seed-flask-gunicorn": Kind("current", lambda e, h, p: [e.current.script("gunicorn"), "-b", _bind(h, p),
                                                            "-w", "1", "--chdir", str(APPS), "seed_wsgi:app"]),
    "fastapi-uvicorn": Kind("current", lambda e, h, p: [e.current.script("uvicorn"), "--app-dir", str(APPS),
                                                        "--host", h, "--port", str(p), "fastapi_app:app"]),
    "aiohttp": Kind("current", lambda e, h, p: [e.current.python(), str(APPS / "aiohttp_app.py"), h, str(p)]),
    "http.server": Kind("current", lambda e, h, p: [e.current.python(), str(APPS / "stdlib_app.py"), h, str(p)]),
    "express5": Kind("node_modules", _express("express"), prints_python=False),
    "express4": Kind("node_modules", _express("express4"), prints_python=False),
}


def unavailable(envs_: Envs, kind: Kind) -> None:
    """Skip (fail under CI) a receiver whose environment could not be built here."""
    problem = envs_.problems.get(kind.env)
    if problem:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"cannot build the receiver: {problem}")


def launch(start_receiver: Callable[..., RunningReceiver], envs_: Envs, name: str,
           host: str = "127.0.0.1") -> RunningReceiver:
    kind = KINDS[name]
    env = {"NODE_PATH": str(envs_.node_modules)} if envs_.node_modules else {}
    return start_receiver(name, lambda h, p: kind.argv(envs_, h, p), host, env)


def cli(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Our CLI as a process, on the node kept under ``root`` (its pool: this node alone)."""
    return subprocess.run([sys.executable, "-m", "gluster_eventsapi", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GLUSTER_EVENTS_ROOT": str(root), "PATH": "/nonexistent"})


@dataclass
class Matrix:
    receivers: dict[str, RunningReceiver]
    problems: dict[str, str]
    daemon: DaemonProcess
    reference: Receiver  # the suite's own receiver: the bytes as they went on the wire


@pytest.fixture(scope="module")
def matrix(receiver_envs: Envs, start_receiver: Callable[..., RunningReceiver],
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """Every buildable receiver started, one daemon sending to all of them with a JWT, one event sent."""
    started = time.monotonic()
    receivers = {name: launch(start_receiver, receiver_envs, name) for name, kind in KINDS.items()
                 if not receiver_envs.problems.get(kind.env)}
    reference = Receiver()
    root = tmp_path_factory.mktemp("matrix-node")
    daemon = DaemonProcess(root, free_udp_port())
    daemon.events_dir.mkdir(parents=True, exist_ok=True)
    (daemon.events_dir / "peers.json").write_text("{}")
    daemon.write_webhooks({url: {"token": "", "secret": secrets.JWT_SECRET}
                           for url in [r.url for r in receivers.values()] + [reference.url]})
    daemon.start()
    try:
        send_raw(daemon.port, f"{int(time.time())} 2 name={EVENT_NAME}".encode())
        wait_for(lambda: reference.requests and all(_event_seen(r) for r in receivers.values()), 30,
                 what="the event at every receiver")
        print(f"receiver matrix: {len(receivers)} receivers up and the event delivered in "
              f"{time.monotonic() - started:.1f}s")
        yield Matrix(receivers, receiver_envs.problems, daemon, reference)
    finally:
        daemon.stop()
        reference.stop()


def _event_seen(receiver: RunningReceiver) -> bool:
    return any(seen.body not in (b"", b"{}") for seen in receiver.seen())


def _claims(authorization: Optional[str]) -> dict[str, Any]:
    assert authorization and authorization.startswith("Bearer "), authorization
    return dict(jwt.decode(authorization[len("Bearer "):], secrets.JWT_SECRET, algorithms=["HS256"],
                           issuer="gluster", options={"verify_exp": False}))


@pytest.mark.parametrize("name", list(KINDS))
def test_webhook_test_is_ok(matrix: Matrix, receiver_envs: Envs, name: str) -> None:
    unavailable(receiver_envs, KINDS[name])
    receiver = matrix.receivers[name]
    done = cli(matrix.daemon.root, "webhook-test", receiver.url, "-s", "-", "--json",
               stdin=secrets.JWT_SECRET + "\n")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["output"] == [
        {"node": "localhost", "node_status": "UP", "webhook_status": "OK", "error": ""}]
    tests = [seen for seen in receiver.seen() if seen.body == b"{}"]
    assert len(tests) == 1, receiver.seen()
    assert (tests[0].path, tests[0].content_type) == ("/listen", "application/json")
    assert _claims(tests[0].authorization)["sub"] == "TEST"


@pytest.mark.parametrize("name", list(KINDS))
def test_event_arrives_intact(matrix: Matrix, receiver_envs: Envs, name: str) -> None:
    unavailable(receiver_envs, KINDS[name])
    receiver = matrix.receivers[name]
    wire = matrix.reference.requests[0]
    events = [seen for seen in receiver.seen() if seen.body not in (b"", b"{}")]
    assert len(events) == 1, events
    event = events[0]
    assert event.body == wire.body  # byte for byte what the daemon sent
    assert (event.content_type, event.host) == ("application/json", f"127.0.0.1:{receiver.port}")
    body = json.loads(event.body)
    assert (body["event"], body["message"]) == ("VOLUME_CREATE", {"name": EVENT_NAME})
    assert _claims(event.authorization)["sub"] == "VOLUME_CREATE"
    if KINDS[name].prints_python:  # the application processed it: the seed's print(gluster_event)
        wait_for(lambda: str(body) in receiver.printed(), 5, what=f"{name} to print the event")
    else:
        wait_for(lambda: EVENT_NAME in receiver.printed(), 5, what=f"{name} to log the event")


def test_the_seed_example_is_verbatim() -> None:
    """apps/seed_example.py is the seed's "Example Webhook written in python", unchanged."""
    seed_dir = next((d for d in SEED_TEXTS if d.is_dir()), None)
    if seed_dir is None:
        pytest.skip("the seed (shared/seed) is not beside this checkout")
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(seed_dir.glob("*.txt")))
    start = text.index("Example Webhook written in python")
    block = text[start:].split("\n\n", 1)[1]
    block = block[:block.index("Test and Register")].rstrip()
    example = "\n".join(line[4:] for line in block.splitlines()) + "\n"
    assert (APPS / "seed_example.py").read_text(encoding="utf-8") == example
