"""Writing a built report: the HTML file, PNGs of every chart, the JSON and the Markdown summary."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from controller.report import charts
from controller.report.html import render_html
from controller.report.model import Report
from controller.report.summary import markdown


def _atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same directory, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_html(report: Report, path: Path) -> Path:
    _atomic(path, render_html(report).encode("utf-8"))
    return path


def write_pngs(report: Report, directory: Path) -> list[Path]:
    """``weights.png`` and one ``check-<name>.png`` per check."""
    written = [directory / "weights.png"]
    _atomic(written[0], charts.png(charts.weight_figure(report.run)))
    for chart in report.charts:
        path = directory / f"check-{chart.name}.png"
        _atomic(path, charts.png(charts.check_figure(chart, report.run)))
        written.append(path)
    return written


def write_json(report: Report, path: Path) -> Path:
    _atomic(path, (json.dumps(report.to_json(), indent=2, allow_nan=False, default=str) + "\n").encode())
    return path


def write_markdown(report: Report, path: Path) -> Path:
    _atomic(path, markdown(report).encode("utf-8"))
    return path
