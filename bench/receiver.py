"""A fast keep-alive webhook receiver for the benchmarks, run as its own process.

asyncio with a minimal HTTP/1.1 parser, so that the receiver is never the bottleneck and its
CPU is not the daemon's. It records (event index, arrival time) for every POST whose body
names ``v<index>``; ``GET /stats`` answers the count, ``GET /dump`` every arrival.
Usage: python -m bench.receiver PORT [DELAY_SECS [CERT KEY]] (with CERT and KEY it speaks HTTPS)
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import sys
import time

NAME = re.compile(rb'"name": "v(\d+)"')


class Recorder:
    """Arrivals of one receiver process."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.arrivals: list[tuple[int, float]] = []


def make_protocol(recorder: Recorder) -> type[asyncio.Protocol]:
    class Handler(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport  # type: ignore[assignment]
            self.buffer = b""
            self.pending: asyncio.Future[None] | None = None

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
                else:
                    payload = json.dumps({"count": len(recorder.arrivals)}).encode()
                self.respond(payload)
                return
            match = NAME.search(body)
            if match:
                recorder.arrivals.append((int(match.group(1)), time.time()))
            if recorder.delay:
                loop = asyncio.get_running_loop()
                loop.call_later(recorder.delay, self.respond, b"OK")
            else:
                self.respond(b"OK")

        def respond(self, payload: bytes) -> None:
            if not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))

    return Handler


async def serve(port: int, delay: float, tls: ssl.SSLContext | None = None) -> None:
    recorder = Recorder(delay)
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


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0,
                      tls_context(sys.argv[3], sys.argv[4]) if len(sys.argv) > 4 else None))
