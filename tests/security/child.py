"""Run ``greenlane`` as a child process and measure what it cost: exit code, output, CPU and peak memory.

CPU time and peak RSS come from ``wait4`` (the kernel's accounting of that one child), not from a timer,
so a busy machine slows the test down without changing the figures much. The child runs under an
address-space limit and a kill timer so that a regression (the alias bomb once took 4.8 GB and 55 s)
fails the test quickly instead of taking the shared machine down with it.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

ADDRESS_SPACE = 2 * 2**30
"""Virtual memory for the child: far above what validating needs (~60 MB resident), far below a bomb."""


@dataclass(frozen=True)
class Run:
    code: int
    output: str
    cpu_seconds: float
    peak_rss_mb: float


def _limit_memory() -> None:  # runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def greenlane(*args: str | Path, timeout: float = 60.0) -> Run:
    """``python -m controller ARGS`` with the child's own CPU time and peak RSS."""
    argv = [sys.executable, "-m", "controller", *map(str, args)]
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_limit_memory,  # noqa: PLW1509 - the test process starts no threads before this
        )
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        out.seek(0)
        output = out.read().decode(errors="replace")
    if proc.returncode == -signal.SIGKILL:
        raise AssertionError(f"greenlane {' '.join(map(str, args))} ran longer than {timeout:g}s:\n{output}")
    return Run(proc.returncode, output, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
