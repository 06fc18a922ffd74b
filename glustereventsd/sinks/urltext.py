"""What every kind of destination URL shares: the error it raises, host names on the wire, safe text.

Both kinds of URL (``http/url``, ``nats/url``) build on these, so neither imports the other.
"""

from __future__ import annotations

import idna


class UrlError(ValueError):
    """A destination URL that cannot be used; the message says what is wrong with it."""


def printable(text: str) -> str:
    """``text`` with control and other non-printable characters escaped (\\n, \\x1b...)."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def ascii_host(host: str) -> str:
    """The host as it goes on the wire: lower-case ASCII, IDNA-encoded when international.

    Raises UrlError for a name IDNA 2008 refuses. ASCII names are taken as they are (only
    lower-cased), so names with ``_`` (container and cluster-internal names) keep working.
    """
    if host.isascii():
        return host.lower()
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as err:
        raise UrlError(f"host name {printable(host)!r} is not a valid international name: {err}") from None
