"""A real headless Chromium for the page tests, and ``listen --web`` as a real process.

Chromium is driven over W3C WebDriver: Selenium's client talks to Debian's
``chromium-driver``, which is built from the same source package as ``chromium`` and so
always matches its version (a driver downloaded separately is the usual cause of broken
browser tests, and nothing may be downloaded here anyway). Both paths are given
explicitly, so Selenium never looks for, or fetches, a driver of its own. The DevTools
protocol would need a WebSocket client and is Chromium-only; WebDriver is the standard
that Firefox's driver speaks too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HEADLESS_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000", "--force-device-scale-factor=1",
                  "--lang=en-US")


def _missing(reason: str) -> None:
    """Skip on a developer machine without a browser; fail in CI, which must install it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: .ci/run must install it")
    pytest.skip(reason)


def _pids_using(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (our own unique profile folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(int(entry.name))
    return found


class Browser:
    """One headless Chromium with a fresh profile; ``quit`` ends it and every process it started."""

    def __init__(self) -> None:
        if not Path(CHROMIUM).exists():
            _missing("chromium is not installed (apt-get install -y chromium)")
        if not Path(CHROMEDRIVER).exists():
            _missing("chromium-driver is not installed (apt-get install -y chromium-driver)")
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            _missing("selenium is not installed (pip install -e '.[test]')")
        self.profile = tempfile.mkdtemp(prefix="gev-i13-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in HEADLESS_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={self.profile}")
        self.service = Service(CHROMEDRIVER, log_output=subprocess.DEVNULL)
        self.driver = webdriver.Chrome(service=self.service, options=options)
        self.driver.set_page_load_timeout(20)
        self.driver.set_script_timeout(20)

    def open(self, url: str) -> None:
        """Load the page and wait until its first snapshot arrived."""
        self.driver.get(url)
        wait_for(lambda: self.js("return document.body.dataset.ready === '1'"), 10,
                 what="the page's first snapshot")

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), f"no screenshot written to {path}"
        return path

    def full_page_screenshot(self, path: Path, width: int = 1400) -> Path:
        """A screenshot of the whole page at ``width`` CSS pixels, not only the window.

        Resizing the window does not give the viewport that size here (a 1400x1000 window
        showed a 734-pixel-high page), so the page is laid out at an exact size through the
        DevTools protocol, which chromedriver relays.
        """
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False})
        try:
            height = int(self.js("return Math.ceil(document.documentElement.scrollHeight)"))
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": min(max(height, 600), 4000), "deviceScaleFactor": 1,
                "mobile": False})
            time.sleep(0.3)  # let layout and the next frame settle at the new size
            return self.screenshot(path)
        finally:
            self.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    def quit(self) -> None:
        try:
            self.driver.quit()
        except Exception:  # noqa: BLE001 - fall through to killing by pid
            pass
        process = getattr(self.service, "process", None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(10)
        for pid in _pids_using(self.profile):  # only browsers started with our own profile
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="session")
def browser_session() -> Iterator[Browser]:
    browser = Browser()
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def browser(browser_session: Browser) -> Iterator[Browser]:
    """The session's Chromium, on a blank page again after the test."""
    yield browser_session
    try:
        browser_session.driver.get("about:blank")  # closes the page's event stream
    except Exception:  # noqa: BLE001 - the next test's open() reports a dead browser
        pass


class WebListener:
    """``gluster-eventsapi listen --web`` as a real process on an ephemeral port."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None, stdin: str = "",
                 cwd: Path | None = None) -> None:
        self._root: tempfile.TemporaryDirectory[str] | None = None
        if env is None:
            # A node of its own: an open page reads the pool's conditions ("Open now"), and this
            # machine's glusterd and spool are not the test's to ask (or to write logs in).
            self._root = tempfile.TemporaryDirectory(prefix="listen-root-")
            env = {**os.environ, "GLUSTER_EVENTS_ROOT": self._root.name}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gluster_eventsapi", "listen", "--port", "0", "--web", *argv],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, cwd=cwd or REPO)
        assert self.proc.stdin is not None
        self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.out: list[str] = []
        self.err: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for thread in self._threads:
            thread.start()
        line = wait_for(lambda: next((x for x in self.err if x.startswith("Listening on")), None)
                        or self.proc.poll() is not None, 15, what="listen --web to start")
        assert self.proc.poll() is None, "\n".join(self.err)
        found = re.search(r"http://(\S+?):(\d+)/", str(line))
        assert found, line
        self.host, self.port = found.group(1), int(found.group(2))

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(10)
        for thread in self._threads:
            thread.join(5)
        if self._root is not None:
            self._root.cleanup()
        return code


def save_for_readme(shot: Path, name: str) -> None:
    """With GEV_UPDATE_SCREENSHOTS=1, also copy a screenshot to docs/images/ for the README."""
    if os.environ.get("GEV_UPDATE_SCREENSHOTS") == "1":
        target = REPO / "docs/images" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
