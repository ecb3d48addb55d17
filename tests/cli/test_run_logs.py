"""``greenlane run --log-format console``: colour for a human at a terminal, plain text into files and pipes."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from controller.cli.run import console_colours
from controller.sandbox.processes import free_ports
from tests.cli.helpers import cli_env, write_kubeconfig
from tests.conftest import REPO
from tests.kube.harness import RunningEmulator


def operator_argv(kubeconfig: Path) -> list[str]:
    metrics, health = free_ports(2)
    return [
        sys.executable,
        "-m",
        "controller",
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "-n",
        "shop",
        "--no-leader-elect",
        "--log-format",
        "console",
        "--metrics-addr",
        f"127.0.0.1:{metrics}",
        "--health-addr",
        f"127.0.0.1:{health}",
    ]


def read_until(fd: int, marker: bytes, timeout: float = 60) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while marker not in out and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def logs_in_a_terminal(kubeconfig: Path, **env: str) -> bytes:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        operator_argv(kubeconfig), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=cli_env(**env), cwd=REPO
    )
    os.close(slave)
    try:
        return read_until(master, b"operator started")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        os.close(master)


def test_console_logs_are_coloured_only_on_a_terminal(kube: RunningEmulator, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(kube, tmp_path)
    coloured = logs_in_a_terminal(kubeconfig, TERM="xterm-256color")
    assert b"operator started" in coloured and b"\x1b[" in coloured
    plain = logs_in_a_terminal(kubeconfig, TERM="xterm-256color", NO_COLOR="1")
    assert b"operator started" in plain and b"\x1b[" not in plain, "NO_COLOR is honoured"
    log_file = tmp_path / "operator.log"
    with log_file.open("wb") as sink:
        proc = subprocess.Popen(operator_argv(kubeconfig), stdout=sink, stderr=sink, env=cli_env(), cwd=REPO)
        deadline = time.monotonic() + 60
        while b"operator started" not in log_file.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    written = log_file.read_bytes()
    assert b"operator started" in written and b"\x1b[" not in written, "no escape codes in a log file"


def test_colour_decision() -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    class File:
        def isatty(self) -> bool:
            return False

    assert console_colours(Tty(), {}) is True  # type: ignore[arg-type]
    assert console_colours(File(), {}) is False  # type: ignore[arg-type]
    assert console_colours(Tty(), {"NO_COLOR": "1"}) is False  # type: ignore[arg-type]
    assert console_colours(Tty(), {"TERM": "dumb"}) is False  # type: ignore[arg-type]
