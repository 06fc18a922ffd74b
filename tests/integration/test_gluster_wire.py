"""What real Gluster 10.3 sends, through the daemon as a process (issue 11, differences 1, 2 and 4).

The datagrams are the ones measured from the real ``gluster`` CLI and glusterd (see
tests/gluster/test_single_node.py, which captures them live); here they are replayed on
loopback so the behaviour is checked on every machine, Gluster installed or not.
"""

from __future__ import annotations

import json

from tests.helpers import DaemonProcess, InProcessDaemon, Receiver, send_lines, wait_for

NODE_UUID = "361ccdb4-75fb-499c-bf9c-2d8a7c5d5fa4"


def _glusterd_info(root_files: DaemonProcess | InProcessDaemon) -> None:
    info = root_files.root / "var/lib/glusterd/glusterd.info"
    info.parent.mkdir(parents=True, exist_ok=True)
    info.write_text(f"UUID={NODE_UUID}\noperating-version=100000\n")


def test_whitespace_around_the_datagram_is_stripped_like_upstream(daemon: DaemonProcess,
                                                                  receiver: Receiver) -> None:
    _glusterd_info(daemon)
    daemon.write_webhooks({receiver.url: {"concurrency": 1}})
    daemon.start()
    send_lines(daemon.port, [
        b"1796165107 2 name=gv1;bricks= 10.211.0.1:/mnt/bricks/b1 ",  # the CLI's VOLUME_CREATE, as sent
        b" \t1796165108 3 name=gv1;force=0\n",  # leading whitespace: upstream delivers it, so do we
    ])
    wait_for(lambda: receiver.count() == 2, what="both events")
    assert [r.body for r in receiver.requests] == [
        b'{"event": "VOLUME_CREATE", "message": {"bricks": " 10.211.0.1:/mnt/bricks/b1", "name": "gv1"}, '
        b'"nodeid": "' + NODE_UUID.encode() + b'", "ts": 1796165107}',
        b'{"event": "VOLUME_START", "message": {"force": false, "name": "gv1"}, '
        b'"nodeid": "' + NODE_UUID.encode() + b'", "ts": 1796165108}',
    ]


def test_null_details_are_delivered_counted_and_logged_once_per_event(inproc: InProcessDaemon,
                                                                     receiver: Receiver) -> None:
    _glusterd_info(inproc)
    inproc.write_webhooks({receiver.url: {"concurrency": 1}})
    inproc.start()
    send_lines(inproc.port, [b"1796165125 19 (null)", b"1796165126 19 (null)", b"1796165128 20 (null)"])
    wait_for(lambda: receiver.count() == 3, what="the three (null) events")
    assert [r.json() for r in receiver.requests] == [
        {"event": "BITROT_ENABLE", "message": {}, "nodeid": NODE_UUID, "ts": 1796165125},
        {"event": "BITROT_ENABLE", "message": {}, "nodeid": NODE_UUID, "ts": 1796165126},
        {"event": "BITROT_DISABLE", "message": {}, "nodeid": NODE_UUID, "ts": 1796165128},
    ]
    assert inproc.stats.get("null_details", "BITROT_ENABLE") == 2
    assert inproc.stats.get("null_details", "BITROT_DISABLE") == 1
    assert inproc.stats.total("parse_errors") == 0
    log = inproc.log_text()
    assert log.count("Gluster sent BITROT_ENABLE with the details '(null)'") == 1
    assert log.count("Gluster sent BITROT_DISABLE with the details '(null)'") == 1


def test_null_details_are_exposed_as_a_metric(daemon: DaemonProcess, receiver: Receiver) -> None:
    import urllib.request

    from tests.integration.test_metrics import free_tcp_port

    metrics_port = free_tcp_port()  # a TCP port: one picked free for UDP was once taken for TCP (refused)
    daemon.write_config({"metrics-port": metrics_port})
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_lines(daemon.port, [b"1796165125 19 (null)"])
    wait_for(lambda: receiver.count() == 1, what="the (null) event")
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    assert 'gluster_events_null_details_total{event="BITROT_ENABLE"} 1.0' in text


def _debug_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " DEBUG " in line and "Datagram received" in line]


def test_log_level_debug_logs_every_datagram_and_its_sender(daemon: DaemonProcess, receiver: Receiver) -> None:
    daemon.write_webhooks({receiver.url: {}})
    daemon.start()
    send_lines(daemon.port, [b"1796165111 6 name=gv1;options=,performance.cache-size,64MB"])
    wait_for(lambda: receiver.count() == 1, what="first event")
    assert _debug_lines(daemon.log_text()) == []  # INFO: nothing per datagram

    daemon.write_config({"log-level": "DEBUG"})  # what 'gluster-eventsapi config-set log-level DEBUG' writes
    daemon.reload()
    send_lines(daemon.port, [b"1796165125 19 (null)", b"1796165107 2 name=gv1;bricks= b1 ", b"garbage"])
    send_lines(daemon.port, [b"1796165113 7 name=gv1;option=nfs.disable"], host="::1")
    wait_for(lambda: receiver.count() == 4, what="three more events")
    wait_for(lambda: len(_debug_lines(daemon.log_text())) == 4, what="four DEBUG lines")
    lines = [line.split("Datagram received ", 1)[1] for line in _debug_lines(daemon.log_text())]
    assert sorted(lines) == sorted([  # the IPv4 and IPv6 sockets have a thread each: any order
        "sender=127.0.0.1 bytes=20 data='1796165125 19 (null)'",
        "sender=127.0.0.1 bytes=33 data='1796165107 2 name=gv1;bricks= b1 '",  # as received, spaces kept
        "sender=127.0.0.1 bytes=7 data='garbage'",  # logged before parsing: malformed ones too
        "sender=::1 bytes=40 data='1796165113 7 name=gv1;option=nfs.disable'",
    ])

    daemon.write_config({"log-level": "INFO"})
    daemon.reload()
    send_lines(daemon.port, [b"1796165134 5 name=gv1"])
    wait_for(lambda: receiver.count() == 5, what="last event")
    assert len(_debug_lines(daemon.log_text())) == 4
    assert json.loads(receiver.requests[-1].body)["event"] == "VOLUME_DELETE"
