"""This node's part of every pool-wide command (the hidden ``node-*`` subcommands).

Each handler takes the request object the CLI sent (on stdin over SSH, or directly for the
local node) and returns the answer object that goes back as exactly one JSON line:
``{"ok": true, "output": "UP", "nodeid": "...", "protocol": 2}`` or
``{"ok": false, "error": "...", ...}``. Handlers never print and never raise for a bad request.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glustereventsd.sinks import kinds
from glustereventsd.base import filereader
from glustereventsd.runtime import reloader
from glustereventsd.runtime import runstate
from glustereventsd.config import nodeid
from glustereventsd.config.options import ConfigError, load_webhooks, webhook_from_entry
from glustereventsd.base.fsutil import atomic_write_bytes
from glustereventsd.base.paths import Paths

from gluster_eventsapi.pool import service
from gluster_eventsapi.files import store
from gluster_eventsapi.files import tlsfiles
from gluster_eventsapi.errors import CliError
from gluster_eventsapi.results import PROTOCOL

if TYPE_CHECKING:
    from gluster_eventsapi.context import Context

Answer = dict[str, Any]
Handler = Callable[[Mapping[str, Any], Paths, float], Answer]
NOT_RUNNING = "glustereventsd is not running on this node; the files take effect when it starts"


def node_status(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Report whether this node's glustereventsd holds its pid file."""
    return {"ok": True, "output": "UP" if service.is_running(paths) else "DOWN"}


def _confirm_timeout(paths: Paths) -> float:
    try:
        values, _ = store.merged_config(paths)
        command_timeout = float(values["ssh-command-timeout-secs"])  # type: ignore[arg-type]
    except (CliError, KeyError, TypeError, ValueError):
        command_timeout = reloader.CONFIRM_SECS + service.RELOAD_MARGIN_SECS
    return service.confirm_timeout(command_timeout)


def _reload_answer(paths: Paths, answer: Answer) -> Answer:
    """Reload this node's daemon; OK only once it confirms that the files are in force."""
    outcome = service.reload_applied(paths, _confirm_timeout(paths))
    if outcome.state == reloader.ERROR:
        return {**answer, "ok": False, "error": outcome.detail}
    if outcome.state in (reloader.REFUSED, reloader.NOT_CONFIRMED):
        return {**answer, "ok": False, "error": f"not applied ({outcome.detail})"}
    warnings = [NOT_RUNNING] if outcome.state == reloader.NOT_RUNNING else []
    warnings += [w for w in [_missing_tls_files(paths)] if w]
    if warnings:
        answer["warning"] = "; ".join(warnings)
    return answer


def node_reload(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Reload this node's daemon and wait until applied; a stopped daemon is a warning, not a failure."""
    return _reload_answer(paths, {"ok": True, "output": "OK"})


def _install(path: Path, text: str, check: Callable[[dict[str, Any], Path], None]) -> None:
    kind = filereader.kind_of(path)
    advice = f"this node kept its file: {filereader.RECEIVED}"
    if len(text) > kind.max_bytes or len(text.encode("utf-8", "surrogatepass")) > kind.max_bytes:
        raise CliError(f"{path}: received content is over the {kind.max_bytes:,} bytes this file may hold; "
                       f"{advice}")
    try:
        data = filereader.parse_json_object(text, path, advice)
    except ConfigError as err:
        raise CliError(f"received content for {err}") from None
    check(data, path)
    with store.file_lock(path):
        try:
            atomic_write_bytes(path, text.encode("utf-8"), store.FILE_MODE)
        except OSError as err:
            raise CliError(f"{path}: cannot write: {err.strerror or err} (this node kept its "
                           "old file; fix the cause, then run 'gluster-eventsapi sync')") from None


SYNCED_FILES: tuple[tuple[str, Callable[[Paths], Path], Callable[[dict[str, Any], Path], None]], ...] = (
    ("webhooks", lambda p: p.webhooks_file, store.check_webhooks),
    ("config", lambda p: p.config_file, store.check_config),
)


def _install_bundles(request: Mapping[str, Any], paths: Paths) -> str:
    """Write the TLS files the sender's webhooks use (before its webhooks.json); an error or ""."""
    files = request.get("tls_files") or {}
    if not isinstance(files, dict):
        return "tls_files: bad request"
    for name, text in files.items():
        if not isinstance(name, str) or not isinstance(text, str):
            return "tls_files: bad request"
        try:
            tlsfiles.install_received(paths.events_dir, name, text)
        except CliError as err:
            return err.message
    return ""


def prune_bundles(paths: Paths) -> None:
    """Drop the managed CA bundles this node's webhooks.json no longer uses.

    Under the webhooks.json lock and from the file as it is then, so a bundle that a
    concurrent webhook-add has just stored (under the same lock) is never taken away.
    """
    with store.file_lock(paths.webhooks_file):
        try:
            webhooks = store.read_webhooks(paths)
        except CliError:
            return  # unreadable: keep every bundle, the file's problem is reported elsewhere
        tlsfiles.prune(paths.events_dir, tlsfiles.referenced(webhooks))


def node_sync(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Write the received CA bundles, webhooks.json and config.json atomically, then reload the daemon."""
    failed: list[str] = []
    errors: list[str] = []
    problem = _install_bundles(request, paths)
    if problem:  # webhooks.json would name bundles this node lacks: keep the old files
        return {"ok": False, "failed": ["webhooks"], "error": problem}
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
    if request.get("webhooks") is not None:
        prune_bundles(paths)
    return _reload_answer(paths, {"ok": True, "output": "OK"})


def _missing_tls_files(paths: Paths) -> str:
    """A warning naming the TLS files (CA bundles, client certificates) webhooks.json refers to but this node lacks."""
    try:
        hooks = load_webhooks(paths.webhooks_file, paths.events_dir)
    except ConfigError:
        return ""
    named = {name for hook in hooks
             for name in (hook.ca_bundle, hook.client_cert, hook.client_key, hook.nats_nkey, hook.nats_creds) if name}
    missing = sorted(name for name in named if not Path(name).is_file())
    if not missing:
        return ""
    managed = {paths.events_dir / "ca", paths.events_dir / "tls", paths.events_dir / "nats"}
    if all(Path(name).parent in managed for name in missing):
        advice = ("run 'gluster-eventsapi sync' from a node that has it, or set it again with "
                  "'gluster-eventsapi webhook-mod URL --ca-bundle FILE' (or --client-cert/--client-key, "
                  "--nats-nkey, --nats-creds)")
    else:
        advice = "copy it there"
    nats_files = {name for hook in hooks for name in (hook.nats_nkey, hook.nats_creds) if name}
    what = "NATS credential file" if set(missing) <= nats_files else "TLS file"
    return f"{what} {', '.join(missing)} missing on this node: {advice}, or deliveries from this node that need it fail"


def _known_node_id(paths: Paths) -> str:
    """This node's id as the daemon names it (glusterd's UUID, or the one it generated); "" if none yet."""
    try:
        return nodeid.read_glusterd_uuid(paths.glusterd_info) or nodeid.read_node_id(paths.node_id_file) or ""
    except (ConfigError, OSError):
        return ""


def node_webhook_test(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """POST the test request of SPEC section 3 from this node and report the outcome."""
    url = request.get("url")
    entry = request.get("entry") or {}
    if not isinstance(url, str) or not isinstance(entry, dict):
        return {"ok": False, "error": "bad request: no webhook URL"}
    try:
        hook = webhook_from_entry(url, entry, paths.events_dir)
    except ConfigError as err:
        return {"ok": False, "error": str(err)}

    if kinds.is_nats(url):
        return _nats_sink_test(hook, paths)
    from glustereventsd.sinks.http import proxies  # imported here: only this command needs HTTP
    from glustereventsd.sinks.http import probe
    from glustereventsd.sinks.alertmanager import probe as alert_probe
    from glustereventsd.config.options import load_settings

    try:
        settings, _ = load_settings(paths.defaults_file, paths.config_file)
        layer = proxies.config_rules(settings.webhook_proxy, settings.webhook_no_proxy)
    except ConfigError as err:
        return {"ok": False, "error": f"cannot read the proxy settings: {err}"}
    send = alert_probe.send_test if kinds.kind_of(url, hook.format) == kinds.ALERTMANAGER else probe.send_test
    outcome = send(hook, int(now), hook.timeout_secs or settings.webhook_timeout_secs,
                                 proxy_config=layer, environment=service.daemon_environment(paths),
                                 nodeid=_known_node_id(paths))
    if outcome.ok:
        return {"ok": True, "output": "OK"}
    return {"ok": False, "error": describe_outcome(outcome)}


def _nats_sink_test(hook: Any, paths: Paths) -> Answer:
    """``webhook-test`` of a NATS sink: connect and authenticate, then check that streams capture its subjects."""
    import eventtypes
    from glustereventsd.sinks.nats import stream as natsstream
    from glustereventsd.config.options import load_settings
    from glustereventsd.config.nodeid import node_id

    try:
        settings, _ = load_settings(paths.defaults_file, paths.config_file)
    except ConfigError as err:
        return {"ok": False, "error": f"cannot read the settings: {err}"}
    hook = dataclasses.replace(hook, timeout_secs=hook.timeout_secs or settings.webhook_timeout_secs)
    result = natsstream.test_sink(hook, node_id(paths), eventtypes.names_for(settings.event_numbering),
                                  retry_max_secs=settings.retry_max_backoff_secs)
    if not result.outcome.ok:
        return {"ok": False, "error": describe_outcome(result.outcome)}
    answer: Answer = {"ok": True, "output": f"OK: {result.outcome.detail}", "data": {"detail": result.outcome.detail}}
    if result.warning:
        answer["warning"] = result.warning
    return answer


def describe_outcome(outcome: Any) -> str:
    """``HTTP 503`` or the network error, as the WEBHOOK STATUS column shows it."""
    return str(outcome.detail or outcome.reason or f"HTTP {outcome.status}")


NEWEST_DEAD_LETTERS = 5


def _age(now: float, at: float) -> float | None:
    return round(max(0.0, now - at), 1) if at else None


def _spool_error(paths: Paths, err: Exception) -> Answer:
    return {"ok": False, "error": f"cannot read the spool {paths.spool_file}: {err} "
                                  "(is the disk full or the file damaged?)"}


def node_webhook_status(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """This node's delivery state of each requested webhook (zeros where nothing ran)."""
    urls = request.get("urls")
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        return {"ok": False, "error": "bad request: no webhook URLs"}
    from glustereventsd.spool import admin as spool

    try:
        found = {s.url: s for s in spool.read_status(paths.spool_file, now)}
    except sqlite3.Error as err:
        return _spool_error(paths, err)
    memory_only, spool_error, limits = _delivery_figures(paths)
    hooks = []
    for url in urls:
        state = found.get(url)
        hooks.append({
            "url": url,
            "queued": state.queued if state else 0,
            "memory_only": memory_only.get(runstate.webhook_key(url), 0),
            "delivered": state.delivered if state else 0,
            "retried": state.retried if state else 0,
            "dropped": state.dropped if state else 0,
            "dead_letters": state.dead_letters if state else 0,
            "oldest_age_secs": round(state.oldest_age_secs, 1) if state else 0.0,
            "last_error": state.last_error if state else "",
            "last_error_age_secs": _age(now, state.last_error_at) if state else None,
            "last_success_age_secs": _age(now, state.last_success_at) if state else None,
        })
        limit = limits.get(runstate.webhook_key(url))  # only the running daemon knows it
        hooks[-1]["concurrency_limit"] = limit[0] if limit else None
        hooks[-1]["concurrency_reason"] = limit[1] if limit else ""
        if kinds.is_nats(url):  # deliveries the stream already held (a retry stored once)
            hooks[-1]["duplicates"] = state.duplicates if state else 0
    answer: Answer = {"ok": True, "output": "OK", "data": hooks}
    held = sum(int(hook["memory_only"]) for hook in hooks)
    if spool_error or held:
        answer["warning"] = (f"{held} events wait in memory only, not in the spool"
                             + (f" (it cannot be written: {spool_error})" if spool_error else "")
                             + ": they are lost if the daemon stops; free the disk (or fix the spool) and they are "
                             "spooled and delivered as usual")
    return answer


def node_conditions(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """This node's conditions and alarms (its spool's ``conditions`` table), each as a dict."""
    from glustereventsd.spool import admin as spool

    try:
        rows = spool.read_conditions(paths.spool_file)
    except sqlite3.Error as err:
        return _spool_error(paths, err)
    data = []
    for row in rows:
        try:
            labels = json.loads(row.labels)
            annotations = json.loads(row.annotations)
        except ValueError:
            continue
        data.append({"key": row.key, "alertname": row.alertname, "kind": row.kind, "labels": labels,
                     "summary": str(annotations.get("summary", "")), "opened_at": row.opened_at,
                     "last_open_at": row.last_open_at, "closed_at": row.closed_at, "ends_at": row.ends_at,
                     "open_event": row.open_event, "close_event": row.close_event})
    return {"ok": True, "output": "OK", "data": data}


def _delivery_figures(paths: Paths) -> tuple[dict[str, int], str, dict[str, tuple[int, str]]]:
    """The running daemon's memory-only counts, spool error and in-flight limits (by webhook key), from its
    status file."""
    state = runstate.read_status(paths.runtime_status_file)
    if state is None or state.pid != service.daemon_pid(paths):
        return {}, "", {}  # no daemon, or a file left by another one
    section = state.sections.get("delivery")
    if not isinstance(section, dict):
        return {}, "", {}
    counts = section.get("memory_only")
    error = section.get("spool_error")
    clean = {str(key): value for key, value in counts.items() if isinstance(value, int)} if isinstance(counts, dict) else {}
    found = section.get("concurrency")
    limits = {str(key): (value[0], value[1]) for key, value in found.items()
              if isinstance(value, list) and len(value) == 2 and isinstance(value[0], int)
              and isinstance(value[1], str)} if isinstance(found, dict) else {}
    return clean, error if isinstance(error, str) else "", limits


def node_webhook_redeliver(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """List this node's dead letters of a webhook, or re-queue them and reload the daemon."""
    url = request.get("url")
    if not isinstance(url, str) or not url:
        return {"ok": False, "error": "bad request: no webhook URL"}
    from glustereventsd.spool import admin as spool

    try:
        if request.get("list"):
            count = sum(s.dead_letters for s in spool.read_status(paths.spool_file, now)
                        if s.url == url)
            newest = [{"event": d.name, "seq": d.seq, "event_id": d.event_id, "ts": d.ts,
                       "reason": d.reason, "age_secs": _age(now, d.died)}
                      for d in spool.list_dead(paths.spool_file, url, NEWEST_DEAD_LETTERS)]
            return {"ok": True, "output": str(count), "data": {"count": count, "newest": newest}}
        if service.is_running(paths):  # the daemon moves them itself, on the reload below
            moved = spool.request_requeue(paths.spool_file, url)
        else:
            moved = spool.requeue_dead(paths.spool_file, url)
    except sqlite3.Error as err:
        return _spool_error(paths, err)
    answer: Answer = {"ok": True, "output": str(moved), "data": {"requeued": moved}}
    if not moved:
        return answer
    return _reload_after(paths, answer, f"re-queued {moved}", "they are delivered when it starts")


def _reload_after(paths: Paths, answer: Answer, done: str, when_started: str) -> Answer:
    """``answer`` once the daemon was asked to reload, to act on what ``done`` changed in its spool;
    a warning when it is not running (``when_started`` says what happens then), an error when the
    signal could not be sent."""
    try:
        running = service.reload(paths)
    except service.ReloadError as err:
        return {**answer, "ok": False, "error": f"{done}, but {err}"}
    if not running:
        answer["warning"] = f"{done}; glustereventsd is not running on this node: {when_started}"
    return answer


def node_condition_clear(request: Mapping[str, Any], paths: Paths, now: float) -> Answer:
    """Close this node's open conditions that match the request, then reload the daemon so that its
    Alertmanager sinks post the resolutions at once (a stopped daemon posts them when it starts)."""
    alertname, key, labels = request.get("alertname", ""), request.get("key", ""), request.get("labels", {})
    if not isinstance(alertname, str) or not isinstance(key, str) or not isinstance(labels, dict) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()) \
            or not (alertname or key or labels):
        return {"ok": False, "error": "bad request: no condition chosen"}
    from glustereventsd.spool import admin as spool

    try:
        cleared = spool.clear_conditions(paths.spool_file, alertname, labels, key, now)
    except sqlite3.Error as err:
        return _spool_error(paths, err)
    answer: Answer = {"ok": True, "output": str(len(cleared)), "data": {"cleared": cleared}}
    if not cleared:
        return answer
    return _reload_after(paths, answer, f"cleared {len(cleared)}",
                         "its Alertmanager sinks post the resolution when it starts")


NODE_COMMANDS: Mapping[str, Handler] = {
    "node-status": node_status,
    "node-reload": node_reload,
    "node-sync": node_sync,
    "node-webhook-test": node_webhook_test,
    "node-webhook-status": node_webhook_status,
    "node-webhook-redeliver": node_webhook_redeliver,
    "node-conditions": node_conditions,
    "node-condition-clear": node_condition_clear,
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
        from glustereventsd.config.nodeid import node_id

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
        data = filereader.loads(text.splitlines()[0])
    except ValueError as err:
        raise CliError(f"bad request on stdin: {err}") from None
    if not isinstance(data, dict):
        raise CliError("bad request on stdin: not a JSON object")
    return data


def main(command: str, extra_args: list[str], ctx: Context) -> int:
    """Run a hidden node command: read the request on stdin, print exactly one JSON line."""
    if extra_args:
        ctx.stderr.write(f"gluster-eventsapi {command}: takes no arguments (the request comes on stdin)\n")
        return 2  # argparse's usage-error status
    answer: Answer
    try:
        request = read_request(ctx.stdin.read() if not ctx.stdin.isatty() else "")
    except CliError as err:
        answer = {"ok": False, "error": err.message, "protocol": PROTOCOL}
    else:
        answer = handle(command, request, ctx.get_paths(), ctx.clock())
    try:
        ctx.stdout.write(json.dumps(answer, sort_keys=True) + "\n")
        ctx.stdout.flush()
    except BrokenPipeError:
        pass
    return 0
