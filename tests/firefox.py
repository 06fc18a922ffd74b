"""A real headless Firefox for the page tests, driven over its own Marionette protocol.

Debian ships Firefox (``firefox-esr``) but not geckodriver, and nothing may be downloaded
here, so this speaks Marionette directly: a TCP socket on loopback carrying
``<length>:<json>`` frames, commands ``[0, id, name, params]`` and answers
``[1, id, error, result]``, the WebDriver command set under ``WebDriver:*`` names. A
few commands are all the tests need.

Firefox is started with a fresh profile whose prefs turn off every background service
(updates, telemetry, remote settings, safe browsing, captive portal detection...) and send
any remaining non-local request to a closed port on 127.0.0.1, so the browser never
reaches beyond this machine; pages on 127.0.0.1 are never proxied.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import wait_for

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox") or "/usr/bin/firefox-esr"

PREFS = {
    "marionette.port": 0,  # any free port; Firefox writes it to MarionetteActivePort
    "network.proxy.type": 1,  # everything not local goes to a proxy that is not there
    "network.proxy.http": "127.0.0.1", "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": 9,
    "network.proxy.share_proxy_settings": True,
    "network.proxy.allow_hijacking_localhost": False,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1, ::1",
    "network.trr.mode": 5, "network.dns.disablePrefetch": True, "network.prefetch-next": False,
    "network.predictor.enabled": False, "network.http.speculative-parallel-limit": 0,
    "network.captive-portal-service.enabled": False, "network.connectivity-service.enabled": False,
    "app.update.disabledForTesting": True, "app.update.auto": False,
    "browser.safebrowsing.malware.enabled": False, "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False, "browser.safebrowsing.update.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False, "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False, "toolkit.telemetry.unified": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False, "toolkit.telemetry.server": "",
    "services.settings.server": "http://127.0.0.1:9/", "messaging-system.rsexperimentloader.enabled": False,
    "app.normandy.enabled": False, "app.shield.optoutstudies.enabled": False,
    "extensions.update.enabled": False, "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False, "dom.push.enabled": False, "dom.push.connection.enabled": False,
    "browser.newtabpage.enabled": False, "browser.startup.page": 0, "browser.startup.homepage": "about:blank",
    "browser.shell.checkDefaultBrowser": False, "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False, "browser.discovery.enabled": False,
    "browser.search.update": False, "browser.ping-centre.telemetry": False,
    "identity.fxaccounts.enabled": False, "geo.enabled": False, "media.gmp-manager.url": "",
    "media.gmp-gmpopenh264.enabled": False, "security.OCSP.enabled": 0,
    "security.remote_settings.crlite_filters.enabled": False, "security.remote_settings.intermediates.enabled": False,
}


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: .ci/run must install it")
    pytest.skip(reason)


class MarionetteError(RuntimeError):
    """An error answer from Firefox."""


class Firefox:
    """One headless Firefox with a fresh profile and a Marionette session."""

    def __init__(self) -> None:
        if not Path(FIREFOX).exists():
            _missing("firefox-esr is not installed (apt-get install -y firefox-esr)")
        self.profile = Path(tempfile.mkdtemp(prefix="gev-i13-firefox-"))
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        env = {**os.environ, "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"}
        self.log_path = self.profile.parent / f"{self.profile.name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([FIREFOX, "--headless", "--marionette", "--no-remote", "--profile",
                                      str(self.profile), "--width", "1400", "--height", "1000", "about:blank"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, env=env,
                                     start_new_session=True)
        self._id = 0
        self.sock: socket.socket | None = None
        try:
            port_file = self.profile / "MarionetteActivePort"
            wait_for(lambda: (port_file.exists() and port_file.read_text().strip()) or self.proc.poll() is not None,
                     60, 0.1, "Firefox's Marionette port")
            assert self.proc.poll() is None, "Firefox exited at start"
            self.sock = socket.create_connection(("127.0.0.1", int(port_file.read_text())), timeout=30)
            self._read()  # the greeting: {"applicationType": "gecko", "marionetteProtocol": 3}
            self.command("WebDriver:NewSession", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})
        except BaseException:
            self.quit()
            raise

    def _read(self) -> Any:
        assert self.sock is not None
        head = b""
        while not head.endswith(b":"):
            byte = self.sock.recv(1)
            if not byte:
                raise MarionetteError("Firefox closed the Marionette connection")
            head += byte
        length = int(head[:-1])
        body = b""
        while len(body) < length:
            chunk = self.sock.recv(length - len(body))
            if not chunk:
                raise MarionetteError("Firefox closed the Marionette connection")
            body += chunk
        return json.loads(body)

    def command(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Send one command and return its result; raise MarionetteError on an error answer."""
        assert self.sock is not None
        self._id += 1
        data = json.dumps([0, self._id, name, params or {}]).encode()
        self.sock.sendall(str(len(data)).encode() + b":" + data)
        while True:
            kind, message_id, error, result = self._read()
            if kind == 1 and message_id == self._id:
                if error:
                    raise MarionetteError(f"{name}: {error.get('error')}: {error.get('message')}")
                return result

    def js(self, script: str, *args: Any) -> Any:
        return self.command("WebDriver:ExecuteScript", {"script": script, "args": list(args)})["value"]

    def open(self, url: str) -> None:
        self.command("WebDriver:Navigate", {"url": url})
        wait_for(lambda: self.js("return document.body && document.body.dataset.ready === '1'"), 15, 0.05,
                 "the page's first snapshot")

    def screenshot(self, path: Path) -> Path:
        data = self.command("WebDriver:TakeScreenshot", {"full": True, "hash": False})["value"]
        path.write_bytes(base64.b64decode(data))
        return path

    def quit(self) -> None:
        if self.sock is not None:
            try:
                self.command("Marionette:Quit", {"flags": ["eForceQuit"]})
            except (OSError, MarionetteError, ValueError):
                pass
            self.sock.close()
            self.sock = None
        if self.proc.poll() is None:
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: only its processes
                self.proc.wait(10)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # content processes left behind, if any
        except ProcessLookupError:
            pass
        self.log.close()
        self.log_path.unlink(missing_ok=True)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture
def firefox() -> Iterator[Firefox]:
    browser = Firefox()
    try:
        yield browser
    finally:
        browser.quit()
