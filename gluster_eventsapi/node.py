"""This node's part of every pool-wide command (the hidden ``node-*`` subcommands).

Each handler takes the request object the CLI sent (on stdin over SSH, or directly for the
local node) and returns the answer object that goes back as exactly one JSON line:
``{"ok": true, "output": "UP", "nodeid": "...", "protocol": 1}`` or
``{"ok": false, "error": "...", ...}``. Handlers never print and never raise for a bad request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from glustereventsd.config import ConfigError, load_webhooks, webhook_from_entry
from glustereventsd.fsutil import atomic_write_bytes
from glustereventsd.paths import Paths

from gluster_eventsapi import service, store
from gluster_eventsapi.errors import CliError
from gluster_eventsapi.results import PROTOCOL

Answer = dict[str, Any]
Handler = Callable[[Mapping[str, Any], Paths, float], Answer]
NOT_RUNNING = "glustereventsd is not running on this node; the files take effect when it starts"


def node_status(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Report whether this node's glustereventsd holds its pid file."""
    return {"ok": True, "output": "UP" if service.is_running(paths) else "DOWN"}


def _reload_answer(paths: Paths, answer: Answer) -> Answer:
    try:
        reloaded = service.reload(paths)
    except service.ReloadError as err:
        return {**answer, "ok": False, "error": str(err)}
    warnings = [] if reloaded else [NOT_RUNNING]
    warnings += [w for w in [_missing_ca_bundles(paths)] if w]
    if warnings:
        answer["warning"] = "; ".join(warnings)
    return answer


def node_reload(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Send SIGUSR2 to this node's daemon; a stopped daemon is a warning, not a failure."""
    return _reload_answer(paths, {"ok": True, "output": "OK"})


def _install(path: Path, text: str, check: Callable[[dict[str, Any], Path], None]) -> None:
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as err:
        raise CliError(f"{path}: received content is not valid JSON ({err.msg})") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: received content is not a JSON object")
    check(data, path)
    with store.file_lock(path):
        try:
            atomic_write_bytes(path, text.encode("utf-8"), store.FILE_MODE)
        except OSError as err:
            raise CliError(f"{path}: cannot write: {err.strerror or err}") from None


SYNCED_FILES: tuple[tuple[str, Callable[[Paths], Path], Callable[[dict[str, Any], Path], None]], ...] = (
    ("webhooks", lambda p: p.webhooks_file, store.check_webhooks),
    ("config", lambda p: p.config_file, store.check_config),
)


def node_sync(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Write the received webhooks.json and config.json atomically, then reload the daemon."""
    failed: list[str] = []
    errors: list[str] = []
    for key, where, check in SYNCED_FILES:
        text = request.get(key)
        if text is None:
            continue  # the sender has no such file: keep ours
        if not isinstance(text, str):
            failed.append(key)
            errors.append(f"{key}: bad request")
            continue
        try:
            _install(where(paths), text, check)
        except CliError as err:
            failed.append(key)
            errors.append(err.message)
    if failed:
        return {"ok": False, "failed": failed, "error": "; ".join(errors)}
    return _reload_answer(paths, {"ok": True, "output": "OK"})


def _missing_ca_bundles(paths: Paths) -> str:
    """A warning naming the CA bundles that webhooks.json refers to but this node lacks."""
    try:
        hooks = load_webhooks(paths.webhooks_file)
    except ConfigError:
        return ""
    missing = sorted({h.ca_bundle for h in hooks if h.ca_bundle and not Path(h.ca_bundle).is_file()})
    if not missing:
        return ""
    return (f"CA bundle {', '.join(missing)} missing on this node: copy it there, "
            "or HTTPS deliveries from this node fail")


def node_webhook_test(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """POST the test request of SPEC section 3 from this node and report the outcome."""
    url = request.get("url")
    entry = request.get("entry") or {}
    if not isinstance(url, str) or not isinstance(entry, dict):
        return {"ok": False, "error": "bad request: no webhook URL"}
    try:
        hook = webhook_from_entry(url, entry)
    except ConfigError as err:
        return {"ok": False, "error": str(err)}
    from glustereventsd.deliver import post_test  # imported here: only this command needs HTTP

    outcome = post_test(hook, int(now))
    if outcome.ok:
        return {"ok": True, "output": "OK"}
    return {"ok": False, "error": describe_outcome(outcome)}


def describe_outcome(outcome: Any) -> str:
    """``HTTP 503`` or the network error, as the WEBHOOK STATUS column shows it."""
    return str(outcome.detail or outcome.reason or f"HTTP {outcome.status}")


NODE_COMMANDS: Mapping[str, Handler] = {
    "node-status": node_status,
    "node-reload": node_reload,
    "node-sync": node_sync,
    "node-webhook-test": node_webhook_test,
}


def handle(command: str, request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Run one node command and return its answer with this node's id and protocol."""
    answer: Answer
    version = request.get("protocol", PROTOCOL)
    if version != PROTOCOL:
        answer = {"ok": False, "error": f"version mismatch: request protocol {version!r}, "
                                        f"this node speaks {PROTOCOL}"}
    else:
        try:
            answer = NODE_COMMANDS[command](request, paths, now)
        except CliError as err:
            answer = {"ok": False, "error": err.message}
        except OSError as err:
            answer = {"ok": False, "error": f"{err.filename or ''}: {err.strerror or err}".lstrip(": ")}
    try:
        from glustereventsd.nodeid import node_id

        answer["nodeid"] = node_id(paths)
    except OSError:
        answer["nodeid"] = ""
    answer["protocol"] = PROTOCOL
    return answer


def read_request(text: str) -> Mapping[str, Any]:
    """Parse the request line a node command got on stdin ({} when there is none)."""
    text = text.strip()
    if not text:
        return {}
    try:
        data = json.loads(text.splitlines()[0])
    except json.JSONDecodeError:
        raise CliError("bad request on stdin: not JSON") from None
    if not isinstance(data, dict):
        raise CliError("bad request on stdin: not a JSON object")
    return data
