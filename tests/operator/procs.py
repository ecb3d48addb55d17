"""Running the real ``greenlane`` executable against the emulator, and waiting on what it writes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import yaml

from controller.sandbox.processes import free_ports

T = TypeVar("T")


TESTER_TOKEN = "token-of-tester"
"""The emulator authenticates this bearer token as ``tester`` (SelfSubjectReview) when a test registers it."""


def write_kubeconfig(server: str, path: Path, namespace: str = "default") -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emu",
                "clusters": [{"name": "emu", "cluster": {"server": server}}],
                "users": [{"name": "tester", "user": {"token": TESTER_TOKEN}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "tester", "namespace": namespace}}],
            }
        )
    )
    return path


class Operator:
    """One ``greenlane run`` process; ``kill()`` is SIGKILL (a crash), ``stop()`` is SIGTERM (a redeploy)."""

    def __init__(
        self,
        kubeconfig: Path,
        namespace: str,
        *,
        name: str,
        leader_elect: bool,
        log: Path,
        prometheus: str | None = None,
    ) -> None:
        self.metrics_port, self.health_port = free_ports(2)
        self.log_path = log
        args = [
            sys.executable,
            "-m",
            "controller",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--namespace",
            namespace,
            "--metrics-addr",
            f"127.0.0.1:{self.metrics_port}",
            "--health-addr",
            f"127.0.0.1:{self.health_port}",
            "--leader-elect" if leader_elect else "--no-leader-elect",
            "--lease-namespace",
            "greenlane-system",
            *(["--prometheus-url", prometheus] if prometheus else []),
        ]
        env = {**os.environ, "POD_NAME": name}
        self._log = log.open("w")
        self.process = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text()


@contextmanager
def operator(
    kubeconfig: Path,
    namespace: str,
    log: Path,
    *,
    name: str = "greenlane-0",
    leader_elect: bool = False,
    prometheus: str | None = None,
) -> Iterator[Operator]:
    """``prometheus``: the operator's --prometheus-url, so rollouts naming it pass the origin allowlist."""
    op = Operator(kubeconfig, namespace, name=name, leader_elect=leader_elect, log=log, prometheus=prometheus)
    try:
        yield op
    finally:
        if op.process.poll() is None:
            op.stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, every: float = 0.2) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
