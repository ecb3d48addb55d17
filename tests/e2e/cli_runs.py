"""``greenlane demo`` as a user runs it: a child process on a pipe or in a pseudo-terminal, its ``--json`` read back.

The e2e module runs every scenario this way, so each run checks the demo's screen and the rollout's outcome
at once; one scenario runs in a terminal (a pty of fixed size), the others through pipes.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from dataclasses import dataclass, field
from pathlib import Path

from controller.sandbox.binaries import find_server_binaries
from controller.sandbox.demo import TIMEOUT_S, DemoResult
from controller.sandbox.pythons import find_python
from tests.cli.helpers import cli_env, screen
from tests.conftest import REPO
from tests.sandbox.helpers import require

ROWS, COLS = 60, 160
RUN_BOUND_S = TIMEOUT_S["fast"] + 180.0
"""The demo's own timeout, plus sandbox start-up (a first run builds two virtualenvs) and the report."""
TIME_PREFIX = re.compile(r"^\d\d:\d\d:\d\d ")


@dataclass
class CliRun:
    """One ``greenlane demo`` process: what it wrote (a terminal's bytes as chunks, or a pipe's text)."""

    scenario: str
    result: DemoResult
    returncode: int
    stdout: str
    stderr: str = ""
    chunks: list[str] = field(default_factory=list)

    @property
    def tty(self) -> bool:
        return bool(self.chunks)

    def lines(self) -> list[str]:
        """What a reader sees at the end: the pipe's lines, or the terminal's screen."""
        return screen(self.stdout, COLS) if self.tty else self.stdout.splitlines()


def dependencies() -> None:
    """Missing servers or interpreters fail (or skip) with their install hint before any process starts."""
    require(lambda: (find_server_binaries(), find_python("3.11"), find_python("3.12")))


def argv(scenario: str, out_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "controller",
        "demo",
        "--scenario",
        scenario,
        "--report",
        str(out_dir),
        "--json",
        str(out_dir / f"{scenario}.json"),
    ]


def _result(scenario: str, out_dir: Path, code: int, output: str) -> DemoResult:
    path = out_dir / f"{scenario}.json"
    assert code == 0 and path.exists(), f"greenlane demo --scenario {scenario} exited {code}:\n{output[-4000:]}"
    return DemoResult.from_json(json.loads(path.read_text()))


def piped(scenario: str, out_dir: Path) -> CliRun:
    proc = subprocess.run(
        argv(scenario, out_dir),
        capture_output=True,
        text=True,
        timeout=RUN_BOUND_S,
        env=cli_env(),
        cwd=REPO,
        check=False,
    )
    result = _result(scenario, out_dir, proc.returncode, proc.stdout + proc.stderr)
    return CliRun(scenario, result, proc.returncode, proc.stdout, proc.stderr)


def in_terminal(scenario: str, out_dir: Path) -> CliRun:
    """Run in a ROWS x COLS pseudo-terminal (stdout and stderr both); keep every chunk as it arrived."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    env = cli_env(TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS))
    proc = subprocess.Popen(
        argv(scenario, out_dir), stdin=slave, stdout=slave, stderr=slave, env=env, cwd=REPO, start_new_session=True
    )
    os.close(slave)
    written: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, written), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout=RUN_BOUND_S)
    finally:
        if proc.poll() is None:
            proc.terminate()  # our own child, by PID: it stops its sandbox on SIGTERM
            proc.wait(60)
        reader.join(10)
        os.close(master)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    chunks = [decoder.decode(data) for data in written]
    raw = "".join(chunks)
    return CliRun(scenario, _result(scenario, out_dir, code, raw), code, raw, chunks=chunks)


def _drain(master: int, into: list[bytes]) -> None:
    """Keep each write the child makes to its terminal, until the terminal closes (EIO once the child exits)."""
    with contextlib.suppress(OSError):
        while data := os.read(master, 65536):
            into.append(data)


def without_time(line: str) -> str:
    return TIME_PREFIX.sub("", line)
