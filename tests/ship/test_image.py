"""The container image: Dockerfile essentials (no Docker engine here) and the wheel it installs.

The image build itself needs a Docker engine; what can go wrong without one is checked here: the
base is pinned, the final stage has no build tools and runs as a numeric non-root user with the
right entrypoint, and the wheel the builder stage makes installs into a clean virtualenv and runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ship.k8s_tools import REPO

DOCKERFILE = REPO / "Dockerfile"
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|apk|gcc|g\+\+|make|build-essential|python3-dev|cc)\b")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def values(self, keyword: str) -> list[str]:
        return [arg for key, arg in self.instructions if key == keyword]


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with line continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in filter(None, (raw.strip() for raw in joined.splitlines())):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m[1], m[0]), parts[0])
            stages.append(Stage(base, parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
        elif keyword == "ARG" and "=" in rest:
            key, _, default = rest.partition("=")
            args[key.strip()] = default.strip()
    return args, stages


def test_dockerfile_essentials() -> None:
    _, stages = parse(DOCKERFILE.read_text())
    assert len(stages) >= 2, "multi-stage: build in one stage, run from a clean one"
    final = stages[-1]
    for stage in stages:
        assert re.fullmatch(r"python:3\.12\.\d+-slim(-\w+)?(@sha256:[0-9a-f]{64})?", stage.base), (
            f"base must be pinned to an exact python:3.12.x-slim release: {stage.base}"
        )
    assert "pip wheel" in " ".join(stages[0].values("RUN")), "the builder stage builds the wheel"
    (user,) = final.values("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "numeric non-root UID, so runAsNonRoot can verify it"
    assert final.values("ENTRYPOINT") == ['["greenlane", "run"]']
    assert not BUILD_TOOLS.search(" ".join(final.values("RUN"))), "no build tools in the final stage"
    copies = final.values("COPY")
    assert copies and all(c.startswith("--from=builder") for c in copies), "final stage copies only the venv"
    env = " ".join(final.values("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "read-only root filesystem: no .pyc writes"


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (REPO / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*", "deny everything by default"
    assert "!controller/" in lines and "!pyproject.toml" in lines
    assert not any(line.startswith("!") and (".venv" in line or ".git" in line or ".cache" in line) for line in lines)


@pytest.mark.slow
def test_wheel_builds_and_runs_from_a_clean_virtualenv(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(installed / "greenlane"), "--help"], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "usage: greenlane" in done.stdout
    names = subprocess.run(
        [str(installed / "python"), "-c", "import controller, sys; print(controller.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(installed.parent) in names, "imported from the installed wheel, not the checkout"


@pytest.mark.e2e
@pytest.mark.servers
@pytest.mark.slow
def test_an_installed_greenlane_runs_the_memory_leak_demo_to_a_rollback(installed: Path, tmp_path: Path) -> None:
    """What a user gets from ``pip install .``: the demo needs files that must ship inside the package."""
    out = tmp_path / "demo.json"
    env = {k: v for k, v in os.environ.items() if k != "GREENLANE_EXPORTER_QUERIES"}
    done = subprocess.run(
        [str(installed / "greenlane"), "demo", "--scenario", "memory-leak", "--json", str(out), "--report", ""],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,  # nowhere near the checkout
        env=env,
        check=False,
    )
    assert out.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["outcome"] == "rolled_back", result["reason"]
    assert result["failed_check"] == "memory"
