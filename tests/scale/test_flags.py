"""The fleet-scale flags of ``greenlane run``: bad values are refused, naming the flag, before connecting."""

from __future__ import annotations

import pytest

from controller.cli import main


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--shards", "0"], "--shards must be 1..64 (got 0)"),
        (["--shards", "65"], "--shards must be 1..64"),
        (["--api-qps", "0"], "--api-qps must be > 0"),
        (["--api-burst", "0"], "--api-burst >= 1"),
        (["--renew-deadline", "20s"], "--retry-period < --renew-deadline < --lease-duration"),
        (["--prometheus-concurrency", "0"], "--prometheus-concurrency >= 1"),
    ],
)
def test_run_refuses_bad_scale_flags(flags: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--kubeconfig", "/nonexistent/kubeconfig", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and "kubeconfig" not in err, "refused before trying to connect"


def test_durations_must_be_durations(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--resync", "soon"])
    assert "--resync" in capsys.readouterr().err
