"""The seed's example webhook written for FastAPI, served by uvicorn (``uvicorn fastapi_app:app``).

The handler is the seed's, line for line: take the request's JSON, answer "OK" to a test
call (no event), print an event. Only the ``record`` line is the test suite's.
"""

from __future__ import annotations

import os
import sys

from fastapi import FastAPI, Request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import record  # noqa: E402

app = FastAPI()


@app.post("/listen")
async def events_listener(request: Request) -> str:
    """The seed's handler: a test call has no event; an event is printed."""
    record(request.url.path, request.headers.get("host"), request.headers.get("content-type"),
           request.headers.get("authorization"), await request.body())
    gluster_event = await request.json()
    if gluster_event is None:
        # No event to process, may be test call
        return "OK"
    print(gluster_event, flush=True)
    return "OK"
