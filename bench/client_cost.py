"""CPU per webhook POST: python-requests, http.client, and this project's delivery loop.

Why delivery does not use requests: the same keep-alive POST to the same local receiver
costs several times more CPU with it. Each client posts ``--count`` events one after the
other on one keep-alive connection; the figure is the client's CPU time per POST.

    python -m bench.client_cost            # needs 'pip install requests' for its first line
"""

from __future__ import annotations

import argparse
import threading
import time

from bench.daemon_bench import ReceiverProcess
from glustereventsd.sinks.http import driver as delivery
from glustereventsd.sinks.driver import DriverContext
from glustereventsd.models import Destination
from glustereventsd.sinks.outlet import Outlet
from glustereventsd.spool.acks import ResultChannel
from glustereventsd.spool.records import Record
from glustereventsd.base.stats import RateLimitedLog, Stats

BODY = b'{"event": "VOLUME_CREATE", "message": {"name": "v1"}, "nodeid": "n", "ts": 1}'


def with_requests(url: str, count: int) -> float | None:
    try:
        import requests
    except ImportError:
        return None
    session = requests.Session()
    session.post(url, data=BODY, headers={"Content-Type": "application/json"}, timeout=5)
    began = time.process_time()
    for _ in range(count):
        session.post(url, data=BODY, headers={"Content-Type": "application/json"}, timeout=5)
    return (time.process_time() - began) / count


def with_http_client(port: int, count: int) -> float:
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    began = time.process_time()
    for _ in range(count):
        connection.request("POST", "/listen", BODY, {"Content-Type": "application/json"})
        connection.getresponse().read()
    return (time.process_time() - began) / count


def with_delivery_loop(url: str, count: int) -> float:
    loop = delivery.DeliveryLoop(DriverContext(ResultChannel(count + 10), Stats(), RateLimitedLog(),
                                               threading.Event()))
    outlet = Outlet(Destination(url, concurrency=1, timeout_secs=5), 1, durable=False, window=count + 1,
                    memory_limit=count + 1)
    loop.add(outlet)
    records = [Record(0, 1, f"msg_{i}", i + 1, "VOLUME_CREATE", 1, time.time(), BODY) for i in range(count + 1)]

    def drained() -> bool:
        return outlet.memory_only() == 0 and not any(sink.flights for sink in loop.sinks.values())

    outlet.offer(records[:1])  # the first one opens the connection
    loop.run(until=drained, deadline=time.monotonic() + 10)
    outlet.offer(records[1:])
    began = time.process_time()
    loop.run(until=drained, deadline=time.monotonic() + 120)
    cost = (time.process_time() - began) / count
    loop.release_all()
    loop.close()
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    receiver = ReceiverProcess().start()
    try:
        cost = with_requests(receiver.url, args.count)
        print(f"requests.Session    {'not installed' if cost is None else f'{cost * 1e6:.0f} us CPU per POST'}")
        print(f"http.client         {with_http_client(receiver.port, args.count) * 1e6:.0f} us CPU per POST")
        print(f"delivery loop       {with_delivery_loop(receiver.url, args.count) * 1e6:.0f} us CPU per POST "
              "(headers, request, response parsing)")
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
