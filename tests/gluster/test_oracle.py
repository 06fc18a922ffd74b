"""The differential oracle: Gluster's own daemon (the distribution's package) against ours.

All 142 event ids, what real Gluster 10.3 sends, and the wire format's edge cases go through
both daemons; their webhook bodies must be identical except where docs/COMPATIBILITY.md
lists a deliberate difference, and each listed difference is checked here by its own test.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import jwt
import pytest

import eventtypes
from bench import upstream
from tests.catalog_spec import SPEC_NAMES_3_10
from tests.gluster import oracle
from tests.helpers import REPO, DaemonProcess, Receiver, free_udp_port, send_lines, wait_for

pytestmark = [pytest.mark.skipif(upstream.available() is not None, reason=str(upstream.available())),
              pytest.mark.timeout(180)]

EXAMPLES = [example for rule in oracle.DIFFERENCES for example in rule.examples]
CORPUS = list(dict.fromkeys(oracle.catalog_datagrams() + oracle.REAL_GLUSTER + oracle.EDGE_CASES + EXAMPLES))
CATALOG = len(eventtypes.names_for("3.10"))


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> list[oracle.Outcome]:
    return oracle.run_both(CORPUS, tmp_path_factory.mktemp("oracle"))


def by_original(outcomes: list[oracle.Outcome]) -> dict[bytes, oracle.Outcome]:
    return {outcome.original: outcome for outcome in outcomes}


def test_all_142_ids_reach_both_webhooks_with_the_same_event_names(compared: list[oracle.Outcome]) -> None:
    catalog = compared[:CATALOG]
    assert CATALOG == 142
    for event_id, outcome in enumerate(catalog):
        assert outcome.ours is not None and outcome.upstream is not None, outcome
        assert outcome.ours["event"] == outcome.upstream["event"] == SPEC_NAMES_3_10[event_id]
        assert outcome.identical or oracle.explain(outcome) == ["conversions"], outcome
    assert sum(outcome.identical for outcome in catalog) == 141  # GEOREP_CREATE: push_pem, no_verify, ssh_port


def test_every_body_is_identical_or_one_documented_difference(compared: list[oracle.Outcome]) -> None:
    unexplained = [(o.datagram, o.ours, o.upstream, oracle.explain(o)) for o in compared
                   if not o.identical and len(oracle.explain(o)) != 1]
    assert not unexplained, "differences not in docs/COMPATIBILITY.md (or in two rows):\n" + "\n".join(
        map(repr, unexplained))
    identical = [o for o in compared if o.identical]
    assert len(identical) >= len(compared) - 40 and any(o.ours is not None for o in identical)


def test_what_real_gluster_sends_differs_only_where_upstream_drops_null(compared: list[oracle.Outcome]) -> None:
    real = [by_original(compared)[data] for data in oracle.REAL_GLUSTER]
    assert all(o.ours is not None for o in real)  # we deliver every one of them
    assert [o.original for o in real if not o.identical] == [b"1796165125 19 (null)", b"1796165128 20 (null)"]
    create = real[0]
    assert create.ours == create.upstream
    assert create.ours is not None and create.ours["message"]["bricks"] == " 10.211.0.1:/mnt/bricks/b1"
    afr = by_original(compared)[b"1796156700 108 client-pid=-6; subvol=gv1-replicate-0"]
    assert afr.ours is not None and afr.ours["message"] == {"client-pid": "-6", " subvol": "gv1-replicate-0"}


def test_leading_and_trailing_whitespace_now_match_upstream(compared: list[oracle.Outcome]) -> None:
    found = by_original(compared)
    for data in (b" 0 2 name=leading-space", b"\t\n0 2 name=leading-tab-and-newline",
                 b"0 2 name=trailing-spaces   ", b"0 2 name=trailing-newline\n"):
        outcome = found[data]
        assert outcome.ours is not None and outcome.identical, outcome
    assert found[b"0 2 name=trailing-spaces   "].ours["message"] == {"name": "trailing-spaces"}  # type: ignore[index]


@pytest.mark.parametrize("rule", oracle.DIFFERENCES, ids=[rule.key for rule in oracle.DIFFERENCES])
def test_difference(compared: list[oracle.Outcome], rule: oracle.Difference) -> None:
    """Each row of docs/COMPATIBILITY.md, on its own examples: covered, holding, and a real difference."""
    found = by_original(compared)
    for example in rule.examples:
        outcome = found[example]
        assert not outcome.identical, f"{rule.key}: {example!r} is no longer a difference"
        assert rule.covers(outcome.datagram) and rule.holds(outcome), (rule.key, outcome)
    names = eventtypes.names_for("3.10")
    if rule.key == "negative-ids":  # upstream indexes its list from the end: -1 is the last event
        assert found[b"0 -1 name=minus-one"].upstream["event"] == names[-1] == "DHT_INODES_USAGE"  # type: ignore[index]
    if rule.key == "limits":  # upstream reads 8192 bytes and delivers what fits: a truncated value
        outcome = found[b"0 2 name=" + b"y" * 9000]
        assert outcome.ours is None and outcome.upstream is not None
        assert len(outcome.datagram) > 8192 > len(outcome.upstream["message"]["name"]) > 8000


def test_compatibility_doc_lists_every_difference_with_its_test() -> None:
    text = (REPO / "docs/COMPATIBILITY.md").read_text()
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|.*\| `(tests/[^`]+)` \|$", text, re.MULTILINE)
    assert [key for key, _ in rows[:len(oracle.DIFFERENCES)]] == [rule.key for rule in oracle.DIFFERENCES]
    for key, test in rows:
        path, _, name = test.partition("::")
        assert (REPO / path).is_file() and name.split("[")[0] in (REPO / path).read_text(), (key, test)


def test_upstream_cannot_sign_jwt_webhooks_and_we_can(tmp_path: Path) -> None:
    """Upstream 10.3 on Python 3 raises TypeError building the JWT: a webhook with a secret gets nothing."""
    secret = "oracle-jwt-secret-0123456789abcdef"
    theirs, ours_hook = Receiver(), Receiver()
    daemon = upstream.UpstreamDaemon(tmp_path / "upstream", free_udp_port(),
                                     {theirs.url: {"token": "", "secret": secret}}, oracle.NODEID)
    (tmp_path / "ours").mkdir()
    ours = DaemonProcess(tmp_path / "ours", free_udp_port(), listen=("127.0.0.1",))
    ours.write_webhooks({ours_hook.url: {"token": "", "secret": secret}})
    try:
        daemon.start()
        ours.start()
        for port in (daemon.port, ours.port):
            send_lines(port, [b"1796165107 2 name=gv1"])
        wait_for(lambda: ours_hook.count() == 1, what="our delivery")
        time.sleep(1.0)  # upstream's webhook thread has died by now: nothing more will come
        assert theirs.attempts == []
        assert "TypeError" in (daemon.folder / "daemon.out").read_text()
        claims = jwt.decode(ours_hook.requests[0].headers["authorization"].split()[1], secret,
                            algorithms=["HS256"], issuer="gluster")
        assert claims["sub"] == "VOLUME_CREATE" and claims["iat"] == 1796165107
    finally:
        daemon.stop()
        ours.stop()
        theirs.stop()
        ours_hook.stop()
