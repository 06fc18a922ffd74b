"""Typed configuration: the option table, the layered config files and webhooks.json.

One table (``OPTIONS``) says, for every config key, its type, default, whether a change
needs a restart, and what it does. The CLI validates ``config-set`` with the same table, so
the daemon and the CLI can never disagree about what a valid value is. Old file forms are
normalised here and nowhere else.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glustereventsd.sinks import kinds, urls
from glustereventsd.sinks.http import proxies

# Re-exported: the daemon and the CLI import these from here.
from glustereventsd.errors import ConfigError as ConfigError
from glustereventsd.errors import ConfigFileError as ConfigFileError
from glustereventsd.base.filereader import read_json_object as read_json_object
from glustereventsd.models import Settings, Destination

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE_WORDS = frozenset({"1", "true", "on", "yes", "enabled", "enable", "y"})
FALSE_WORDS = frozenset({"0", "false", "off", "no", "disabled", "disable", "n"})


Converter = Callable[[object], object]


def to_bool(value: object) -> bool:
    """Convert a config or CLI value to a boolean, accepting the usual words."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError("must be a boolean: true/false, on/off, yes/no, enabled/disabled")


def int_between(low: int, high: int) -> Converter:
    """Make a converter to an integer in ``[low, high]``."""

    def convert(value: object) -> int:
        if isinstance(value, bool):
            raise ConfigError(f"must be an integer from {low} to {high}")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise ConfigError(f"must be an integer from {low} to {high}") from None
        if not low <= number <= high:
            raise ConfigError(f"must be an integer from {low} to {high}")
        return number

    return convert


def float_between(low: float, high: float) -> Converter:
    """Make a converter to a number of seconds in ``[low, high]``."""

    def convert(value: object) -> float:
        if isinstance(value, bool):
            raise ConfigError(f"must be a number from {low:g} to {high:g}")
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ConfigError(f"must be a number from {low:g} to {high:g}") from None
        if not low <= number <= high:
            raise ConfigError(f"must be a number from {low:g} to {high:g}")
        return number

    return convert


def one_of(*choices: str, upper: bool = False) -> Converter:
    """Make a converter to one of ``choices`` (case-insensitive)."""

    def convert(value: object) -> str:
        word = str(value).strip()
        word = word.upper() if upper else word.lower()
        if word not in choices:
            raise ConfigError(f"must be one of: {', '.join(choices)}")
        return word

    return convert


def to_text(value: object) -> str:
    """Accept any string (paths, user names)."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ConfigError("must be a string")
    return str(value).strip()


def to_header_text(value: object) -> str:
    """A value sent in an HTTP header (the bearer token): printable ASCII only."""
    text = to_text(value)
    if not all(" " <= char <= "~" for char in text):
        raise ConfigError("must be printable ASCII (it is sent in an HTTP header)")
    return text


def to_proxy(value: object) -> str:
    """A proxy setting: empty (the default), ``none`` (direct), or an http:// proxy URL."""
    text = to_text(value)
    if not text or text.lower() in proxies.NONE_WORDS:
        return text.lower()
    try:
        proxies.parse_proxy(text)
    except urls.UrlError as err:
        raise ConfigError(str(err)) from None
    return text


def to_format(value: object) -> str:
    """A webhook's format (``kinds.FORMATS``); the default, ``gluster``, is stored as ""."""
    text = to_text(value).lower()
    if text not in kinds.FORMATS:
        raise ConfigError(f"must be one of {', '.join(kinds.FORMATS)}")
    return "" if text == kinds.GLUSTER_FORMAT else text


def to_host_list(value: object) -> str:
    """A NO_PROXY-style list of hosts, domains and networks, separated by commas."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    entries = [str(item).strip() for item in items if str(item).strip()]
    for entry in entries:
        if any(ord(char) < 0x21 or ord(char) == 0x7F for char in entry):
            raise ConfigError("must be host names, domains or networks separated by commas, without spaces")
    return ",".join(entries)


def to_cidrs(value: object) -> tuple[str, ...]:
    """Convert a comma-separated string or a list to normalised CIDR networks."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    networks = []
    for item in items:
        text = str(item).strip()
        if not text or text.lower() == "any":
            continue
        try:
            networks.append(str(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            raise ConfigError(
                f"{text!r} is not a network: give CIDRs separated by commas, "
                "e.g. 10.0.0.0/8,192.168.1.0/24, or 'any'"
            ) from None
    return tuple(networks)


@dataclass(frozen=True)
class Option:
    """One config key: its type, its default and what it does."""

    name: str
    convert: Converter
    needs_restart: bool
    help: str
    sensitive: bool = False  # may hold a credential: never quoted in a message

    @property
    def field(self) -> str:
        """The ``Settings`` attribute that holds this option."""
        return self.name.replace("-", "_")

    @property
    def default(self) -> object:
        """The built-in default (the shipped defaults file may override it)."""
        value = getattr(Settings(), self.field)
        return list(value) if isinstance(value, tuple) else value


_OPTIONS = (
    Option("log-level", one_of(*LOG_LEVELS, upper=True), False,
           "Lowest level written to the daemon log."),
    Option("port", int_between(1, 65535), True,
           "UDP port the daemon listens on (Gluster 9 and later send to 55555)."),
    Option("disable-events-log", to_bool, False,
           "Stop writing every published event to events.log."),
    Option("event-numbering", one_of("3.10", "3.9"), False,
           "Event id numbering of the Gluster version that sends: 3.10 (3.10 to 11.x) or 3.9."),
    Option("max-datagram-bytes", int_between(64, 65507), False,
           "Longer datagrams are dropped and counted, never truncated."),
    Option("max-attributes", int_between(1, 4096), False,
           "Datagrams with more key=value pairs are dropped and counted."),
    Option("allowed-senders", to_cidrs, False,
           "Networks allowed to send events (comma-separated CIDRs); loopback is always allowed; "
           "empty or 'any' accepts every sender."),
    Option("sender-rate-limit", int_between(0, 1_000_000), False,
           "Events per second accepted from one source address (0: unlimited)."),
    Option("spool", one_of("disk", "memory"), True,
           "Where undelivered events wait: disk (durable, survives restarts) or memory."),
    Option("spool-max-events", int_between(100, 100_000_000), False,
           "Events kept per webhook (at most 100000 with spool memory); when full the oldest is dropped "
           "and counted."),
    Option("spool-max-bytes", int_between(65536, 1 << 40), False,
           "Bytes of event bodies kept per webhook; when full the oldest is dropped."),
    Option("max-event-age-secs", int_between(60, 90 * 86400), False,
           "An event still undelivered after this long moves to the dead letters."),
    Option("retry-min-backoff-secs", float_between(0.05, 3600), False,
           "First wait after a failed delivery; it doubles on each failure."),
    Option("retry-max-backoff-secs", float_between(0.1, 86400), False,
           "Longest wait between two delivery attempts."),
    Option("dead-letter-max", int_between(0, 10_000_000), False,
           "Dead letters kept per webhook (oldest removed first)."),
    Option("webhook-timeout-secs", float_between(0.1, 600), False,
           "Default connect and read timeout of one POST."),
    Option("webhook-concurrency", int_between(1, 64), False,
           "Most POSTs in flight to one webhook (1 keeps strict order): each webhook starts at 8 "
           "and adapts between 1 and this, growing while its response time holds and shrinking when it "
           "rises or the webhook answers 429 or 503; only as many are used as the backlog needs."),
    Option("nats-concurrency", int_between(1, 64), False,
           "Most events awaiting their PubAck per NATS sink, pipelined on one connection (1 keeps "
           "strict order in the stream even across retries): each sink starts here and adapts between 1 and "
           "this, as webhooks do."),
    Option("batch-wait-ms", float_between(0, 50), False,
           "Within a stream of events (each within 10 ms of the one before), how long the first of a turn "
           "waits for more, so that they are committed and handed over together (a lone event is never "
           "held): a longer wait costs less CPU per event and adds up to this much latency. Measured at "
           "2,000 events/s on 2 cores: 0.7 gives p99 2 ms and 0.12 s of CPU per 1,000 events; 3 gives p99 "
           "4 ms and 0.08 s."),
    Option("alert-resend-secs", float_between(5, 3600), False,
           "Alertmanager sinks: how often open conditions are sent again (Alertmanager forgets an alert "
           "that is not); each send keeps them firing for 4 periods."),
    Option("alert-generator-url", to_text, False,
           "Alertmanager sinks: the generatorURL of each alert, where an administrator sees the event, with "
           "{event}, {event_id} and {node} filled in (e.g. a log search for the event id); empty: none."),
    Option("webhook-proxy", to_proxy, False,
           "HTTP proxy for every webhook (http://[user:password@]host:port), 'none' for direct; empty: "
           "from the daemon's environment (https_proxy, http_proxy, no_proxy). A webhook's own --proxy wins. "
           "Give '-' to config-set to read it from stdin.", sensitive=True),
    Option("webhook-no-proxy", to_host_list, False,
           "Hosts, domains (.example.com) and networks (10.0.0.0/8) that webhook-proxy does not apply to."),
    Option("metrics-address", to_text, True, "Address of the Prometheus metrics endpoint."),
    Option("metrics-port", int_between(0, 65535), True,
           "Port of the Prometheus metrics endpoint (0: disabled)."),
    Option("ssh-user", to_text, False, "User the CLI logs in as on the peers."),
    Option("ssh-port", int_between(1, 65535), False, "SSH port of the peers."),
    Option("ssh-identity", to_text, False, "Private key file for SSH (empty: ssh's default)."),
    Option("ssh-config", to_text, False, "ssh_config file passed to ssh as -F (empty: none)."),
    Option("ssh-connect-timeout-secs", int_between(1, 300), False,
           "How long to wait for a peer's SSH connection."),
    Option("ssh-command-timeout-secs", int_between(1, 3600), False,
           "How long a peer may take to answer one command."),
    Option("ssh-parallel", int_between(1, 1024), False, "Peers contacted at once."),
    Option("ssh-host-key-checking", one_of("yes", "accept-new", "no"), False,
           "ssh StrictHostKeyChecking policy for peers."),
    Option("ssh-remote-command", to_text, False, "Command run on each peer (its CLI)."),
)

OPTIONS: Mapping[str, Option] = {option.name: option for option in _OPTIONS}
# Gluster 3.9 wrote log_level; accept the underscored spelling of every key.
ALIASES: Mapping[str, str] = {option.field: option.name for option in _OPTIONS}


def canonical_name(name: str) -> str:
    """Map a config key as typed (``log_level`` or ``log-level``) to its canonical name."""
    key = name.strip()
    key = ALIASES.get(key, key)
    if key not in OPTIONS:
        raise ConfigError(
            f"invalid config name {name!r}; valid names: {', '.join(OPTIONS)}"
        )
    return key


def convert_value(name: str, value: object) -> object:
    """Validate ``value`` for config key ``name`` and return it in its type."""
    key = canonical_name(name)
    try:
        converted = OPTIONS[key].convert(value)
    except ConfigError as err:
        shown = "(not shown: it may hold a password)" if OPTIONS[key].sensitive else repr(value)
        raise ConfigError(f"invalid value {shown} for {key}: {err}") from None
    return list(converted) if isinstance(converted, tuple) else converted


def _overlay(base: dict[str, object], path: Path, warnings: list[str]) -> None:
    for name, value in read_json_object(path).items():
        try:
            key = canonical_name(name)
        except ConfigError:
            warnings.append(f"{path}: ignoring unknown config name {name!r}")
            continue
        try:
            base[key] = convert_value(key, value)
        except ConfigError as err:
            raise ConfigFileError(path, str(err)) from None


def load_config_values(defaults_file: Path, config_file: Path) -> tuple[dict[str, object], list[str]]:
    """Merge built-in defaults, the shipped defaults file and cluster overrides.

    Returns the merged values by canonical name, and warnings for ignored keys.
    Raises ConfigFileError naming the file for a bad file or value.
    """
    values: dict[str, object] = {name: option.default for name, option in OPTIONS.items()}
    warnings: list[str] = []
    _overlay(values, defaults_file, warnings)
    _overlay(values, config_file, warnings)
    return values, warnings


def settings_from_values(values: Mapping[str, object]) -> Settings:
    """Build frozen ``Settings`` from values already converted by ``convert_value``."""
    fields: dict[str, Any] = {}
    for name, value in values.items():
        fields[OPTIONS[name].field] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(Settings(), **fields)


def load_settings(defaults_file: Path, config_file: Path) -> tuple[Settings, list[str]]:
    """Load the daemon's settings; raise ConfigFileError on a bad file."""
    values, warnings = load_config_values(defaults_file, config_file)
    return settings_from_values(values), warnings


# --- webhooks.json ---------------------------------------------------------------------

WEBHOOK_KEYS: Mapping[str, tuple[str, Converter]] = {
    "token": ("token", to_header_text),
    "secret": ("secret", to_text),
    "signing-secret": ("signing_secret", to_text),
    "timeout-secs": ("timeout_secs", float_between(0.1, 600)),
    "concurrency": ("concurrency", int_between(0, 64)),
    "ca-bundle": ("ca_bundle", to_text),
    "insecure-tls": ("insecure_tls", to_bool),
    "proxy": ("proxy", to_proxy),
    "client-cert": ("client_cert", to_text),
    "client-key": ("client_key", to_text),
    "events": ("events", lambda v: to_patterns(v)),
    "format": ("format", to_format),
    # NATS sinks (nats:// and tls:// URLs)
    "nats-token": ("nats_token", to_text),
    "nats-user": ("nats_user", to_text),
    "nats-password": ("nats_password", to_text),
    "nats-nkey": ("nats_nkey", to_text),
    "nats-creds": ("nats_creds", to_text),
}
NATS_AUTH_KEYS = ("nats-token", "nats-user", "nats-nkey", "nats-creds")  # at most one of these per sink


def to_patterns(value: object) -> tuple[str, ...]:
    """Event name patterns: a list of strings, or one comma-separated string."""
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            raise ConfigError("must be a list of event name patterns (strings)")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError("must be event name patterns: a list of strings or one comma-separated string")
    return tuple(p.strip() for p in value.split(",") if p.strip())


def validate_url(url: str, format: str = "") -> str:
    """Check a webhook URL (see ``weburl.parse``), NATS sink URL (``natsurl.parse``) or, with format
    ``alertmanager``, the Alertmanagers' URLs (``alertmanager.url``); return it stripped.

    Raises ConfigError. Messages quote the URL without its user info, query or fragment:
    they may hold secrets.
    """
    try:
        return urls.canonical(url, format)
    except urls.UrlError as err:
        raise ConfigError(str(err)) from None


def display_url(url: str) -> str:
    """A webhook URL safe for logs, tables and metric labels: no credentials, query or fragment."""
    return urls.display(url)


def webhook_from_entry(url: str, entry: object, base_dir: Path | None = None) -> Destination:
    """Normalise one webhooks.json entry: a bare token string (old form) or an object.

    A relative ``ca-bundle`` (the copies the CLI keeps and syncs, ``ca/<hash>.pem``) is
    resolved against ``base_dir``, the folder of webhooks.json.
    """
    if entry is None:
        entry = {}
    if isinstance(entry, str):  # Gluster 3.9: {"<url>": "<token>"}
        entry = {"token": entry}
    if not isinstance(entry, dict):
        raise ConfigError(f"entry for {display_url(url)!r} must be an object or a token string")
    fields: dict[str, object] = {}
    for key, value in entry.items():
        if key not in WEBHOOK_KEYS:
            continue  # written by a newer version: keep working
        attribute, convert = WEBHOOK_KEYS[key]
        if value is None or value == "":
            continue
        try:
            fields[attribute] = convert(value)
        except ConfigError as err:
            raise ConfigError(f"{key} of {display_url(url)!r}: {err}") from None
    for attribute in ("ca_bundle", "client_cert", "client_key", "nats_nkey", "nats_creds"):  # copies the CLI syncs
        name = fields.get(attribute)
        if isinstance(name, str) and base_dir is not None and not os.path.isabs(name):
            fields[attribute] = str(base_dir / name)
    if kinds.is_nats(url):
        if fields.get("format"):
            raise ConfigError(f"{display_url(url)!r}: format {fields['format']} is for webhooks; a NATS sink "
                              "publishes the Gluster body with its own headers")
        methods = [key for key in NATS_AUTH_KEYS if fields.get(WEBHOOK_KEYS[key][0])]
        if len(methods) > 1:
            raise ConfigError(f"{display_url(url)!r} sets {' and '.join(methods)}: a NATS sink authenticates "
                              "one way only; remove all but one")
        if bool(fields.get("nats_user")) != bool(fields.get("nats_password")):
            raise ConfigError(f"{display_url(url)!r}: nats-user and nats-password go together")
    return Destination(url=validate_url(url, str(fields.get("format", ""))), **fields)  # type: ignore[arg-type]


def parse_webhooks(data: Mapping[str, object], path: Path, events_dir: Path | None = None) -> list[Destination]:
    """Normalise the content of a webhooks.json file.

    Relative CA bundles are resolved against ``events_dir`` (default: the file's folder; a
    last-good copy kept elsewhere must pass the real events directory).
    """
    hooks = []
    for url, entry in data.items():
        try:
            hooks.append(webhook_from_entry(url, entry, events_dir or path.parent))
        except ConfigError as err:
            raise ConfigFileError(path, str(err)) from None
    return hooks


def load_webhooks(path: Path, events_dir: Path | None = None) -> list[Destination]:
    """Read webhooks.json; a missing file means no webhooks (see ``parse_webhooks``)."""
    return parse_webhooks(read_json_object(path), path, events_dir)


def file_mode_ok(path: Path) -> bool:
    """True when a file that may hold secrets is not readable by group or others."""
    try:
        return (os.stat(path).st_mode & 0o077) == 0
    except FileNotFoundError:
        return True
