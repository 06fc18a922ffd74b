"""What JetStream's answer to one publication means: delivered (stored, perhaps before), retried, or refused."""

from __future__ import annotations

import json

from nats.aio.msg import Msg

from glustereventsd.models import Outcome, OutcomeKind

# JetStream error codes (err_code) that no retry can fix: the message is larger than the stream allows.
REJECT_ERR_CODES = frozenset({10054})
_DELIVERED = Outcome(OutcomeKind.DELIVERED, "ok", 200)


def no_stream_detail(subject: str, url: str) -> str:
    """What to do when no stream answered for ``subject``."""
    return (f"no JetStream stream answered for subject {subject} (none captures it, or its leader is being "
            f"elected): create one with 'gluster-eventsapi nats-stream-add {url}'; events wait in the spool")


def outcome_of_ack(msg: Msg, subject: str, url: str) -> tuple[Outcome, bool]:
    """Classify JetStream's answer to one publication: (outcome, stored before: a duplicate)."""
    headers = msg.headers or {}
    status = headers.get("Status", "")
    if status == "503":
        return Outcome(OutcomeKind.RETRY, "no_stream", 503, None, no_stream_detail(subject, url)), False
    if status:
        description = headers.get("Description", "")
        return Outcome(OutcomeKind.RETRY, f"nats_{status}"[:16], 0, None,
                       f"JetStream answered status {status} {description}".strip()), False
    try:
        answer = json.loads(msg.data)
    except ValueError:
        return Outcome(OutcomeKind.RETRY, "bad_ack", 0, None, "JetStream's PubAck is not JSON"), False
    if not isinstance(answer, dict):
        return Outcome(OutcomeKind.RETRY, "bad_ack", 0, None, "JetStream's PubAck is not a JSON object"), False
    error = answer.get("error")
    if isinstance(error, dict):
        code, err_code = error.get("code"), error.get("err_code")
        text = f"JetStream refused the event: {error.get('description') or 'no description'} (code {code}" + (
            f", err_code {err_code})" if err_code else ")")
        if err_code in REJECT_ERR_CODES:
            return Outcome(OutcomeKind.REJECT, "nats_rejected", 0, None, text), False
        return Outcome(OutcomeKind.RETRY, "nats_error", 0, None, text), False
    if "stream" not in answer or "seq" not in answer:
        return Outcome(OutcomeKind.RETRY, "bad_ack", 0, None, "JetStream's PubAck names no stream"), False
    return _DELIVERED, bool(answer.get("duplicate"))
