"""Values that flow between the daemon's stages and the CLI: immutable and import-free.

Values created once per event are NamedTuples: a frozen dataclass costs several times more
to create, and the pipeline makes a few of them per event.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class RawEvent(NamedTuple):
    """A datagram that parsed: Gluster's own fields, before any conversion."""

    ts: int
    type_id: int
    pairs: tuple[tuple[str, str], ...]
    null_detail: bool = False  # the detail was "(null)": Gluster formatted a C NULL string


class Event(NamedTuple):
    """An event ready to publish: the four keys of the webhook body."""

    name: str
    ts: int
    message: dict[str, object]
    nodeid: str


@dataclass(frozen=True)
class Destination:
    """One registered destination, a webhook or a NATS sink (its URL says which: ``sinks.kinds``),
    and its delivery settings; webhooks.json holds them, keyed by URL.

    ``token``, ``secret``, ``signing_secret``, ``nats_token`` and ``nats_password`` are
    credentials: never log or print them.
    """

    url: str
    token: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)  # HS256 JWT secret (the original's ``secret``)
    signing_secret: str = field(default="", repr=False)  # Standard Webhooks, ``whsec_<base64>``
    timeout_secs: float = 0.0  # 0: the daemon's webhook-timeout-secs
    concurrency: int = 0  # 0: the daemon's webhook-concurrency
    ca_bundle: str = ""
    insecure_tls: bool = False
    events: tuple[str, ...] = ()  # glob patterns of event names; empty: every event
    proxy: str = field(default="", repr=False)  # "": daemon default; "none": direct; else a proxy URL
    client_cert: str = ""  # PEM client certificate for mTLS (a path)
    client_key: str = ""  # its PEM key (a path), when not in the certificate file
    # NATS sinks only (nats:// or tls:// URLs): at most one way to authenticate.
    nats_token: str = field(default="", repr=False)
    nats_user: str = ""
    nats_password: str = field(default="", repr=False)
    nats_nkey: str = ""  # a file holding an NKey user seed (a path)
    nats_creds: str = ""  # a .creds file: user JWT and NKey seed (a path)
    # Webhooks only: what a POST carries. "": Gluster's body as is; "cloudevents": the same body as a
    # CloudEvent in HTTP binary mode; "alertmanager": the url lists Alertmanagers, events become alerts.
    format: str = ""

    def describe_auth(self) -> str:
        """Name the authentication in use without revealing it."""
        for kind, value in (("nats-creds", self.nats_creds), ("nats-nkey", self.nats_nkey),
                            ("nats-user", self.nats_user), ("nats-token", self.nats_token)):
            if value:
                return kind
        kinds = []
        if self.secret:
            kinds.append("jwt")
        elif self.token:
            kinds.append("bearer")
        if self.signing_secret:
            kinds.append("signed")
        return "+".join(kinds) or "none"


@dataclass(frozen=True)
class Settings:
    """The daemon's validated configuration (shipped defaults + cluster overrides)."""

    log_level: str = "INFO"
    port: int = 24009
    disable_events_log: bool = False
    event_numbering: str = "3.10"
    max_datagram_bytes: int = 8192
    max_attributes: int = 64
    allowed_senders: tuple[str, ...] = ()  # CIDRs; empty: any sender
    sender_rate_limit: int = 0  # events/s per source address; 0: unlimited
    spool: str = "disk"  # "disk" (durable) or "memory"
    spool_max_events: int = 1_000_000
    spool_max_bytes: int = 512 * 1024 * 1024
    max_event_age_secs: int = 86_400
    retry_min_backoff_secs: float = 1.0
    retry_max_backoff_secs: float = 300.0
    dead_letter_max: int = 10_000
    webhook_timeout_secs: float = 10.0
    webhook_concurrency: int = 64  # the ceiling of each webhook's adaptive limit (sinks.concurrency)
    nats_concurrency: int = 64  # NATS sinks: the ceiling of publications awaiting their PubAck (pipelined on one connection)
    batch_wait_ms: float = 0.7  # within a stream of events, the pipeline's wait for more before a turn (pipeline.thread)
    alert_resend_secs: float = 60.0  # Alertmanager sinks: open conditions are posted again this often
    alert_generator_url: str = ""  # Alertmanager sinks: generatorURL template ({event}, {event_id}, {node})
    webhook_proxy: str = ""  # "": from the environment; "none": direct; else a proxy URL for every webhook
    webhook_no_proxy: str = ""  # hosts webhook-proxy does not apply to (NO_PROXY syntax)
    metrics_address: str = "127.0.0.1"
    metrics_port: int = 0  # 0: no metrics endpoint
    ssh_user: str = "root"
    ssh_port: int = 22
    ssh_identity: str = ""
    ssh_config: str = ""
    ssh_connect_timeout_secs: int = 5
    ssh_command_timeout_secs: int = 30
    ssh_parallel: int = 64
    ssh_host_key_checking: str = "accept-new"
    ssh_remote_command: str = "gluster-eventsapi"


class OutcomeKind(enum.Enum):
    """How one delivery attempt ended."""

    DELIVERED = "delivered"
    RETRY = "retry"  # worth trying again later: network error, timeout, 5xx, 408, 429
    REJECT = "reject"  # will never succeed as it is: other 4xx, 3xx, bad URL


class Outcome(NamedTuple):
    """The result of one POST: what happened, why, and when to try again if at all.

    A NamedTuple, not a frozen dataclass: one is made per delivery attempt, and a frozen
    dataclass costs several times more to build (measured on the delivery path).
    """

    kind: OutcomeKind
    reason: str = ""  # short, from a fixed vocabulary: http_503, timeout, connect, ...
    status: int = 0
    retry_after_secs: float | None = None
    detail: str = ""  # human text for logs; never a secret

    @property
    def ok(self) -> bool:
        """True when the webhook accepted the request (2xx)."""
        return self.kind is OutcomeKind.DELIVERED


class Datagram(NamedTuple):
    """Bytes as received, where from and when."""

    data: bytes
    sender: str
    received: float


class NewEvent(NamedTuple):
    """An accepted event before it is spooled: the fields every webhook's record shares."""

    event_id: str
    seq: int
    name: str
    ts: int
    received: float
    body: bytes
