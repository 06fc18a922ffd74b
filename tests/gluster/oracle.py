"""The differential oracle: the same datagrams through Gluster's own daemon and through ours.

``run_both`` gives every datagram a timestamp of its own (so each webhook body can be traced
back to the datagram it came from), sends it to both daemons on loopback, and returns what
each delivered. ``DIFFERENCES`` is the table of docs/COMPATIBILITY.md as code: each rule
says which datagrams it covers and what each daemon then delivers; a datagram whose bodies
differ must be explained by a rule, or the oracle test fails.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eventtypes
from bench.upstream import UpstreamDaemon
from eventtypes.attributes import ATTRIBUTES
from tests.helpers import DaemonProcess, Receiver, free_udp_port

NODEID = "361ccdb4-75fb-499c-bf9c-2d8a7c5d5fa4"
BASE_TS = 1_700_000_000
TIMESTAMP = re.compile(rb"\A(\s*\+?)(\d+)(?= |\Z)")
OVER_32_BITS = 2**32  # a timestamp past %u keeps its form: it is re-stamped as 2**32 + ts
Body = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What each daemon delivered for one datagram (None: it delivered nothing)."""

    datagram: bytes  # as sent (with its own timestamp)
    ours: Body | None
    upstream: Body | None
    original: bytes = b""  # as given, before re-stamping

    @property
    def identical(self) -> bool:
        return self.ours == self.upstream


def with_timestamp(datagram: bytes, ts: int) -> bytes:
    """``datagram`` with its timestamp replaced by ``ts``, keeping its form (leading whitespace,
    a '+', more than 32 bits): so each body names the datagram it came from."""
    def stamp(match: re.Match[bytes]) -> bytes:
        over = int(match.group(2)) >= OVER_32_BITS
        return match.group(1) + b"%d" % (ts + OVER_32_BITS if over else ts)

    return TIMESTAMP.sub(stamp, datagram, count=1)


def _wait_quiet(receivers: list[Receiver], quiet_secs: float, timeout: float) -> None:
    """Until no receiver got anything for ``quiet_secs`` (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = sum(len(r.attempts) for r in receivers)
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_secs:
            return
        time.sleep(0.05)


def _bodies_by_ts(receiver: Receiver) -> dict[int, list[Body]]:
    found: dict[int, list[Body]] = {}
    for request in receiver.requests:
        if request.body:
            body = json.loads(request.body)
            ts = int(body["ts"])
            found.setdefault(ts - OVER_32_BITS if ts >= OVER_32_BITS else ts, []).append(body)
    return found


def run_both(datagrams: list[bytes], folder: Path, pace_secs: float = 0.002) -> list[Outcome]:
    """Send each datagram (re-stamped ``BASE_TS + index``) to both daemons; return the outcomes.

    Raises AssertionError when a daemon delivers a body twice or one that matches no datagram.
    """
    stamped = [with_timestamp(data, BASE_TS + index) for index, data in enumerate(datagrams)]
    ours_hook, upstream_hook = Receiver(), Receiver()
    (folder / "ours").mkdir(parents=True)
    ours = DaemonProcess(folder / "ours", free_udp_port(), listen=("127.0.0.1",))
    info = ours.root / "var/lib/glusterd/glusterd.info"
    info.parent.mkdir(parents=True)
    info.write_text(f"UUID={NODEID}\noperating-version=100000\n")
    ours.write_webhooks({ours_hook.url: {"concurrency": 1}})
    upstream = UpstreamDaemon(folder / "upstream", free_udp_port(), {upstream_hook.url: {"token": "", "secret": ""}},
                              NODEID)
    try:
        ours.start()
        upstream.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for data in stamped:  # paced: upstream starts a thread per datagram and loses bursts
                sock.sendto(data, ("127.0.0.1", ours.port))
                sock.sendto(data, ("127.0.0.1", upstream.port))
                time.sleep(pace_secs)
        _wait_quiet([ours_hook, upstream_hook], quiet_secs=1.5, timeout=30)
    finally:
        upstream.stop()
        ours.stop()
        ours_hook.stop()
        upstream_hook.stop()
    assert "Traceback" not in ours.log_text(), ours.log_text()[-3000:]
    results = []
    delivered = {"ours": _bodies_by_ts(ours_hook), "upstream": _bodies_by_ts(upstream_hook)}
    for who, bodies in delivered.items():
        strays = set(bodies) - {BASE_TS + i for i in range(len(stamped))}
        twice = {ts: found for ts, found in bodies.items() if len(found) > 1}
        assert not strays and not twice, f"{who}: bodies matching no datagram {strays} or twice {twice}"
    for index, data in enumerate(stamped):
        ts = BASE_TS + index
        results.append(Outcome(data, (delivered["ours"].get(ts) or [None])[0],
                               (delivered["upstream"].get(ts) or [None])[0], datagrams[index]))
    return results


# -- what to send ------------------------------------------------------------------------------

def sample_value(key: str) -> str:
    """A plausible value for a seed attribute (the conversions' keys get convertible text)."""
    if key in ("force", "push_pem", "no_verify"):
        return "1"
    if key == "ssh_port":
        return "22"
    if key == "options":
        return ",performance.cache-size,64MB,nfs.disable,on"
    return f"{key.replace('_', '-')}-1"


def catalog_datagrams() -> list[bytes]:
    """One datagram per event id (all 142), with the seed's attributes where it lists them."""
    found = []
    for event_id, name in enumerate(eventtypes.names_for("3.10")):
        keys = [key for key, _ in ATTRIBUTES.get(name, ())] or ["name"]
        detail = ";".join(f"{key}={sample_value(key)}" for key in keys)
        found.append(b"0 %d %s" % (event_id, detail.encode()))
    return found


#: What real Gluster 10.3 sent on this project's single node and 3-node pool (issue 11; the
#: single-node tier captures its own live and runs them through the oracle too).
REAL_GLUSTER = [
    b"1796165107 2 name=gv1;bricks= 10.211.0.1:/mnt/bricks/b1 ",
    b"1796156614 3 name=gv1;force=0",
    b"1796165108 77 peer=10.211.0.1;volume=gv1;brick=/mnt/bricks/b1",
    b"1796165111 6 name=gv1;options=,performance.cache-size,64MB",
    b"1796165113 7 name=gv1;option=performance.cache-size",
    b"1796165115 65 svc_name=quotad",
    b"1796165115 97 client_uid=CTX_ID:f9830b41-09ee-40ad-80c3-4c8db70e6f49-GRAPH_ID:0-PID:229-HOST:i11g-node-PC_NAME:"
    b"gv1-client-0-RECON_NO:-0;client_identifier=10.211.0.1:49150;server_identifier=10.211.0.1:53677;"
    b"brick_path=/mnt/bricks/b1;subdir_mount=(null)",
    b"1796165115 25 volume=gv1",
    b"1796165119 27 volume=gv1;path=/;limit=1GB",
    b"1796165121 26 volume=gv1",
    b"1796165125 19 (null)",
    b"1796165128 20 (null)",
    b"1796165130 36 snapshot_name=snap1;volume_name=gv1;error=LVM commands not found, snapshot functionality is "
    b"disabled",
    b"1796165132 4 name=gv1;force=0",
    b"1796165134 5 name=gv1",
    b"1796156700 108 client-pid=-6; subvol=gv1-replicate-0",  # AFR: a key with a leading space
    b"1796156701 71 peer=node2",
]

#: The edge cases of the wire format that matter for the comparison.
EDGE_CASES = [
    b" 0 2 name=leading-space",
    b"\t\n0 2 name=leading-tab-and-newline",
    b"0 2 name=trailing-spaces   ",
    b"0 2 name=trailing-newline\n",
    b"0 6 name=gv1;options=,features.shard-block-size,64MB,auth.allow,10.0.0.*",
    b"0 6 name=gv1;options=,a,1,odd-key",
    b"0 6 name=gv1",
    b"0 6 name=gv1;options=",
    b"0 6 name=gv1;options=,",
    b"0 2 name=gv1;bricks=h:/b;extra=k=v",
    b"0 17 master=m;slave=s;option=log_level;value=a=b",
    b"0 2 name=gv1;",
    b"0 2 name=gv1;;force=1",
    b"0 2 ",
    b"0 2",
    b"0 -1 name=minus-one",
    b"0 -142 name=minus-142",
    b"0 142 name=past-the-end",
    b"0 11 master=gv1;slave=h::gv2;push_pem=1;no_verify=yes;ssh_port=2222;force=1",
    b"0 11 master=gv1;slave=h::gv2;push-pem=1;no-verify=0;ssh-port=22",
    b"0 11 master=gv1;slave=h::gv2;ssh_port=twenty-two",
    b"0 3 name=gv1;force= yes",
    b"0 2 name=nul-terminated\x00",
    b"0 2 =no-key",
    b"0 2 name=gv1;no-equals",
    b"0 2 name=" + "vólümé ✓".encode(),
    b"0 2 name=\xff\xfe",
    b"0  2 name=double-space",
    b"0 x name=bad-type",
    b"+5 2 name=plus-timestamp",
    b"0 +2 name=plus-type",
    b"0 02 name=leading-zero-type",
    b"4294967296 2 name=timestamp-over-32-bits",
    b"0 2 name=a;name=b",
    b"0 2 " + b";".join(b"k%d=v" % i for i in range(65)),
    b"0 2 name=" + b"x" * 5000,
    b"0 2 name=" + b"y" * 9000,
    b"garbage",
    b"",
]


# -- the table of deliberate differences (docs/COMPATIBILITY.md) -------------------------------

def _detail(datagram: bytes) -> bytes:
    parts = datagram.strip().split(b" ", 2)
    return parts[2] if len(parts) == 3 else b""


def _pairs(datagram: bytes) -> list[bytes]:
    return _detail(datagram).split(b";")


def _type(datagram: bytes) -> bytes:
    parts = datagram.strip().split(b" ", 2)
    return parts[1] if len(parts) >= 2 else b""


BOOLEANS = ("force", "push_pem", "no_verify", "push-pem", "no-verify")
INTEGERS = ("ssh_port", "ssh-port")
UNDERSCORED = (b"push_pem", b"no_verify", b"ssh_port")


def _spec_value(key: str, raw: str) -> object:
    """SPEC section 1's conversion, written here independently of the daemon's code."""
    if key in BOOLEANS:
        return raw.strip().lower() in ("1", "on", "true", "yes")
    if key in INTEGERS:
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _raw_pairs(datagram: bytes) -> dict[str, str]:
    return dict(p.decode().partition("=")[::2] for p in _pairs(datagram) if p)


def _differs_only_by_conversion(outcome: Outcome) -> bool:
    """Both delivered; every key whose value differs is a conversion key, and ours holds the
    SPEC's conversion of the value sent."""
    if outcome.ours is None or outcome.upstream is None:
        return False
    ours, upstream = outcome.ours["message"], outcome.upstream["message"]
    if {k: v for k, v in outcome.ours.items() if k != "message"} != \
            {k: v for k, v in outcome.upstream.items() if k != "message"} or set(ours) != set(upstream):
        return False
    raw = _raw_pairs(outcome.datagram.strip())
    differing = [key for key in ours if ours[key] != upstream[key]]
    return bool(differing) and all(key in BOOLEANS + INTEGERS and ours[key] == _spec_value(key, raw[key])
                                   for key in differing)


def _plain_digits(text: bytes) -> bool:
    return text.isdigit() and text.isascii()


@dataclass(frozen=True)
class Difference:
    """One deliberate difference: which datagrams, and what each daemon delivers for them."""

    key: str  # the row of docs/COMPATIBILITY.md and the id of its test
    covers: Callable[[bytes], bool]
    holds: Callable[[Outcome], bool]
    examples: tuple[bytes, ...]


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "conversions",
        lambda d: any(p.split(b"=", 1)[0] in UNDERSCORED for p in _pairs(d))
        or any(p.split(b"=", 1)[0] in (b"force", b"push-pem", b"no-verify")
               and p.split(b"=", 1)[-1] != p.split(b"=", 1)[-1].strip() for p in _pairs(d)),
        _differs_only_by_conversion,
        (b"0 11 master=gv1;slave=h::gv2;push_pem=1;no_verify=yes;ssh_port=2222", b"0 3 name=gv1;force= yes"),
    ),
    Difference(
        "negative-ids",
        lambda d: _type(d).startswith(b"-") and _plain_digits(_type(d)[1:]),
        lambda o: o.ours is None and o.upstream is not None,
        (b"0 -1 name=minus-one",),
    ),
    Difference(
        "equals-in-values",
        lambda d: any(p.count(b"=") > 1 for p in _pairs(d)),
        lambda o: o.ours is not None and o.upstream is None,
        (b"0 17 master=m;slave=s;option=log_level;value=a=b",),
    ),
    Difference(
        "empty-pairs",
        lambda d: bool(_detail(d)) and _detail(d) != b"(null)" and b"" in _pairs(d),
        lambda o: o.ours is not None and o.upstream is None,
        (b"0 2 name=gv1;", b"0 2 name=gv1;;force=1"),
    ),
    Difference(
        "volume-set-without-options",
        lambda d: _type(d) == b"6" and not any(p.startswith(b"options=") and p[len(b"options="):].strip(b",")
                                               for p in _pairs(d)),
        lambda o: (o.ours is not None and o.upstream is not None
                   and o.upstream["message"].get("options") == [[""]]
                   and o.ours["message"].get("options", []) == []
                   and {k: v for k, v in o.ours["message"].items() if k != "options"}
                   == {k: v for k, v in o.upstream["message"].items() if k != "options"}),
        (b"0 6 name=gv1", b"0 6 name=gv1;options="),
    ),
    Difference(
        "null-details",
        lambda d: _detail(d) == b"(null)",
        lambda o: o.upstream is None and o.ours is not None and o.ours["message"] == {},
        (b"1796165125 19 (null)", b"1796165128 20 (null)"),
    ),
    Difference(
        "empty-details",
        lambda d: _detail(d) == b"" and _plain_digits(_type(d)),
        lambda o: o.upstream is None and o.ours is not None and o.ours["message"] == {},
        (b"0 2 ", b"0 2"),
    ),
    Difference(
        "pairs-without-a-key",
        lambda d: any(p.startswith(b"=") for p in _pairs(d)),
        lambda o: o.ours is None and o.upstream is not None and "" in o.upstream["message"],
        (b"0 2 =no-key",),
    ),
    Difference(
        "nul-bytes",
        lambda d: d.endswith(b"\x00") or d.startswith(b"\x00"),
        lambda o: (o.ours is not None and o.upstream is not None
                   and json.loads(json.dumps(o.upstream).replace("\\u0000", "")) == o.ours),
        (b"0 2 name=nul-terminated\x00",),
    ),
    Difference(
        "number-formats",
        lambda d: not (_plain_digits(d.strip().split(b" ", 1)[0]) and int(d.strip().split(b" ", 1)[0]) < 2**32)
        or (not _plain_digits(_type(d)) and not (_type(d).startswith(b"-") and _plain_digits(_type(d)[1:]))),
        lambda o: o.ours is None,
        (b"+5 2 name=plus-timestamp", b"0 +2 name=plus-type", b"4294967296 2 name=timestamp-over-32-bits"),
    ),
    Difference(
        "limits",
        lambda d: len(d) > 8192 or len(_pairs(d)) > 64 or any(len(p) > 4096 for p in _pairs(d)),
        lambda o: o.ours is None and o.upstream is not None,
        (b"0 2 " + b";".join(b"k%d=v" % i for i in range(65)), b"0 2 name=" + b"x" * 5000),
    ),
)


def explain(outcome: Outcome) -> list[str]:
    """The rules that cover this datagram and hold for what the daemons delivered."""
    return [rule.key for rule in DIFFERENCES if rule.covers(outcome.datagram) and rule.holds(outcome)]
