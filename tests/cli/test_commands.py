"""Control commands: the authenticated user, one command at a time, and no command lost to a race."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from controller.cli.cluster import Cluster, ClusterError, CommandWriter, command_patch
from controller.kube.rollouts import COMMAND_ANNOTATION, CommandRequest
from tests.cli.helpers import BGR, USER, greenlane, progressing, rollout, wait_for, with_status, write_kubeconfig
from tests.kube.harness import RunningEmulator

PATH = "/apis/greenlane.dev/v1alpha1/namespaces/shop/bluegreenrollouts/checkout"
Json = dict[str, Any]


def annotation(kube: RunningEmulator) -> Json:
    obj = kube.get(*BGR, "shop", "checkout") or {}
    raw = (obj.get("metadata", {}).get("annotations") or {})[COMMAND_ANNOTATION]
    data: Json = json.loads(raw)
    assert raw == json.dumps(data, separators=(",", ":")), "compact JSON"
    assert list(data) == ["id", "command", "user", "at"], "keys in contract order"
    return data


def applied(kube: RunningEmulator, command_id: str, **status: Any) -> None:
    """What the operator does with a command: record its id in status.lastCommand."""
    obj = kube.get(*BGR, "shop", "checkout")
    assert obj is not None
    kube.seed({**obj, "status": {**(obj.get("status") or {}), "lastCommand": command_id, **status}})


def test_command_records_the_user_the_api_server_authenticated(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), **progressing()))
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]
    done = greenlane([*kc, "promote", "checkout"])
    assert done.returncode == 0, done.stderr
    data = annotation(kube)
    assert data["command"] == "promote" and data["user"] == USER, "never the kubeconfig entry's name"
    assert data["at"].endswith("Z") and len(data["id"]) == 12
    assert f"promote requested for shop/checkout by {USER} (command id {data['id']})" in done.stdout
    patch = next(r for r in kube.requests(writes_only=True) if r.path == PATH)
    assert patch.content_type == "application/json-patch+json"
    assert patch.body[0]["op"] == "test", "guarded by a test of the annotation"


def test_promote_full_writes_promote_full(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), **progressing()))
    done = greenlane(["promote", "checkout", "--full", "--kubeconfig", str(write_kubeconfig(kube, tmp_path))])
    assert done.returncode == 0, done.stderr
    assert annotation(kube)["command"] == "promote-full"


def test_without_self_subject_review_the_user_is_unknown_and_said_so(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.emulator.serves_self_subject_review = False
    kube.seed(with_status(rollout(), **progressing()))
    done = greenlane(["pause", "checkout", "--kubeconfig", str(write_kubeconfig(kube, tmp_path))])
    assert done.returncode == 0, done.stderr
    assert "SelfSubjectReview" in done.stderr and "1.28" in done.stderr and "audit log" in done.stderr
    assert annotation(kube)["user"] == "unknown"


def test_a_pending_command_blocks_the_next_one_with_a_clear_message(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), **progressing()))
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]
    assert greenlane([*kc, "pause", "checkout"]).returncode == 0
    first = annotation(kube)
    done = greenlane([*kc, "abort", "checkout", "--pending-timeout", "1"])
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert f"pause ({first['id']}) by {USER}" in line and "still waiting for the operator" in line, line
    assert annotation(kube)["id"] == first["id"], "the pending command was not overwritten"
    applied(kube, first["id"])
    assert greenlane([*kc, "abort", "checkout", "--pending-timeout", "1"]).returncode == 0
    assert annotation(kube)["command"] == "abort"


def test_waits_for_the_previous_command_then_writes(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), **progressing()))
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]
    assert greenlane([*kc, "pause", "checkout"]).returncode == 0
    first = annotation(kube)["id"]
    seen = len(kube.requests())

    def operator() -> None:  # applies the pending command once the CLI is waiting on it
        wait_for(lambda: len(kube.requests()) >= seen + 4, "the CLI to wait")
        applied(kube, first, phase="Paused")

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    done = greenlane([*kc, "resume", "checkout", "--pending-timeout", "60"])
    thread.join(10)
    assert done.returncode == 0, done.stderr
    assert annotation(kube)["command"] == "resume"


def test_a_concurrent_writer_is_never_overwritten(kube: RunningEmulator, api_client: Any) -> None:
    """Another command lands between our read and our patch: the guard fails, we see it pending, nothing lost."""
    kube.seed(with_status(rollout(), **progressing()))
    theirs = CommandRequest("bbbbbbbbbbbb", "abort", "bob", "2026-01-01T12:00:00Z")

    def concurrent(obj: Json) -> Json:
        obj["metadata"].setdefault("annotations", {})[COMMAND_ANNOTATION] = theirs.to_annotation()
        return obj

    kube.faults.edit_before("PATCH", PATH, concurrent)
    ticks = iter(range(1000))
    writer = CommandWriter(
        Cluster(api_client, kube.url, "shop"), pending_timeout=3, sleep=lambda _: None, monotonic=lambda: next(ticks)
    )
    with pytest.raises(ClusterError, match=r"promote not sent: abort \(bbbbbbbbbbbb\) by bob .* still waiting"):
        writer.send("shop", "checkout", "promote", "alice")
    assert annotation(kube)["id"] == theirs.id
    codes = [r.status for r in kube.requests(writes_only=True) if r.path == PATH]
    assert codes == [422], "our guarded patch was refused, not applied over theirs"


def test_two_people_at_once_both_commands_land_one_after_the_other(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), **progressing()))
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]
    stop = threading.Event()
    ids: list[str] = []

    def operator() -> None:
        while not stop.is_set():
            obj = kube.get(*BGR, "shop", "checkout") or {}
            raw = (obj.get("metadata", {}).get("annotations") or {}).get(COMMAND_ANNOTATION)
            if raw:
                command_id = json.loads(raw)["id"]
                if (obj.get("status") or {}).get("lastCommand") != command_id:
                    ids.append(command_id)
                    applied(kube, command_id)
            stop.wait(0.2)

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    results: dict[str, Any] = {}
    people = [
        threading.Thread(target=lambda v=verb: results.update({v: greenlane([*kc, v, "checkout"])}))
        for verb in ("pause", "resume")
    ]
    for person in people:
        person.start()
    for person in people:
        person.join(120)
    wait_for(lambda: len(ids) >= 2, "the operator to apply both commands")
    stop.set()
    thread.join(10)
    assert all(r.returncode == 0 for r in results.values()), results
    written = [
        json.loads(v["metadata"]["annotations"][COMMAND_ANNOTATION])["command"]
        for v in kube.history(*BGR, "shop", "checkout")
        if v and COMMAND_ANNOTATION in (v["metadata"].get("annotations") or {})
    ]
    assert {"pause", "resume"} <= set(written)


def test_wait_reports_a_command_the_operator_ignored(kube: RunningEmulator, tmp_path: Path) -> None:
    kube.seed(with_status(rollout(), phase="Promoted"))
    kc = ["--kubeconfig", str(write_kubeconfig(kube, tmp_path))]

    def operator() -> None:
        wait_for(
            lambda: (
                COMMAND_ANNOTATION in ((kube.get(*BGR, "shop", "checkout") or {})["metadata"].get("annotations") or {})
            ),
            "the command",
        )
        command_id = annotation(kube)["id"]
        kube.seed(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": "checkout.1", "namespace": "shop"},
                "involvedObject": {"kind": "BlueGreenRollout", "name": "checkout", "namespace": "shop"},
                "type": "Warning",
                "reason": "CommandIgnored",
                "message": f"pause by {USER} ({command_id}) ignored in phase Promoted: nothing to pause",
                "lastTimestamp": "2026-01-01T12:00:00Z",
            }
        )
        applied(kube, command_id)

    thread = threading.Thread(target=operator, daemon=True)
    thread.start()
    done = greenlane([*kc, "pause", "checkout", "--wait", "30"])
    thread.join(10)
    assert done.returncode == 1
    assert "ignored in phase Promoted" in done.stderr


def test_patch_guards_absence_and_value() -> None:
    request = CommandRequest("a" * 12, "promote", "alice", "2026-01-01T12:00:00Z")
    bare = command_patch({"metadata": {"name": "x"}}, request)
    assert bare[0] == {"op": "test", "path": "/metadata/annotations", "value": None}
    absent = command_patch({"metadata": {"annotations": {"other": "1"}}}, request)
    assert absent[0] == {"op": "test", "path": "/metadata/annotations/greenlane.dev~1command", "value": None}
    held = command_patch({"metadata": {"annotations": {COMMAND_ANNOTATION: "old"}}}, request)
    assert held[0]["value"] == "old" and held[1]["value"] == request.to_annotation()
