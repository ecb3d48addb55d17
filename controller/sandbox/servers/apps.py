"""The demo app, one process per track, run by that track's own venv interpreter.

The app package is copied next to the sandbox state and run with ``python -m``: its venv has no
``controller`` installed, and a copy means the running demo never sees a half-edited checkout.
"""

from __future__ import annotations

import json
import random
import shutil
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from controller.sandbox.app.faults import FaultSettings
from controller.sandbox.errors import SandboxError
from controller.sandbox.processes import ManagedProcess, ProcessSpec, http_ok
from controller.sandbox.venvs import APP_DIR

APP_MODULE = "greenlane_sandbox_app"
# Kubernetes' pod-name alphabet (no vowels, no 0/1/3): generated names look and match like real ones.
_K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def pod_name(deployment: str, rng: random.Random | None = None) -> str:
    """``<deployment>-<10 char template hash>-<5 char suffix>``, as a ReplicaSet would name a pod."""
    pick = rng or random.SystemRandom()
    template_hash = "".join(pick.choice(_K8S_ALPHABET) for _ in range(10))
    suffix = "".join(pick.choice(_K8S_ALPHABET) for _ in range(5))
    return f"{deployment}-{template_hash}-{suffix}"


def install_app(target_root: Path) -> Path:
    """Copies the app package to ``<target_root>/greenlane_sandbox_app``; returns the PYTHONPATH entry."""
    dest = target_root / APP_MODULE
    if not dest.exists():
        shutil.copytree(APP_DIR, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target_root


def fault_args(faults: FaultSettings) -> list[str]:
    """Only the knobs that differ from "off", as ``--fault KEY=VALUE`` pairs."""
    defaults = asdict(FaultSettings())
    return [f"--fault={k}={v}" for k, v in asdict(faults).items() if v != defaults[k]]


class AppProcess:
    """One track's app: its process plus a client for the fault admin endpoint."""

    def __init__(
        self,
        *,
        python: Path,
        pythonpath: Path,
        deployment: str,
        pod: str,
        port: int,
        dsn: str,
        faults: FaultSettings,
        log_dir: Path,
    ) -> None:
        self.deployment, self.pod, self.port = deployment, pod, port
        self.process = ManagedProcess(
            ProcessSpec(
                name=f"app-{deployment}",
                argv=[
                    str(python),
                    "-m",
                    APP_MODULE,
                    "--port",
                    str(port),
                    "--deployment",
                    deployment,
                    "--pod",
                    pod,
                    "--dsn",
                    dsn,
                    *fault_args(faults),
                ],
                env={"PYTHONPATH": str(pythonpath), "PYTHONUNBUFFERED": "1"},
                stop_timeout_s=5.0,
            ),
            log_dir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process.start()

    def wait_ready(self, timeout_s: float) -> None:
        self.process.wait_ready(http_ok(f"{self.url}/healthz"), timeout_s, "healthy (/healthz)")

    def _admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        method = "GET" if path == "/admin/faults" and body is None else "POST"
        req = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                result: dict[str, Any] = json.loads(resp.read())
        except OSError as exc:
            raise SandboxError(f"{self.deployment} admin {method} {path} failed: {exc}") from exc
        return result

    def fault_state(self) -> dict[str, Any]:
        """Knobs, ``active``, ``active_from`` (unix), and what has leaked so far."""
        return self._admin("/admin/faults")

    def set_faults(self, faults: FaultSettings) -> dict[str, Any]:
        """Replaces all knobs; they bite after ``fault_after_s`` or on :meth:`activate_faults`."""
        return self._admin("/admin/faults", asdict(faults))

    def activate_faults(self) -> float:
        """Activates configured faults now; returns when they became active (unix seconds)."""
        return float(self._admin("/admin/faults/activate", {})["active_from"])
