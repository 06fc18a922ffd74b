"""Bearer, HS256 JWT (checked with PyJWT) and Standard Webhooks signatures (checked with standardwebhooks)."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from standardwebhooks.webhooks import Webhook as StandardWebhook

from glustereventsd.sinks.http import auth
from glustereventsd.sinks.http.request import fixed_headers, varying_headers
from glustereventsd.models import Destination

SECRET = "s3cr3t-jwt-key"


def request_headers(hook: Destination, subject: str, issued_at: int, now: int, body: bytes, message_id: str = "",
                    sequence: int | None = None) -> list[tuple[str, str]]:
    """All the headers of one POST, in the order the delivery engine sends them."""
    return fixed_headers(hook, bool(body)) + varying_headers(hook, subject, issued_at, now, body, message_id, sequence)


def test_bearer_only() -> None:
    assert auth.authorization("tok123", "", "VOLUME_CREATE", 1, 2) == "Bearer tok123"
    assert auth.authorization("", "", "VOLUME_CREATE", 1, 2) is None


def test_jwt_wins_over_token_and_decodes_with_pyjwt() -> None:
    value = auth.authorization("tok123", SECRET, "VOLUME_CREATE", 1468303352, 1700000000)
    assert value is not None and value.startswith("Bearer ")
    token = value[len("Bearer "):]
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False})
    assert claims == {"iss": "gluster", "sub": "VOLUME_CREATE", "iat": 1468303352, "exp": 1700000060}
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert "=" not in token  # base64url without padding


def test_jwt_wrong_secret_fails_verification() -> None:
    token = auth.jwt_hs256(SECRET, "VOLUME_CREATE", 1, 2)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "other", algorithms=["HS256"], options={"verify_exp": False})


# Made outside this project with the openssl CLI (base64url of the two JSON parts, then
# ``openssl dgst -sha256 -hmac k`` over "header.payload"); PyJWT's encode gives the same.
KNOWN_JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE2MCwiaWF0Ijo3LCJpc3MiOiJnbHVzdGVyIiwic3ViIjoiVEVTVCJ9"
             ".R05CPQse1S-H1O5jatwxw2MHfEVvnObwUemoH-j2Yy4")


def test_jwt_matches_a_vector_made_by_openssl_and_pyjwt() -> None:
    assert auth.jwt_hs256("k", "TEST", 7, 100) == KNOWN_JWT
    assert jwt.encode({"exp": 160, "iat": 7, "iss": "gluster", "sub": "TEST"}, "k", algorithm="HS256") == KNOWN_JWT


KEY = bytes(range(32))
WHSEC = "whsec_" + base64.b64encode(KEY).decode()


def test_signing_key_forms() -> None:
    assert auth.signing_key(WHSEC) == KEY
    assert auth.signing_key(base64.b64encode(KEY).decode()) == KEY
    for bad in ("whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(), "whsec_"):
        with pytest.raises(auth.SigningSecretError):
            auth.signing_key(bad)


def test_standard_signature_verified_by_standardwebhooks() -> None:
    body = b'{"event": "VOLUME_CREATE", "message": {"name": "gv1"}, "nodeid": "n", "ts": 1}'
    import time

    now = int(time.time())
    hook = Destination(url="http://127.0.0.1:1/x", signing_secret=WHSEC)
    headers = dict(request_headers(hook, "VOLUME_CREATE", 1, now, body, "msg_abc", 7))
    verified = StandardWebhook(WHSEC).verify(body, {k.lower(): v for k, v in headers.items()})
    assert verified == json.loads(body)
    assert headers["webhook-id"] == "msg_abc"
    assert headers["X-Gluster-Event-Seq"] == "7"
    assert headers["webhook-timestamp"] == str(now)
    assert headers["Content-Type"] == "application/json"
    # A modified body must not verify.
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        StandardWebhook(WHSEC).verify(body + b" ", {k.lower(): v for k, v in headers.items()})


def test_test_request_has_no_content_type_and_no_identity_headers() -> None:
    hook = Destination(url="http://127.0.0.1:1/x", secret=SECRET)
    headers = dict(request_headers(hook, "TEST", 50, 50, b""))
    assert "Content-Type" not in headers and "webhook-id" not in headers
    claims = jwt.decode(headers["Authorization"][7:], SECRET, algorithms=["HS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["sub"] == "TEST" and claims["iat"] == 50 and claims["exp"] == 110


def test_describe_auth_never_shows_the_secret() -> None:
    hook = Destination(url="http://h/x", token="tok-AAA", secret="sec-BBB", signing_secret=WHSEC)
    assert hook.describe_auth() == "jwt+signed"
    assert "tok-AAA" not in repr(hook) and "sec-BBB" not in repr(hook) and WHSEC not in repr(hook)
