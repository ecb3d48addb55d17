"""``greenlane list``: one row per rollout, kubectl-style (NAMESPACE only with ``-A``, more with ``-o wide``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.table import Table
from rich.text import Text

from controller.cli.view import PHASE_STYLE, VERDICT_STYLE, age, parse_time

Json = dict[str, Any]


def row(obj: Json, now: datetime, *, namespaces: bool, wide: bool) -> list[Text | str]:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    steps = (obj.get("spec") or {}).get("steps") or []
    number = int(status.get("stepNumber") or int(status.get("currentStep", 0)) + 1)
    phase = str(status.get("phase") or "Pending")
    cells: list[Text | str] = [str(meta.get("namespace", ""))] if namespaces else []
    cells += [
        str(meta.get("name", "")),
        Text(phase, style=PHASE_STYLE.get(phase, "")),
        f"{min(number, len(steps)) if steps else number}/{len(steps)}",
        f"{status.get('weight', 0)}%",
        age(parse_time(meta.get("creationTimestamp")), now),
    ]
    if wide:
        checks = Text()
        for check in status.get("checks") or []:
            verdict = str(check.get("verdict", ""))
            checks.append(f"{check.get('name')}={verdict} ", style=VERDICT_STYLE.get(verdict, ""))
        checks.rstrip()
        cells += [checks if checks.plain else "-", str(status.get("message") or "")]
    return cells


def rollout_table(items: list[Json], now: datetime, *, namespaces: bool, wide: bool) -> Table:
    table = Table(box=None, padding=(0, 3, 0, 0), show_edge=False, header_style="bold")
    columns = ["NAMESPACE"] if namespaces else []
    columns += ["NAME", "PHASE", "STEP", "GREEN", "AGE"] + (["CHECKS", "MESSAGE"] if wide else [])
    for column in columns:
        table.add_column(column, no_wrap=column != "MESSAGE")
    for obj in items:
        table.add_row(*row(obj, now, namespaces=namespaces, wide=wide))
    return table
