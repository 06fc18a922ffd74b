"""The configuration commands: config-get, config-set, config-reset.

The effective configuration is the shipped defaults overlaid with the cluster's overrides
(config.json); set and reset change the overrides under their lock, then sync the pool.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from glustereventsd.config.options import OPTIONS, ConfigError, canonical_name, convert_value
from glustereventsd.sinks.http import proxies

from gluster_eventsapi.context import Context
from gluster_eventsapi.credentials import StdinSecrets
from gluster_eventsapi.errors import INVALID_CONFIG_TEXT, NOT_RESET_TEXT, SAME_CONFIG_TEXT, CliError, ExitStatus
from gluster_eventsapi.files import store
from gluster_eventsapi.pool.run import sync_pool
from gluster_eventsapi.results import NameValues, NodeTable

RESTART_NOTE = "Restart glustereventsd in all nodes"
# SPEC section 4: what /etc/glusterfs/eventsconfig.json ships. config-get lists these keys even
# when that file is missing (a package without it, or a GLUSTER_EVENTS_ROOT test tree).
SHIPPED_DEFAULTS: Mapping[str, object] = {"log-level": "INFO", "port": 24009,
                                          "disable-events-log": False}


def _config_name(name: str) -> str:
    try:
        return canonical_name(name)
    except ConfigError as err:
        raise CliError(f"{INVALID_CONFIG_TEXT}: {err}", ExitStatus.INVALID_CONFIG) from None


def display_name(name: str) -> str:
    """How config-get's table shows a key: the seed's spelling (``log_level``).

    ``--json`` uses the key as the files spell it (``log-level``), as Gluster's own CLI does.
    """
    return OPTIONS[name].field


def cmd_config_get(args: argparse.Namespace, ctx: Context) -> NameValues:
    """The effective configuration: shipped defaults overlaid with cluster overrides."""
    paths = ctx.get_paths()
    values, _ = store.merged_config(paths)
    if args.name is not None:
        names = [_config_name(args.name)]
    else:
        shipped = (store.keys_set_in(paths.defaults_file) if paths.defaults_file.exists()
                   else set(SHIPPED_DEFAULTS))
        shown = shipped | store.keys_set_in(paths.config_file)
        names = [name for name in OPTIONS if name in shown]
    return NameValues(tuple((display_name(name), _shown(name, values[name])) for name in names),
                      tuple(names))


def _shown(name: str, value: object) -> object:
    """A config value as config-get shows it: a proxy's password masked."""
    return proxies.masked(value) if name == "webhook-proxy" and isinstance(value, str) and value else value


def _restart_notes(names: list[str]) -> tuple[str, ...]:
    return (RESTART_NOTE,) if any(OPTIONS[n].needs_restart for n in names) else ()


def cmd_config_set(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Validate and set one cluster-wide config value, then sync the pool."""
    paths = ctx.get_paths()
    name = _config_name(args.name)
    raw = args.value
    if name == "webhook-proxy" and raw == "-":  # it may carry a password: keep it off argv
        raw = StdinSecrets(ctx).resolve(raw, "proxy URL") or ""
    try:
        value = convert_value(name, raw)
    except ConfigError as err:
        raise CliError(str(err), ExitStatus.INVALID_CONFIG) from None

    def change(data: dict[str, Any]) -> None:
        current, _ = store.merged_config(paths)
        if current[name] == value:
            raise CliError(SAME_CONFIG_TEXT, ExitStatus.CONFIG_UNCHANGED)
        for key in [k for k in data if _safe_canonical(k) == name]:
            del data[key]  # also drop the 3.9 spelling (log_level) of the same key
        data[name] = value

    store.modify_overrides(paths, change)
    return sync_pool(ctx, _restart_notes([name]))


def _safe_canonical(key: str) -> str:
    try:
        return canonical_name(key)
    except ConfigError:
        return key


def cmd_config_reset(args: argparse.Namespace, ctx: Context) -> NodeTable:
    """Remove one cluster override (or ``all``), then sync the pool."""
    paths = ctx.get_paths()
    reset_all = args.name.strip().lower() == "all"
    try:
        name = "" if reset_all else canonical_name(args.name)
    except ConfigError as err:  # as Gluster's own CLI: a name never set is at its default (exit 2)
        raise CliError(f"{NOT_RESET_TEXT}: {err}", ExitStatus.CONFIG_UNCHANGED) from None
    removed: list[str] = []

    def change(data: dict[str, Any]) -> None:
        keys = [k for k in data if reset_all or _safe_canonical(k) == name]
        if not keys:
            raise CliError(NOT_RESET_TEXT, ExitStatus.CONFIG_UNCHANGED)
        for key in keys:
            del data[key]
            if _safe_canonical(key) in OPTIONS:
                removed.append(_safe_canonical(key))

    store.modify_overrides(paths, change)
    return sync_pool(ctx, _restart_notes(removed))
