"""``greenlane validate`` from the user's side: files in, one line per resource or problem out."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from controller.cli import main
from tests.model.broken import BROKEN, Broken, broken_manifest


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_every_sample_is_valid(samples: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["validate", *map(str, samples)], capsys)
    assert code == 0, out
    lines = out.strip().splitlines()
    assert len(lines) == len(samples)
    assert all(": valid (" in line for line in lines)


@pytest.mark.parametrize("case", BROKEN, ids=lambda c: c.name)
def test_broken_manifest_names_field_and_value(
    case: Broken, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / f"{case.name}.yaml"
    path.write_text(yaml.safe_dump(broken_manifest(case)))
    code, out = run(["validate", "-f", str(path)], capsys)
    assert code == 1
    line = next((x for x in out.splitlines() if f" {case.path}:" in x), None)
    assert line is not None, f"no problem names {case.path}:\n{out}"
    assert line.startswith(f"{path}:")
    number = int(line.removeprefix(f"{path}:").split(" ", 1)[0])
    assert line.startswith(f"{path}:{number} {case.path}: ")
    assert case.value in line, line
    assert "Traceback" not in out
    # the reported line is the field itself (or, for a missing one, the mapping that lacks it)
    field = re.findall(r"[A-Za-z]+", case.path)[-1]
    text = path.read_text().splitlines()[number - 1]
    parent = re.findall(r"[A-Za-z]+", case.path)[-2] if case.path.count(".") else field
    assert field in text or parent in text or text.lstrip().startswith("- "), (case.path, number, text)


def test_multi_document_file_reports_each_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = broken_manifest(Broken("none", lambda d: None, "", "", True))
    bad = broken_manifest(BROKEN[0])
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([good, None, bad]))
    code, out = run(["validate", "-f", str(path)], capsys)
    assert code == 1
    text = path.read_text().splitlines()
    assert f"{path}:1 shop/checkout: valid" in out
    weight_lines = [n for n, line in enumerate(text, start=1) if line.strip() == "weight: 150"]
    assert len(weight_lines) == 1 and weight_lines[0] > len(text) / 2, "in the third document"
    assert f"{path}:{weight_lines[0]} spec.steps[1].weight:" in out, out


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], samples: list[Path]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(samples[0].read_text()))
    code, out = run(["validate", "-f", "-"], capsys)
    assert code == 0
    first = next(n for n, line in enumerate(samples[0].read_text().splitlines(), 1) if not line.startswith("#"))
    assert out.startswith(f"<stdin>:{first} ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "contains no resources"),
        ("---\n---\n", "contains no resources"),
        ("spec: [1, 2\n", "not valid YAML at line 2"),
        ("- a\n- b\n", "(document): expected a mapping"),
        ("apiVersion: greenlane.dev/v1alpha1\nkind: BlueGreenRolout\nmetadata: {name: x}\n", "kind: must be"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("\x00\x01", "not valid YAML"),
    ],
    ids=["empty", "only-separators", "not-yaml", "list", "wrong-kind", "duplicate-key", "binary"],
)
def test_bad_input_is_one_line_not_a_traceback(
    content: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "input.yaml"
    path.write_text(content)
    code, out = run(["validate", str(path)], capsys)
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["validate", str(tmp_path / "missing.yaml")], capsys)
    assert code == 1
    assert "missing.yaml cannot read: No such file or directory" in out


def test_no_files_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(["validate"], capsys)
    assert code == 2
    assert "give at least one file" in out


def test_installed_console_scripts(samples: list[Path]) -> None:
    bindir = Path(sys.executable).parent
    for script in ("greenlane", "kubectl-greenlane"):
        result = subprocess.run(
            [str(bindir / script), "validate", str(samples[0])], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        assert ": valid (" in result.stdout


def test_other_kinds_are_noted_and_skipped_with_their_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rollout beside its Deployment and Service is a valid file, not a failure."""
    rollout = broken_manifest(Broken("none", lambda d: None, "", "", True))
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "checkout-py312"}, "spec": {}}
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout-green"}}
    path = tmp_path / "app.yaml"
    path.write_text(yaml.safe_dump_all([deployment, service, rollout]))
    code, out = run(["validate", str(path)], capsys)
    assert code == 0, out
    text = path.read_text().splitlines()
    service_line = text.index("kind: Service")  # 0-based index of "kind", the document starts a line earlier
    assert f"{path}:1 skipped Deployment checkout-py312 (not a BlueGreenRollout)" in out
    assert f"{path}:{service_line} skipped Service checkout-green (not a BlueGreenRollout)" in out
    assert "shop/checkout: valid" in out


def test_a_kubectl_list_is_read_item_by_item(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = broken_manifest(Broken("none", lambda d: None, "", "", True))
    bad = broken_manifest(BROKEN[0])
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [good, bad]}))
    code, out = run(["validate", str(path)], capsys)
    assert code == 1
    number = next(n for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip() == "weight: 150")
    assert f"{path}:{number} spec.steps[1].weight:" in out and "shop/checkout: valid" in out


def test_directories_and_recursion(tmp_path: Path, capsys: pytest.CaptureFixture[str], samples: list[Path]) -> None:
    (tmp_path / "team" / "nested").mkdir(parents=True)
    (tmp_path / "team" / "a.yaml").write_text(samples[0].read_text())
    (tmp_path / "team" / "notes.txt").write_text("not a manifest")
    (tmp_path / "team" / "nested" / "b.yml").write_text(samples[1].read_text())
    code, out = run(["validate", "-f", str(tmp_path / "team")], capsys)
    assert code == 0, out
    assert out.count(": valid (") == 1 and "nested" not in out
    code, out = run(["validate", "-R", "-f", str(tmp_path / "team")], capsys)
    assert code == 0, out
    assert out.count(": valid (") == 2 and "nested/b.yml:" in out
    (tmp_path / "empty").mkdir()
    code, out = run(["validate", str(tmp_path / "empty")], capsys)
    assert code == 1 and "holds no .yaml, .yml, .json files" in out
