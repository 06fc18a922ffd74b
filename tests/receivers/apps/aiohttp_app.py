"""The seed's example webhook written for aiohttp's web server (``python aiohttp_app.py HOST PORT``).

The handler is the seed's, line for line; only the ``record`` line is the test suite's.
"""

from __future__ import annotations

import os
import sys

from aiohttp import web

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import record  # noqa: E402


async def events_listener(request: web.Request) -> web.Response:
    """The seed's handler: a test call has no event; an event is printed."""
    record(request.path, request.headers.get("Host"), request.headers.get("Content-Type"),
           request.headers.get("Authorization"), await request.read())
    gluster_event = await request.json()
    if gluster_event is None:
        # No event to process, may be test call
        return web.Response(text="OK")
    print(gluster_event, flush=True)
    return web.Response(text="OK")


app = web.Application()
app.router.add_post("/listen", events_listener)

if __name__ == "__main__":
    web.run_app(app, host=sys.argv[1], port=int(sys.argv[2]), print=None)
