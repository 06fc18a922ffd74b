"""A keep-alive webhook receiver for the benchmarks, run as its own process.

asyncio with a minimal HTTP/1.1 parser, so that the receiver is never the bottleneck and its
CPU is not the daemon's. It records (event index, arrival time) for every POST it accepts whose
body names ``v<index>``; ``GET /stats`` answers the count (and the most requests it has had in
flight at once, and the most connections open at once: the benchmark's own GETs add one), ``GET /dump`` every arrival, ``GET /timings`` every POST's
(arrival, service start, answer, status) so that a benchmark can split the response time into
queueing and service.

Modes, to stand in for the receivers of the field:

- ``delay`` (default): every request is answered ``DELAY_SECS`` after it arrived, however many
  are in flight (0: at once; 0.2: a slow ticketing bridge);
- ``serial``: one request at a time, each taking ``--service`` s; the others wait their turn,
  so the response time grows with the number in flight (a receiver with one worker);
- ``limit``: at most ``--limit`` requests in service at once, each ``--service`` s; one more
  is answered 503 at once (a receiver that sheds load past its knee).

Usage: python -m bench.receiver PORT [DELAY_SECS [CERT KEY]] [--mode delay|serial|limit]
[--service SECS] [--limit N] (with CERT and KEY it speaks HTTPS)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import time

NAME = re.compile(rb'"name": "v(\d+)"')
OK = b"OK"
UNAVAILABLE = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"


class Recorder:
    """Arrivals and request timings of one receiver process."""

    def __init__(self, delay: float, mode: str = "delay", service: float = 0.02, limit: int = 4) -> None:
        self.delay = delay
        self.mode = mode
        self.service = service
        self.limit = limit
        self.arrivals: list[tuple[int, float]] = []
        self.timings: list[tuple[float, float, float, int]] = []  # arrival, service start, answer, status
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.max_connections = 0  # the daemon keeps one connection per request in flight
        self.busy_until = 0.0  # serial mode: when the one worker is free (time.time())


def make_protocol(recorder: Recorder) -> type[asyncio.Protocol]:
    class Handler(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.buffer = b""
            recorder.connections += 1
            recorder.max_connections = max(recorder.max_connections, recorder.connections)

        def connection_lost(self, exc: Exception | None) -> None:
            recorder.connections -= 1

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end]
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(self.buffer) < end + 4 + length:
                    return
                body = self.buffer[end + 4:end + 4 + length]
                self.buffer = self.buffer[end + 4 + length:]
                self.handle(head.split(b" ", 2)[:2], body)

        def handle(self, request_line: list[bytes], body: bytes) -> None:
            method, path = request_line[0], request_line[1] if len(request_line) > 1 else b"/"
            if method == b"GET":
                if path == b"/dump":
                    payload = json.dumps(recorder.arrivals).encode()
                elif path == b"/timings":
                    payload = json.dumps(recorder.timings).encode()
                else:
                    payload = json.dumps({"count": len(recorder.arrivals),
                                          "max_in_flight": recorder.max_in_flight,
                                          "max_connections": recorder.max_connections}).encode()
                self.respond(payload)
                return
            now = time.time()
            if recorder.mode == "limit" and recorder.in_flight >= recorder.limit:
                recorder.timings.append((now, now, now, 503))
                if not self.transport.is_closing():
                    self.transport.write(UNAVAILABLE)
                return
            match = NAME.search(body)
            if match:
                recorder.arrivals.append((int(match.group(1)), now))
            recorder.in_flight += 1
            recorder.max_in_flight = max(recorder.max_in_flight, recorder.in_flight)
            if recorder.mode == "serial":
                start = max(now, recorder.busy_until)
                recorder.busy_until = start + recorder.service
                wait = recorder.busy_until - now
            elif recorder.mode == "limit":
                start, wait = now, recorder.service
            else:
                start, wait = now, recorder.delay
            if wait > 0:
                asyncio.get_running_loop().call_later(wait, self.answer, now, start)
            else:
                self.answer(now, start)

        def answer(self, arrived: float, start: float) -> None:
            recorder.in_flight -= 1
            recorder.timings.append((arrived, start, time.time(), 200))
            self.respond(OK)

        def respond(self, payload: bytes) -> None:
            if not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))

    return Handler


async def serve(port: int, recorder: Recorder, tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(make_protocol(recorder), "127.0.0.1", port, reuse_address=True, backlog=512,
                                      ssl=tls)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
    parser.add_argument("delay", type=float, nargs="?", default=0.0, help="delay mode: seconds before each answer")
    parser.add_argument("cert", nargs="?")
    parser.add_argument("key", nargs="?")
    parser.add_argument("--mode", choices=("delay", "serial", "limit"), default="delay")
    parser.add_argument("--service", type=float, default=0.02, help="serial and limit modes: seconds per request")
    parser.add_argument("--limit", type=int, default=4, help="limit mode: requests in service at once")
    args = parser.parse_args()
    recorder = Recorder(args.delay, args.mode, args.service, args.limit)
    asyncio.run(serve(args.port, recorder, tls_context(args.cert, args.key) if args.key else None))


if __name__ == "__main__":
    main()
