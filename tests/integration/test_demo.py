"""The README's first command works: the demo shows an event reaching a webhook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import REPO


def test_demo_shows_an_event_arriving_twice_in_the_same_folder(tmp_path: Path) -> None:
    for _ in range(2):  # a second run in the same folder must work too
        result = subprocess.run([sys.executable, "-m", "glustereventsd.demo", "--folder", str(tmp_path / "demo")],
                                capture_output=True, text=True, timeout=120, cwd=REPO)
        assert result.returncode == 0, result.stdout + result.stderr
        body = result.stdout.split("The webhook received:\n", 1)[1]
        event = json.loads(body)
        assert event["event"] == "VOLUME_CREATE" and event["message"] == {"name": "demo-volume"}
        assert sorted(event) == ["event", "message", "nodeid", "ts"]
        assert "Traceback" not in result.stderr
