"""The on-call CLI from the user's side: real processes against the strict emulator (or a dead port)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.helpers import (
    BGR,
    cli_env,
    greenlane,
    plugin_executable,
    progressing,
    rollout,
    with_status,
    write_kubeconfig,
)
from tests.kube.harness import RunningEmulator


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "command", [["get", "checkout"], ["list"], ["promote", "checkout"], ["status", "checkout", "--timeout", "5s"]]
)
def test_unreachable_api_server_is_one_line_naming_server_and_cause(tmp_path: Path, command: list[str]) -> None:
    server = f"https://127.0.0.1:{closed_port()}"
    kubeconfig = write_kubeconfig(None, tmp_path, server=server)
    done = greenlane(["--kubeconfig", str(kubeconfig), *command], timeout=30)
    assert done.returncode == 3, done
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert server in lines[0] and "connection refused" in lines[0]
    assert "Traceback" not in done.stderr and "urllib3" not in done.stderr


def test_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    done = greenlane(["list", "--kubeconfig", str(tmp_path / "nope")])
    assert done.returncode == 3
    assert len(done.stderr.strip().splitlines()) == 1 and "cannot load kubeconfig" in done.stderr


def test_global_flags_before_or_after_the_command(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(namespace="payments"), **progressing()))
    kubeconfig = str(write_kubeconfig(kube, tmp_path))
    before = greenlane(["--kubeconfig", kubeconfig, "-n", "payments", "get", "checkout", "-o", "name"])
    after = greenlane(["get", "checkout", "-o", "name", "--kubeconfig", kubeconfig, "--namespace", "payments"])
    mixed = greenlane(["-n", "payments", "get", "checkout", "--kubeconfig", kubeconfig, "-o", "name"])
    for done in (before, after, mixed):
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "bluegreenrollout.greenlane.dev/checkout"
    assert greenlane(["--context", "emu", "--kubeconfig", kubeconfig, "-n", "payments", "list"]).returncode == 0


def test_output_formats_and_selectors(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout("checkout", labels={"team": "shop"}), **progressing()))
    kube.seed(with_status(rollout("search", labels={"team": "search"}), **progressing(step=0, weight=5)))
    kube.seed(with_status(rollout("billing", namespace="payments", labels={"team": "pay"}), phase="Promoted"))
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]

    obj = json.loads(greenlane([*kc, "get", "checkout", "-o", "json"]).stdout)
    assert obj["metadata"]["name"] == "checkout" and obj["status"]["weight"] == 25
    assert yaml.safe_load(greenlane([*kc, "get", "checkout", "-o", "yaml"]).stdout)["kind"] == "BlueGreenRollout"

    listed = greenlane([*kc, "list", "-l", "team=shop", "-o", "name"])
    assert listed.stdout.split() == ["bluegreenrollout.greenlane.dev/checkout"]
    as_list = json.loads(greenlane([*kc, "list", "-o", "json", "-l", "team in (shop,search)"]).stdout)
    assert as_list["kind"] == "List" and {i["metadata"]["name"] for i in as_list["items"]} == {"checkout", "search"}

    table = greenlane([*kc, "list"]).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "STEP", "GREEN", "AGE"]
    assert table[1].split()[:4] == ["checkout", "Progressing", "2/4", "25%"]
    everywhere = greenlane([*kc, "list", "-A", "-o", "wide"]).stdout.splitlines()
    assert everywhere[0].split()[:6] == ["NAMESPACE", "NAME", "PHASE", "STEP", "GREEN", "AGE"]
    assert "CHECKS" in everywhere[0] and "MESSAGE" in everywhere[0]
    assert any(line.split()[:3] == ["payments", "billing", "Promoted"] for line in everywhere)
    assert any("memory=Pass" in line and "At step 2/4 (25%)" in line for line in everywhere)
    assert "\x1b[" not in "".join(everywhere), "no colour codes into a pipe"
    # `get` without a name lists, as kubectl does
    assert greenlane([*kc, "get", "-A", "-o", "name"]).stdout.split() == [
        "bluegreenrollout.greenlane.dev/checkout",
        "bluegreenrollout.greenlane.dev/search",
        "bluegreenrollout.greenlane.dev/billing",
    ]


def test_get_shows_units_and_one_based_steps(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), **progressing()))
    done = greenlane(["--kubeconfig", str(write_kubeconfig(kube, tmp_path)), "get", "checkout"])
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "e+07" not in out and "e+0" not in out
    assert "68.0 MiB" in out and "38.1 MiB" in out, out
    assert "+1.7 MiB/h" in out, "slopes per hour"
    assert "2/4" in out and "target 25%" in out
    assert "green 25% / blue 75%" in out


def test_version_completion_and_plugin_name() -> None:
    version = greenlane(["version", "-o", "json"])
    assert json.loads(version.stdout)["greenlane"]
    for shell, marker in (("bash", "complete "), ("zsh", "compdef"), ("fish", "complete ")):
        script = greenlane(["completion", shell]).stdout
        assert marker in script and "kubectl-greenlane" in script, shell
    plugin = subprocess.run(
        [str(plugin_executable()), "--help"], capture_output=True, text=True, check=False, env=cli_env()
    )
    assert plugin.stdout.startswith("usage: kubectl greenlane"), plugin.stdout[:80]
    assert greenlane(["--help"]).stdout.startswith("usage: greenlane")


def test_completion_of_rollout_names(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(rollout("checkout"))
    kube.seed(rollout("catalog"))
    kube.seed(rollout("search"))
    line = f"greenlane get --kubeconfig {write_kubeconfig(kube, tmp_path)} c"
    answer = tmp_path / "completions"
    env = cli_env(
        _ARGCOMPLETE="1",
        _ARGCOMPLETE_IFS="\n",
        _ARGCOMPLETE_SHELL="bash",
        _ARGCOMPLETE_STDOUT_FILENAME=str(answer),
        COMP_LINE=line,
        COMP_POINT=str(len(line)),
    )
    subprocess.run([sys.executable, "-m", "controller"], env=env, check=False, timeout=60, capture_output=True)
    assert set(answer.read_text().split()) == {"checkout", "catalog"}


def test_status_exit_codes(kube: RunningEmulator, tmp_path: Path) -> None:
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]
    message = "Rolled back at 25%: memory slope +1.8 GiB/h vs blue +0 B/h; limit +50.0 MiB/h over blue (2/2 failures)"
    cases = {
        "good": ({"phase": "Promoted", "message": "Promoted at 100%"}, 0, "promoted"),
        "bad": ({"phase": "RolledBack", "message": message}, 1, message),
        "stopped": ({"phase": "Aborted", "message": "Aborted by alice"}, 1, "aborted"),
        "broken": ({"phase": "Invalid", "message": "spec.steps[1].weight: ..."}, 1, "invalid"),
    }
    for name, (status, _, _) in cases.items():
        kube.seed(with_status(rollout(name), **status))
    for name, (_, code, reason) in cases.items():
        done = greenlane([*kc, "status", name, "--timeout", "30s"])
        assert done.returncode == code, (name, done)
        assert len(done.stdout.strip().splitlines()) == 1 and reason in done.stdout, done.stdout
    kube.seed(with_status(rollout("slow"), **progressing()))
    done = greenlane([*kc, "status", "slow", "--timeout", "1s", "--interval", "0.2"])
    assert done.returncode == 2, done
    assert done.stdout.startswith("timed out after 1s: shop/slow Progressing step 2/4 green 25%")
    assert greenlane([*kc, "status", "nope", "--timeout", "1s"]).returncode == 1
    assert greenlane([*kc, "status", "slow", "--timeout", "soon"]).returncode == 2


def test_status_waits_for_the_operator_to_see_the_latest_spec(kube: RunningEmulator, tmp_path: Path) -> None:
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]
    doc = with_status(rollout(), phase="Promoted", observedGeneration=1)
    stored = kube.seed(doc)
    edited = {**stored, "spec": {**stored["spec"], "steps": [{"weight": 100, "pause": "1m"}]}}
    stored = kube.seed(edited)
    assert stored["metadata"]["generation"] == 2
    done = greenlane([*kc, "status", "checkout", "--timeout", "1s", "--interval", "0.2"])
    assert done.returncode == 2, "a Promoted status of generation 1 says nothing about generation 2"
    assert kube.get(*BGR, "shop", "checkout") is not None
