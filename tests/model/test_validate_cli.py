"""``greenlane validate`` from the user's side: files in, one line per resource or problem out."""

from __future__ import annotations

import io
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
    assert line.startswith(f"{path}:1 {case.path}: ")
    assert case.value in line, line
    assert "Traceback" not in out


def test_multi_document_file_reports_each_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = broken_manifest(Broken("none", lambda d: None, "", "", True))
    bad = broken_manifest(BROKEN[0])
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all([good, None, bad]))
    code, out = run(["validate", "-f", str(path)], capsys)
    assert code == 1
    assert f"{path}:1 shop/checkout: valid" in out
    assert f"{path}:3 spec.steps[1].weight:" in out


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], samples: list[Path]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(samples[0].read_text()))
    code, out = run(["validate", "-f", "-"], capsys)
    assert code == 0
    assert out.startswith("<stdin>:1 ")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "contains no resources"),
        ("---\n---\n", "contains no resources"),
        ("spec: [1, 2\n", "not valid YAML at line 2"),
        ("- a\n- b\n", "(document): expected a mapping"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "kind: must be 'BlueGreenRollout'"),
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
