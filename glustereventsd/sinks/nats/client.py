"""Connecting one NATS sink: its servers, credentials and TLS, within a deadline; errors in words.

``settings_for`` turns a sink's settings (a ``Webhook`` with a ``nats://`` URL) into what a
connection needs, reading and checking its credential files once: an NKey seed file or a
``.creds`` file that cannot be used is a clear error here, never a hang inside nats-py
(which loops forever on a ``.creds`` file without a JWT block). ``connect`` opens a
nats-py client that then reconnects by itself (to any server of the cluster), and gives up
after the sink's timeout, or at once when the server refuses the credentials.

Credentials are passed to nats-py as callbacks that refuse to hand them over a connection
that is not TLS when the sink wants TLS (``tls://``, a CA bundle or a client certificate):
a server (or a man in the middle) that does not upgrade never sees the token or password.
Nothing here logs; messages never contain a credential.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.client import Client, RawCredentials
from nats.errors import Error as NatsError

from glustereventsd.sinks.nats import creds as natscreds
from glustereventsd.sinks.nats import url as natsurl
from glustereventsd.sinks import tls as tlsconfig
from glustereventsd.base.fsutil import open_regular
from glustereventsd.models import Destination
from glustereventsd.sinks.nats.url import NatsUrl

DEFAULT_TIMEOUT_SECS = 10.0
RECONNECT_WAIT_SECS = 1  # between two attempts at the same server (others are tried at once)
PING_SECS = 5  # a server that stops answering is left after MAX_PINGS missed pings
MAX_PINGS = 3
PENDING_BYTES = 4 * 1024 * 1024  # what nats-py buffers while reconnecting


_REFUSED_HANDSHAKE = ("BAD_CERTIFICATE", "CERTIFICATE_REQUIRED", "HANDSHAKE_FAILURE", "UNKNOWN_CA",
                      "CERTIFICATE_UNKNOWN")


class _QuietSslEof(logging.Filter):
    """Drop asyncio's "returning true from eof_received() has no effect when using ssl" (nats-py's
    TLS transport triggers it on every close): noise in the daemon log and on the CLI's stderr."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received()" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietSslEof())


class ConnectError(Exception):
    """A sink could not connect; ``reason`` is from a fixed vocabulary, the message says why in words."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # connect, auth, tls


class _TlsMissing(NatsError):
    """Raised (inside nats-py) instead of sending credentials over a connection that is not TLS."""

    def __str__(self) -> str:
        return "nats: the server did not upgrade the connection to TLS"


@dataclass(frozen=True)
class NatsSettings:
    """Everything one sink's connection needs, checked."""

    url: NatsUrl
    timeout_secs: float
    tls: ssl.SSLContext | None = None  # None: nats-py's default context if the server requires TLS
    tls_wanted: bool = False  # tls://, or TLS files given: never talk to this sink in the clear
    token: str = field(default="", repr=False)
    user: str = ""
    password: str = field(default="", repr=False)
    nkey_seed: str = field(default="", repr=False)  # the seed itself (read from the sink's file)
    creds: str = field(default="", repr=False)  # the .creds file's text

    def describe_auth(self) -> str:
        """How this sink authenticates, without revealing anything."""
        if self.creds:
            return "a .creds file"
        if self.nkey_seed:
            return "an NKey seed"
        if self.user:
            return f"user {self.user!r} and a password"
        if self.token:
            return "a token"
        return "no credentials"


def read_credential_file(path: str, what: str, kind: str) -> str:
    """The text of a credential file (``kind`` "seed" or "creds"), checked; OSError naming the file, never its content."""
    try:  # a regular file only: a FIFO here would hold the whole NATS loop in open()
        with os.fdopen(open_regular(path, os.O_RDONLY), "rb") as handle:
            data = handle.read(natscreds.MAX_FILE_BYTES + 1)
    except OSError as err:
        raise OSError(f"cannot read the {what} {path}: {err.strerror or err}") from None
    problem = natscreds.text_problem(data, kind)
    if problem:
        raise OSError(f"cannot use the {what} {path}: {problem}")
    return data.decode("ascii")


def settings_for(hook: Destination) -> NatsSettings:
    """The connection settings of a sink. Raises ValueError (bad URL) or OSError (a file)."""
    url = natsurl.parse(hook.url)
    tls_files = bool(hook.ca_bundle or hook.client_cert)
    context = tlsconfig.context_for(hook) if (tls_files or hook.insecure_tls or url.tls_required) else None
    return NatsSettings(
        url=url,
        timeout_secs=hook.timeout_secs or DEFAULT_TIMEOUT_SECS,
        tls=context,
        tls_wanted=url.tls_required or tls_files,
        token=hook.nats_token,
        user=hook.nats_user,
        password=hook.nats_password,
        nkey_seed=read_credential_file(hook.nats_nkey, "NKey seed file", "seed").strip() if hook.nats_nkey else "",
        creds=read_credential_file(hook.nats_creds, ".creds file", "creds") if hook.nats_creds else "",
    )


def tls_in_use(client: Client) -> bool:
    """True when the server upgraded this connection to TLS (nats-py does so exactly when it asks)."""
    info = getattr(client, "_server_info", None)  # nats-py keeps the INFO it acted on here
    return isinstance(info, dict) and bool(info.get("tls_required"))


ErrorNote = Callable[[str], None]
MAX_CONNECT_ERRORS = 64  # kept per connect attempt: one per server refusal is all it reads


async def connect(settings: NatsSettings, name: str, on_error: ErrorNote | None = None,
                  on_change: ErrorNote | None = None) -> Client:
    """A connected client for ``settings``; ConnectError after the timeout or a refusal.

    The client reconnects by itself afterwards (forever, to any server it knows of);
    ``on_error`` hears every error it reports, in words, so a timed-out publish can say why;
    ``on_change`` hears "disconnected" and "reconnected to HOST:PORT" once connected.
    """
    client = Client()
    errors: list[BaseException] = []
    refused = asyncio.Event()

    async def error_cb(err: Exception) -> None:
        if connecting.done():  # connected: the client reconnects by itself; only say why
            if on_error is not None:
                on_error(describe(err, settings))
            return
        if len(errors) < MAX_CONNECT_ERRORS:  # kept only while this connect is tried
            errors.append(err)
        # Credentials or TLS refused: retrying cannot help. Every server of the URL refused the
        # connection once: the outlet's backoff decides when to try again, not a busy loop here.
        if _is_refusal(err) or (not client.is_connected and len(errors) >= len(settings.url.servers)
                                and all(isinstance(e, ConnectionRefusedError) for e in errors)):
            refused.set()
        if on_error is not None:
            on_error(describe(err, settings))

    async def disconnected_cb() -> None:
        if on_change is not None and connecting.done():
            on_change("disconnected from the server; reconnecting")

    async def reconnected_cb() -> None:
        if on_change is not None:
            where = client.connected_url.netloc if client.connected_url else "?"
            on_change(f"reconnected to {where}")

    def guarded(value: str) -> Callable[[], str]:
        def give() -> str:
            if settings.tls_wanted and not tls_in_use(client):
                raise _TlsMissing()
            return value
        return give

    options: dict[str, object] = {}
    if settings.user:
        options.update(user=guarded(settings.user), password=guarded(settings.password))
    elif settings.token:
        options["token"] = guarded(settings.token)
    elif settings.nkey_seed:
        options["nkeys_seed_str"] = settings.nkey_seed
    elif settings.creds:
        options["user_credentials"] = RawCredentials(settings.creds)
    if settings.tls is not None:
        options["tls"] = settings.tls
    attempt = max(1.0, min(settings.timeout_secs, 5.0))
    connecting = asyncio.ensure_future(client.connect(
        servers=settings.url.server_urls, name=name, error_cb=error_cb, disconnected_cb=disconnected_cb,
        reconnected_cb=reconnected_cb, allow_reconnect=True,
        max_reconnect_attempts=-1, reconnect_time_wait=RECONNECT_WAIT_SECS, connect_timeout=int(attempt),
        ping_interval=PING_SECS, max_outstanding_pings=MAX_PINGS, pending_size=PENDING_BYTES,
        **options))  # type: ignore[arg-type]
    refusal = asyncio.ensure_future(refused.wait())
    try:
        await asyncio.wait({connecting, refusal}, timeout=settings.timeout_secs,
                           return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:  # the daemon stops: leave at once
        connecting.cancel()
        await close_quietly(client, 0.2)
        raise
    finally:
        refusal.cancel()
    if connecting.done() and not connecting.cancelled() and connecting.exception() is None:
        if settings.tls_wanted and not tls_in_use(client):
            await close_quietly(client)
            raise ConnectError("tls", _no_tls(settings))
        return client
    connecting.cancel()
    await close_quietly(client)
    if connecting.done() and not connecting.cancelled() and connecting.exception() is not None:
        errors.append(connecting.exception())  # type: ignore[arg-type]
    last = errors[-1] if errors else None
    del errors[:]
    if last is None:
        raise ConnectError("connect", f"cannot connect to {settings.url.servers_text}: no server answered "
                                      f"within {settings.timeout_secs:g}s")
    raise ConnectError(_reason(last), f"cannot connect to {settings.url.servers_text}: {describe(last, settings)}")


async def close_quietly(client: Client, wait_secs: float = 1.0) -> None:
    """Close a client, giving up after ``wait_secs`` (a stop must never wait on a dead server)."""
    try:
        await asyncio.wait_for(client.close(), wait_secs)
    except (asyncio.TimeoutError, NatsError, OSError):
        pass


def _is_refusal(err: BaseException) -> bool:
    """Errors that retrying with the same settings cannot fix: credentials, TLS trust, no TLS."""
    return _reason(err) in ("auth", "tls")


def _reason(err: BaseException) -> str:
    text = str(err).lower()
    if isinstance(err, _TlsMissing) or isinstance(err, ssl.SSLError):
        return "tls"
    if "authorization" in text or "authentication" in text or "user authentication expired" in text:
        return "auth"
    return "connect"


def _no_tls(settings: NatsSettings) -> str:
    return (f"the server at {settings.url.servers_text} did not upgrade the connection to TLS, and this sink "
            "requires TLS (a tls:// URL, a CA bundle or a client certificate): enable TLS on the server, or "
            "use nats:// without TLS settings; no credentials were sent")


def describe(err: BaseException, settings: NatsSettings) -> str:
    """An error from nats-py or the network, in words an administrator can act on."""
    if isinstance(err, _TlsMissing):
        return _no_tls(settings)
    if isinstance(err, ssl.SSLCertVerificationError):
        return (f"TLS certificate not trusted ({err.verify_message}): give the CA that signed it with "
                "--ca-bundle FILE")
    if isinstance(err, ssl.SSLError):
        reason = str(err.reason or err)
        if any(alert in reason.upper() for alert in _REFUSED_HANDSHAKE):
            return (f"the server refused the TLS handshake ({reason}): it wants a client certificate it trusts; "
                    "give one with --client-cert FILE --client-key FILE")
        return f"TLS error: {reason}"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused (is nats-server running and listening there?)"
    if isinstance(err, socket.gaierror):
        return f"cannot resolve the host name: {err.strerror or err}"
    if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
        return "timed out"
    if isinstance(err, OSError):
        return err.strerror or str(err) or type(err).__name__
    text = str(err).removeprefix("nats: ").strip().strip("'")
    if _reason(err) == "auth":
        return (f"the server refused the credentials ({text}; this sink sends {settings.describe_auth()}): "
                "fix them with 'gluster-eventsapi webhook-mod URL' and --nats-token, --nats-user/--nats-password, "
                "--nats-nkey or --nats-creds")
    return text or type(err).__name__

