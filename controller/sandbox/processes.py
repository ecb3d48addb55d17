"""Child-process supervision for the sandbox: start, wait until ready, stop by PID.

Children get their own session so a Ctrl-C in the terminal reaches only us and we stop them in
order (load first, servers last). As a last resort, if we die without cleaning up (SIGKILL), the
kernel sends them SIGTERM (PR_SET_PDEATHSIG) instead of leaving servers running on the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import pwd
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import structlog

from controller.sandbox.errors import SandboxProcessError

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_prctl = _libc.prctl


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: only an async-signal-safe syscall, no Python locks."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """Distinct ports free right now; all held open together so the kernel cannot repeat one."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class ProcessSpec:
    """How to run one child; ``user`` switches to that account (PostgreSQL refuses to run as root)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    user: str | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout_s: float = 10.0


class ManagedProcess:
    """One child process whose output goes to ``<log_dir>/<name>.log`` (appended across restarts)."""

    def __init__(self, spec: ProcessSpec, log_dir: Path) -> None:
        self.spec = spec
        self.log_path = log_dir / f"{spec.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        user = pwd.getpwnam(self.spec.user) if self.spec.user else None
        env = {**os.environ, **self.spec.env}
        if user:
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        self._proc = subprocess.Popen(
            list(self.spec.argv),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.spec.cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only a raw prctl syscall runs in the child
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        log.info("started", process=self.spec.name, pid=self._proc.pid, argv=" ".join(self.spec.argv[:3]))

    def wait(self, timeout_s: float) -> int:
        """Exit code of a one-shot child (initdb), killing it if it overruns ``timeout_s``."""
        if self._proc is None:
            raise SandboxProcessError(f"{self.spec.name} was never started")
        try:
            return self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise SandboxProcessError(f"{self.spec.name} still running after {timeout_s:.0f}s") from None

    def wait_ready(self, probe: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Polls ``probe`` until true; fails fast, with the log tail, if the process exits first."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running():
                raise SandboxProcessError(f"{self.spec.name} exited before {what}:\n{self.log_tail()}")
            if probe():
                return
            time.sleep(0.1)
        raise SandboxProcessError(f"{self.spec.name} not {what} after {timeout_s:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        """Signals our own child by PID, escalating to SIGKILL; never touches anything else."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, self.spec.stop_signal)
            try:
                proc.wait(timeout=self.spec.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("did not stop in time, killing", process=self.spec.name, pid=proc.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            log.info("stopped", process=self.spec.name, pid=proc.pid, returncode=proc.returncode)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def http_ok(url: str, *, contains: str | None = None, timeout_s: float = 1.0) -> Callable[[], bool]:
    """Probe: GET ``url`` answers 200 (and its body contains ``contains``)."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                body = resp.read().decode(errors="replace")
                return bool(resp.status == 200 and (contains is None or contains in body))
        except (OSError, urllib.error.URLError):
            return False

    return check


def unix_socket_ok(path: Path) -> Callable[[], bool]:
    """Probe: something accepts connections on the unix socket ``path``."""

    def check() -> bool:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(1.0)
            try:
                s.connect(str(path))
            except OSError:
                return False
            return True

    return check


def command_ok(argv: Sequence[str], timeout_s: float = 5.0) -> Callable[[], bool]:
    """Probe: ``argv`` exits 0 (e.g. pg_isready)."""

    def check() -> bool:
        try:
            proc = subprocess.run(list(argv), capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return proc.returncode == 0

    return check
