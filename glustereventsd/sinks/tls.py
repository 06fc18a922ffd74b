"""The TLS settings of a webhook or NATS sink: trust store or CA bundle, client certificate, or the opt-out."""

from __future__ import annotations

import os
import ssl
import threading

from glustereventsd.base.fsutil import open_regular
from glustereventsd.models import Destination


_CACHE_MAX = 256
_cache: dict[tuple[object, ...], ssl.SSLContext] = {}
_cache_lock = threading.Lock()


def _file_key(path: str) -> tuple[object, ...]:
    """A file's identity for the cache: a changed file (same name) gets a new context."""
    if not path:
        return ()
    try:
        status = os.stat(path)
    except OSError:
        return (path, None)  # missing: not cached usefully, the load below says why
    return (path, status.st_ino, status.st_size, status.st_mtime_ns)


def tls_context(hook: Destination) -> ssl.SSLContext | None:
    """The SSL context for ``hook`` (None for http://), shared by the webhooks with the same TLS settings.

    Verifies against the system store, or the webhook's CA bundle; presents the webhook's
    client certificate and key when set (mTLS); ``insecure_tls`` turns verification off.
    Raises ssl.SSLError or OSError when a file cannot be loaded, with a message naming it.
    Loading the system store costs about 75 ms: a context is made once per settings and
    reused (contexts are safe to share), so 100 HTTPS webhooks do not stall their loop.
    """
    if not hook.url.lower().startswith("https:"):
        return None
    return context_for(hook)


def context_for(hook: Destination) -> ssl.SSLContext:
    """The SSL context of ``hook``'s settings, whatever its scheme (a NATS sink's TLS too); see ``tls_context``."""
    key = (hook.insecure_tls, _file_key(hook.ca_bundle), _file_key(hook.client_cert), _file_key(hook.client_key))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    context = _make_context(hook)
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = context
    return context


def _require_regular(path: str, what: str) -> None:
    """OSError unless ``path`` is a regular file: OpenSSL would block the loop on a FIFO."""
    try:
        os.close(open_regular(path, os.O_RDONLY))
    except OSError as err:
        raise OSError(f"cannot load the {what} {path}: {err.strerror or err}") from None


def _make_context(hook: Destination) -> ssl.SSLContext:
    used = [(hook.client_cert, "client certificate"), (hook.client_key, "client key")]
    if not hook.insecure_tls:
        used.append((hook.ca_bundle, "CA bundle"))
    for path, what in used:
        if path:
            _require_regular(path, what)
    if hook.insecure_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif hook.ca_bundle:
        try:
            context = ssl.create_default_context(cafile=hook.ca_bundle)
        except (ssl.SSLError, OSError) as err:
            raise OSError(f"cannot load the CA bundle {hook.ca_bundle}: {getattr(err, 'strerror', None) or err}") from None
    else:
        context = ssl.create_default_context()
    if hook.client_cert:
        try:
            context.load_cert_chain(hook.client_cert, hook.client_key or None, password=_no_password)
        except (ssl.SSLError, OSError) as err:
            detail = getattr(err, "strerror", None) or getattr(err, "reason", None) or err
            raise OSError(f"cannot load the client certificate {hook.client_cert}"
                          f"{' and key ' + hook.client_key if hook.client_key else ''}: {detail} "
                          "(give a PEM certificate and an unencrypted PEM key)") from None
    return context


def _no_password() -> str:
    """Refuse an encrypted client key instead of prompting on the daemon's terminal."""
    raise ssl.SSLError("the client key is encrypted; give an unencrypted key (chmod 600 keeps it private)")
