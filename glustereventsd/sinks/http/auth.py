"""Credentials on a webhook request: bearer token, HS256 JWT, Standard Webhooks signature.

Pure functions: bytes and strings in, header values out. Nothing here logs, so nothing here
can leak a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

JWT_LIFETIME_SECS = 60
JWT_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact_json(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":"), sort_keys=True).encode("utf-8")


def jwt_hs256(secret: str, subject: str, issued_at: int, now: int) -> str:
    """An HS256 JWT as Gluster sends it: iss=gluster, sub=event name, iat=event ts, exp=now+60."""
    claims = {"exp": now + JWT_LIFETIME_SECS, "iat": issued_at, "iss": "gluster", "sub": subject}
    signing_input = f"{_b64url(_compact_json(JWT_HEADER))}.{_b64url(_compact_json(claims))}"
    signature = hmac.new(secret.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256)
    return f"{signing_input}.{_b64url(signature.digest())}"


def authorization(token: str, secret: str, subject: str, issued_at: int, now: int) -> str | None:
    """The Authorization header value for a webhook: the JWT when a secret is set, else the token."""
    if secret:
        return f"Bearer {jwt_hs256(secret, subject, issued_at, now)}"
    if token:
        return f"Bearer {token}"
    return None


class SigningSecretError(ValueError):
    """A Standard Webhooks secret that is not ``whsec_`` followed by base64."""


def signing_key(secret: str) -> bytes:
    """Decode a Standard Webhooks secret (``whsec_<base64>``) to its key bytes."""
    encoded = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise SigningSecretError("signing secret must be whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise SigningSecretError("signing secret must decode to 24..64 bytes")
    return key


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = f"{message_id}.{timestamp}.".encode("utf-8") + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")
