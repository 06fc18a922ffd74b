"""Record every UDP datagram sent to one port on ``lo``, as the kernel carried it (AF_PACKET).

Run inside a node's namespaces (``python -m tests.gluster.capture OUT PORT``): it sees what
Gluster's processes send, independently of whichever daemon listens on the port, and writes
one JSON line per datagram to OUT: ``{"at": <time>, "src": ..., "dst": ..., "data": <hex>}``.
Loopback shows each packet twice (outgoing, then incoming); only the outgoing copy counts.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
UDP = 17


def udp_of(packet: bytes, protocol: int) -> tuple[str, str, bytes] | None:
    """(source, destination, UDP segment) of an IPv4 or IPv6 packet without extension headers."""
    if protocol == ETH_P_IP and len(packet) >= 20 and packet[9] == UDP:
        header = (packet[0] & 0x0F) * 4
        return (socket.inet_ntop(socket.AF_INET, packet[12:16]), socket.inet_ntop(socket.AF_INET, packet[16:20]),
                packet[header:])
    if protocol == ETH_P_IPV6 and len(packet) >= 40 and packet[6] == UDP:
        return (socket.inet_ntop(socket.AF_INET6, packet[8:24]), socket.inet_ntop(socket.AF_INET6, packet[24:40]),
                packet[40:])
    return None


def main() -> int:
    out_path, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    sock.bind(("lo", 0))
    with open(out_path, "a", encoding="utf-8", buffering=1) as out:
        print("ready", flush=True)
        while True:
            packet, address = sock.recvfrom(70000)
            if address[2] != socket.PACKET_OUTGOING:
                continue
            found = udp_of(packet, address[1])
            if found is None or len(found[2]) < 8:
                continue
            source, destination, segment = found
            dport, length = struct.unpack("!2xHH", segment[:6])
            if dport != port:
                continue
            out.write(json.dumps({"at": time.time(), "src": source, "dst": destination,
                                  "data": segment[8:length].hex()}) + "\n")


if __name__ == "__main__":
    sys.exit(main())
