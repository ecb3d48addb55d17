"""A real Prometheus for tests: backfilled with promtool, started on loopback, stopped by PID.

Binaries come from the Debian package ``prometheus`` (which ships ``promtool``). When they are missing
the tests fail with an install hint, unless GREENLANE_ALLOW_SKIP=1 says skipping is acceptable.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

INSTALL_HINT = (
    "needs the Debian package 'prometheus' (prometheus and promtool on PATH): "
    "sudo apt-get install -y prometheus, or scripts/install-system-deps.sh; "
    "set GREENLANE_ALLOW_SKIP=1 to skip instead"
)


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("GREENLANE_ALLOW_SKIP") == "1":
            pytest.skip(f"{binary} not found; {INSTALL_HINT}")
        pytest.fail(f"{binary} not found on PATH; {INSTALL_HINT}")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def backfill(openmetrics: str, data: Path) -> None:
    source = data.parent / "input.om"
    source.write_text(openmetrics)
    subprocess.run(
        [require("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=300,
    )


@contextmanager
def running(data: Path) -> Iterator[str]:
    """Start Prometheus on a free loopback port over ``data``; yield its URL; stop it by PID."""
    config = data.parent / "prometheus.yml"
    config.write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    port = free_port()
    log = (data.parent / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            require("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=3650d",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process, data.parent / "prometheus.log")
        yield url
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"prometheus not ready after 30s:\n{log.read_text()[-2000:]}")
