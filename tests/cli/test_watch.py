"""``get -w``: redrawn in place in a pseudo-terminal, change-only lines in a pipe, and an exit at the end.

A thread plays the operator: it moves the rollout's status forward only after the CLI has read the
previous state twice, so the test never depends on how fast this machine is.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

from tests.cli.helpers import (
    cli_env,
    greenlane,
    memory_check,
    progressing,
    rollout,
    rollout_gets,
    screen,
    set_status,
    wait_for,
    with_status,
    write_kubeconfig,
)
from tests.conftest import REPO
from tests.kube.harness import RunningEmulator

STATES = [
    progressing(step=0, weight=5),
    progressing(step=1, weight=25, consecutivePasses=0),
    progressing(step=1, weight=25, consecutivePasses=1),
    {**progressing(step=3, weight=100), "phase": "Promoted", "message": "Promoted at 100%"},
]


def play_operator(kube: RunningEmulator, stop: threading.Event) -> None:
    doc = rollout()
    for state in STATES[1:]:
        seen = rollout_gets(kube)
        wait_for(lambda s=seen: rollout_gets(kube) >= s + 2 or stop.is_set(), "the CLI to poll")  # type: ignore[misc]
        if stop.is_set():
            return
        set_status(kube, doc, state)


def start_operator(kube: RunningEmulator) -> tuple[threading.Thread, threading.Event]:
    kube.seed(with_status(rollout(), **STATES[0]))
    stop = threading.Event()
    thread = threading.Thread(target=play_operator, args=(kube, stop), daemon=True)
    thread.start()
    return thread, stop


def run_in_pty(argv: list[str], rows: int = 60, cols: int = 160, timeout: float = 90) -> tuple[int, str]:
    """Run ``argv`` with a pseudo-terminal as stdin/stdout/stderr; return its exit code and every byte it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = cli_env(TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                raise AssertionError("get -w produced nothing for too long:\n" + b"".join(chunks).decode()[-2000:])
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        return proc.wait(timeout=timeout), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


def test_watch_redraws_in_place_on_a_terminal_and_exits_on_promoted(kube: RunningEmulator, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(kube, tmp_path)
    thread, stop = start_operator(kube)
    argv = [sys.executable, "-m", "controller", "get", "checkout", "-w", "--interval", "0.1", "--kubeconfig"]
    try:
        code, raw = run_in_pty([*argv, str(kubeconfig)])
    finally:
        stop.set()
        thread.join(10)
    assert code == 0, raw[-3000:]
    assert raw.count("shop/checkout") >= len(STATES), "the view was drawn once per state at least"
    assert "\x1b[1A" in raw and "\x1b[2K" in raw, "redrawn by moving the cursor up and clearing lines"
    shown = screen(raw)
    assert sum("shop/checkout" in line for line in shown) == 1, "\n".join(shown)
    final = "\n".join(shown)
    assert "Promoted" in final and "4/4" in final and "green 100% / blue 0%" in final
    assert "68.0 MiB" in final and "\x1b[3" in raw, "values in units, with colour on a terminal"


def test_watch_without_colour_when_no_color_is_set(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), phase="Promoted", checks=[memory_check("Fail")]))
    kubeconfig = write_kubeconfig(kube, tmp_path)
    argv = [sys.executable, "-m", "controller", "get", "checkout", "--kubeconfig", str(kubeconfig)]
    master, slave = pty.openpty()
    env = cli_env(TERM="xterm-256color", NO_COLOR="1")
    proc = subprocess.run(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, timeout=60, check=False)
    os.close(slave)
    raw = b""
    while select.select([master], [], [], 0.5)[0]:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        raw += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"Fail" in raw and b"\x1b[3" not in raw and b"\x1b[1;3" not in raw


def test_watch_in_a_pipe_prints_only_changes_and_exits_on_promoted(kube: RunningEmulator, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(kube, tmp_path)
    thread, stop = start_operator(kube)
    try:
        done = greenlane(["get", "checkout", "-w", "--interval", "0.1", "--kubeconfig", str(kubeconfig)], timeout=90)
    finally:
        stop.set()
        thread.join(10)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(STATES), "one line per change, none while nothing changes:\n" + done.stdout
    assert len(set(lines)) == len(lines)
    assert "Progressing step 1/4 green 5%" in lines[0]
    assert "passes 0/2" in lines[1] and "passes 1/2" in lines[2]
    assert "Promoted step 4/4 green 100%" in lines[-1]
    assert "memory ok 68.0 MiB/38.1 MiB +1.7 MiB/h/+0 B/h (<= 1.30x blue)" in lines[0]
    assert "\x1b[" not in done.stdout
