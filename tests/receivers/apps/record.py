"""What every Python receiver of the matrix writes down about each request it is handed.

One JSON line per request, appended to the file named by $RECEIVER_RECORD: the Host,
Content-Type and Authorization headers and the body bytes (base64) as the framework gave
them to the application. Standard library only: it runs in each receiver's own venv.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Optional


def record(path: str, host: Optional[str], content_type: Optional[str], authorization: Optional[str],
           body: bytes) -> None:
    """Append one request's line to $RECEIVER_RECORD (nothing when it is unset)."""
    target = os.environ.get("RECEIVER_RECORD")
    if not target:
        return
    line = json.dumps({"path": path, "host": host, "content_type": content_type,
                       "authorization": authorization, "body": base64.b64encode(body).decode("ascii")})
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
