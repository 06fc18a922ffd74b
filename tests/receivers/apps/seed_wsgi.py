"""The seed's example webhook, its text unchanged, as a WSGI application.

``load_seed_app`` runs the example's own code (taken from the seed by the test suite and
written to the file named by $SEED_EXAMPLE) with ``Flask.run`` replaced, so that the last
line of the example, ``app.run(host="0.0.0.0", port=9000)``, either serves on the address
the test chose (``python seed_wsgi.py HOST PORT``) or does nothing (gunicorn imports
``seed_wsgi:app``). The application is wrapped in a WSGI middleware that records each
request as the example received it (see record.py); the example's handler is untouched.
"""

from __future__ import annotations

import io
import os
import runpy
import sys
from typing import Any, Callable, Iterable, Optional

import flask

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import record  # noqa: E402

Serve = Optional[Callable[[Any], Any]]


def recording(wsgi_app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """WSGI middleware: read the body, record it and the headers, hand the same bytes on."""
    def middleware(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        record(environ.get("PATH_INFO", ""), environ.get("HTTP_HOST"), environ.get("CONTENT_TYPE"),
               environ.get("HTTP_AUTHORIZATION"), body)
        return wsgi_app(environ, start_response)
    return middleware


def load_seed_app(serve: Serve) -> Any:
    """Run the seed's example with ``Flask.run`` replaced by ``serve`` (None: don't serve)."""
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        self.wsgi_app = recording(self.wsgi_app)
        return serve(self) if serve is not None else None

    flask.Flask.run = run  # type: ignore[method-assign]
    namespace = runpy.run_path(os.environ["SEED_EXAMPLE"], run_name="seed_example")
    return namespace["app"]


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    original_run = flask.Flask.run
    load_seed_app(lambda app: original_run(app, host=host, port=port))
else:
    app = load_seed_app(None)
