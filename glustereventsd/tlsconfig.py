"""The TLS settings of a webhook or NATS sink: trust store or CA bundle, client certificate, or the opt-out."""

from __future__ import annotations

import ssl

from glustereventsd.models import Webhook


def tls_context(hook: Webhook) -> ssl.SSLContext | None:
    """The SSL context for ``hook`` (None for http://).

    Verifies against the system store, or the webhook's CA bundle; presents the webhook's
    client certificate and key when set (mTLS); ``insecure_tls`` turns verification off.
    Raises ssl.SSLError or OSError when a file cannot be loaded, with a message naming it.
    """
    if not hook.url.lower().startswith("https:"):
        return None
    return context_for(hook)


def context_for(hook: Webhook) -> ssl.SSLContext:
    """The SSL context of ``hook``'s settings, whatever its scheme (a NATS sink's TLS too); see ``tls_context``."""
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
