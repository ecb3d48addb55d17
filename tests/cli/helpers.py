"""Driving the real ``greenlane`` process against the strict emulator, as an on-call engineer would."""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO
from tests.kube.harness import RunningEmulator

Json = dict[str, Any]
BGR = ("greenlane.dev/v1alpha1", "bluegreenrollouts")
TOKEN, USER = "token-of-alice", "alice@example.com"
T0 = "2026-01-01T12:00:00Z"


def rollout(name: str = "checkout", namespace: str = "shop", labels: dict[str, str] | None = None) -> Json:
    doc: Json = yaml.safe_load((REPO / "config" / "samples" / "checkout-gateway-api.yaml").read_text())
    doc["metadata"] = {"name": name, "namespace": namespace, "labels": labels or {}}
    return doc


def with_status(doc: Json, **status: Any) -> Json:
    out = copy.deepcopy(doc)
    out["status"] = status
    return out


def memory_check(verdict: str = "Pass", green: float = 71_303_168.0, blue: float = 40_000_000.0) -> Json:
    """A memory check as the operator writes it: a level in bytes and a slope in bytes per second."""
    return {
        "name": "memory",
        "verdict": verdict,
        "green": green,
        "blue": blue,
        "threshold": "<= 1.30x blue",
        "samples": 240,
        "unit": "bytes",
        "measure": "level",
        "level": {"green": green, "blue": blue},
        "slope": {"green": 500.0, "blue": 0.0},
        "message": "memory ...",
    }


def progressing(step: int = 1, weight: int = 25, **extra: Any) -> Json:
    status = {
        "phase": "Progressing",
        "currentStep": step,
        "stepNumber": step + 1,
        "weight": weight,
        "stepStartedAt": T0,
        "consecutivePasses": 1,
        "consecutiveFailures": 0,
        "checks": [memory_check()],
        "message": f"At step {step + 1}/4 ({weight}%)",
    }
    status.update(extra)
    return status


def write_kubeconfig(kube: RunningEmulator | None, tmp_path: Path, *, server: str | None = None) -> Path:
    """A kubeconfig whose user entry is named ``kubeconfig-entry`` and authenticates as ``USER``."""
    if kube is not None:
        kube.emulator.users[TOKEN] = USER
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emu",
        "clusters": [{"name": "emu", "cluster": {"server": server or (kube.url if kube else "")}}],
        "users": [{"name": "kubeconfig-entry", "user": {"token": TOKEN}}],
        "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "kubeconfig-entry", "namespace": "shop"}}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "KUBECONFIG")}
    env.update(extra)
    return env


def greenlane(
    args: Sequence[str], *, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m controller ARGS`` (stdout and stderr are pipes: not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "controller", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        check=False,
        cwd=REPO,
    )


def plugin_executable() -> Path:
    return Path(sys.executable).parent / "kubectl-greenlane"


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll a condition that a subprocess makes true; the bound is generous, the loop ends as soon as it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def rollout_gets(kube: RunningEmulator, name: str = "checkout") -> int:
    path = f"/apis/greenlane.dev/v1alpha1/namespaces/shop/bluegreenrollouts/{name}"
    return sum(1 for r in kube.requests() if r.method == "GET" and r.path == path)


def set_status(kube: RunningEmulator, doc: Json, status: Json) -> None:
    current = kube.get(*BGR, "shop", doc["metadata"]["name"]) or doc
    kube.seed({**current, "status": status})


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def screen(raw: str, width: int = 200) -> list[str]:
    """The lines a terminal shows after ``raw``: enough of VT100 for rich's Live (CR, LF, cursor up, erase line)."""
    lines: list[str] = [""]
    row = col = 0
    i = 0
    while i < len(raw):
        found = ANSI.match(raw, i)
        if found:
            code = found.group(0)
            if code.endswith("A"):
                row = max(0, row - int(code[2:-1] or 1))
            elif code.endswith("K"):
                lines[row] = lines[row][:col] if code in {"\x1b[K", "\x1b[0K"} else ""
            i = found.end()
            continue
        char = raw[i]
        if char == "\r":
            col = 0
        elif char == "\n":
            row += 1
            col = 0
            while len(lines) <= row:
                lines.append("")
        elif char >= " ":
            line = lines[row].ljust(col)
            lines[row] = line[:col] + char + line[col + 1 :]
            col += 1
        i += 1
    return [line.rstrip() for line in lines]
