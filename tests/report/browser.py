"""Headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, recording every request.

Two independent recorders: the page's own network events (``Network.requestWillBeSent``, which see every
fetch the page starts, whatever its scheme), and a proxy on loopback that every non-loopback connection
Chromium makes must pass through (and that answers nothing). A report that opens offline leaves both empty,
apart from the navigation to its own file.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import websocket

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Chromium's own services (network time, sign-in, updates, safe browsing): not the page's, and quieter so
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,AutofillServerCommunication",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-breakpad",
    "--disable-extensions",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--window-size=1200,900",
)
INSTALL_HINT = "needs Debian's chromium: scripts/install-system-deps.sh (set GREENLANE_ALLOW_SKIP=1 to skip)"
STARTUP_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 30.0


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("GREENLANE_ALLOW_SKIP") == "1":
        pytest.skip(INSTALL_HINT)
    pytest.fail(f"chromium not found on PATH; {INSTALL_HINT}", pytrace=False)


class RecordingProxy:
    """Accepts connections, records their request line, answers 502: nothing gets through."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="recording-proxy", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    line = conn.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                    self.requests.append(line)
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._server.close()


@dataclass
class Page:
    """One page over one DevTools websocket; events are kept in order for the test to inspect."""

    ws: Any
    events: list[dict[str, Any]] = field(default_factory=list)
    _next: int = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT_S
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)
        raise TimeoutError(f"{method}: no answer within {CALL_TIMEOUT_S}s")

    def wait_for(self, event: str, timeout: float = CALL_TIMEOUT_S) -> dict[str, Any]:
        for seen in self.events:
            if seen.get("method") == event:
                return seen
        deadline = time.monotonic() + timeout
        # Poll in 1 s slices, then give call() back its own timeout: a 1 s limit left behind would fail a slow
        # evaluate or screenshot after one second of silence instead of CALL_TIMEOUT_S.
        previous = self.ws.gettimeout()
        self.ws.settimeout(1)
        try:
            while time.monotonic() < deadline:
                try:
                    message: dict[str, Any] = json.loads(self.ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                self.events.append(message)
                if message.get("method") == event:
                    return message
        finally:
            self.ws.settimeout(previous)
        raise TimeoutError(f"no {event} within {timeout}s")

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        value: Any = result["result"].get("value")
        return value

    def screenshot(self, path: Path) -> None:
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        shot = self.call("Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        if marker.exists() and marker.read_text().strip():
            return int(marker.read_text().split()[0])
        time.sleep(0.1)
    raise TimeoutError(f"chromium did not open its DevTools port within {STARTUP_TIMEOUT_S}s")


def _page_socket(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
        targets = json.loads(answer.read())
    page = next(t for t in targets if t.get("type") == "page")
    return str(page["webSocketDebuggerUrl"])


@contextmanager
def chromium(proxy: RecordingProxy) -> Iterator[Page]:
    """A fresh headless Chromium (own profile), all traffic through ``proxy``; stopped by PID afterwards."""
    profile = Path(tempfile.mkdtemp(prefix="greenlane-chromium-"))
    command = [
        chromium_binary(),
        *FLAGS,
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        f"--proxy-server=http://127.0.0.1:{proxy.port}",
        "--proxy-bypass-list=<-loopback>",
        "about:blank",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ws = None
    try:
        port = _devtools_port(profile, process)
        ws = websocket.create_connection(_page_socket(port), timeout=CALL_TIMEOUT_S, suppress_origin=True)
        page = Page(ws)
        for domain in ("Network", "Page", "Runtime"):
            page.call(f"{domain}.enable")
        yield page
    finally:
        if ws is not None:
            ws.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


PAGE_FACTS = """
(async () => {
  const drawn = async (img) => {
    await img.decode().catch(() => null);
    if (!img.complete || img.naturalWidth === 0) return 0;
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 0 && (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200)) inked++;
    }
    return inked;
  };
  const charts = [];
  for (const fig of document.querySelectorAll('figure.chart')) {
    const img = fig.querySelector('img');
    charts.push({check: fig.dataset.check, width: img ? img.naturalWidth : 0, inked: img ? await drawn(img) : 0,
                 src: img ? img.getAttribute('src').slice(0, 26) : ''});
  }
  const rows = [...document.querySelectorAll('#headline tbody tr')].map(tr => ({
    label: tr.cells[0].textContent.trim(),
    green: tr.querySelector('[data-track=green]').textContent.trim(),
    blue: tr.querySelector('[data-track=blue]').textContent.trim(),
  }));
  return {title: document.title, charts, rows, svgs: document.querySelectorAll('svg').length,
          summary: document.querySelector('#summary') ? document.querySelector('#summary').textContent : ''};
})()
"""


def open_report(path: Path, screenshot: Path | None = None) -> tuple[dict[str, Any], list[str], list[str]]:
    """Open ``path``; return the page's facts, the URLs the page requested and what reached the proxy."""
    proxy = RecordingProxy()
    try:
        with chromium(proxy) as page:
            page.call("Page.navigate", url=path.resolve().as_uri())
            page.wait_for("Page.loadEventFired")
            facts = page.evaluate(PAGE_FACTS)
            if screenshot is not None:
                page.screenshot(screenshot)
            page.call("Runtime.evaluate", expression="1")  # drains events queued while the facts were gathered
            urls = page.requested_urls()
    finally:
        proxy.close()
    return facts, urls, proxy.requests


BROWSER_SERVICES = (".google.com", ".googleapis.com", ".gvt1.com", ".gstatic.com")
"""Chromium's own background services (time, sign-in, component updates) reach the blocking proxy whatever page
is open, and vary by version; web fonts are not among them. The page's own requests are the DevTools recorder's."""


def _browser_service(host: str) -> bool:
    return host.endswith(BROWSER_SERVICES) and not host.startswith("fonts.")


NUMBER = re.compile(r"\d")


def _host(request_line: str) -> str:
    target = request_line.split(" ")[1] if " " in request_line else request_line
    return (urlparse(target).hostname if "://" in target else target.rsplit(":", 1)[0]) or target


def leaks(urls: list[str], proxied: list[str], page: Path) -> list[str]:
    """Requests that left the page: anything but its own file and inline data, anything the proxy saw for it."""
    own = page.resolve().as_uri()
    from_page = [u[:80] for u in urls if u != own and not u.startswith("data:")]
    from_proxy = [line for line in proxied if not _browser_service(_host(line))]
    return from_page + from_proxy


def assert_report_is_sound(facts: dict[str, Any], urls: list[str], proxied: list[str], page: Path) -> None:
    assert leaks(urls, proxied, page) == [], proxied
    assert facts["charts"], "the report has charts"
    for chart in facts["charts"]:
        assert chart["src"].startswith("data:image/svg+xml"), chart
        assert chart["width"] > 0 and chart["inked"] > 1000, f"chart {chart['check']} did not draw: {chart}"
    assert facts["rows"], "the headline table has rows"
    latency = [r for r in facts["rows"] if r["label"].startswith("latency")]
    assert latency and all(NUMBER.search(r["green"]) and NUMBER.search(r["blue"]) for r in latency), latency
    numbered = [r for r in facts["rows"] if NUMBER.search(r["green"]) and NUMBER.search(r["blue"])]
    assert len(numbered) >= len(facts["rows"]) - 1, facts["rows"]
