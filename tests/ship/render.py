"""Run real helm/kubectl and validate what they render against the Kubernetes schemas."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from tests.ship.k8s_tools import REPO, K8sTools

CHART = REPO / "charts" / "greenlane"
KUBE_VERSION = "1.35"
RELEASE, NAMESPACE = "greenlane", "greenlane-system"
Obj = dict[str, Any]
# Kinds kubernetes-validate has no schema for (CRD-defined); each gets its own structural test instead.
NOT_IN_SCHEMAS = {"ServiceMonitor", "PrometheusRule"}


def run(argv: list[str], cwd: Path = REPO) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, f"{' '.join(argv[:3])}… failed ({done.returncode}):\n{done.stderr}"
    return done.stdout


def set_args(values: Mapping[str, str]) -> list[str]:
    return [arg for key, value in values.items() for arg in ("--set", f"{key}={value}")]


def helm_template(tools: K8sTools, values: Mapping[str, str] | None = None, *, crds: bool = False) -> list[Obj]:
    argv = [
        str(tools.helm),
        "template",
        RELEASE,
        str(CHART),
        "--namespace",
        NAMESPACE,
        "--kube-version",
        KUBE_VERSION,
        *set_args(values or {}),
    ]
    return documents(run([*argv, "--include-crds"] if crds else argv))


def documents(text: str) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validate(objects: Iterable[Obj]) -> list[str]:
    """Problems found by strict schema validation (unknown fields are errors); [] when all valid."""
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if obj["kind"] not in NOT_IN_SCHEMAS:
                problems.append(f"{obj['kind']} {obj.get('apiVersion')}: no schema; wrong apiVersion or kind?")
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata'].get('name')}: {exc.message} at {list(exc.path)}")
    return problems


def of_kind(objects: Iterable[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: Iterable[Obj], kind: str, name: str | None = None) -> Obj:
    found = [o for o in of_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]
